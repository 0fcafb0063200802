"""`python -m loadtest services` (make services): MariaDB and Redis answering on 127.0.0.1,
started (or, as root with apt, installed) when they are not. Idempotent; `make run`,
`make test` and CI stand on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pymysql
import redis

from loadtest.harness.system import install
from loadtest.harness.waiting import wait_until

DB_HOST = os.environ.get("SHOP_DB_HOST", "127.0.0.1")
REDIS_HOST = os.environ.get("SHOP_REDIS_HOST", "127.0.0.1")
# Three replicas with their pools plus the tests need more than the default 151 connections.
MIN_CONNECTIONS = int(os.environ.get("SHOP_DB_MIN_MAX_CONNECTIONS", "1000"))
MARIADBD = "/usr/sbin/mariadbd"


def _say(message: str) -> None:
    print(f"services: {message}", file=sys.stderr, flush=True)


def _mariadb() -> pymysql.Connection | None:
    try:
        return pymysql.connect(host=DB_HOST, user="root", password="", connect_timeout=2)
    except pymysql.err.MySQLError:
        return None


def _redis_up() -> bool:
    try:
        return bool(redis.Redis(host=REDIS_HOST, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def ensure_mariadb() -> None:
    conn = _mariadb()
    if conn is None:
        if shutil.which("mariadbd") is None and not Path(MARIADBD).exists():
            install("mariadb-server", "mariadb-client", what="services")
        _say("starting MariaDB")
        Path("/run/mysqld").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/mysqld", "mysql", "mysql")
        subprocess.run(
            ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", MARIADBD],
            check=True,
        )
        wait_until(lambda: _mariadb() is not None, within=30, what="MariaDB", poll=0.5)
        conn = _mariadb()
    assert conn is not None
    with conn, conn.cursor() as cur:
        cur.execute("SELECT @@max_connections")
        (current,) = cur.fetchone() or (0,)
        if int(current) < MIN_CONNECTIONS:
            try:
                cur.execute(f"SET GLOBAL max_connections = {MIN_CONNECTIONS}")
            except pymysql.err.MySQLError:
                _say(f"could not raise max_connections (is {current})")


def ensure_redis() -> None:
    if _redis_up():
        return
    if shutil.which("redis-server") is None:
        install("redis-server", what="services")
    _say("starting Redis")
    for folder in ("/var/lib/redis", "/var/log/redis"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
            "--port", "6379", "--save", "", "--appendonly", "no",
            "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
        ],
        check=True,
    )  # fmt: skip
    wait_until(_redis_up, within=30, what="Redis", poll=0.5)


def main(argv: Sequence[str] | None = None) -> int:
    ensure_mariadb()
    ensure_redis()
    _say("MariaDB and Redis are up")
    return 0
