"""Several real shop processes on their own ports, sharing this run's database and Redis prefix.

Each process writes its log to a file of its own, kept for the reader. When the fleet stops,
every process must have exited with 0 and no log may hold an `unhandled_error` line or a
request answered with a 5xx the test did not declare (`allowed_5xx`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..conftest import ADMIN_TOKEN, REDIS_URL
from ..faults.servers import die_with_parent

# The process behind each running replica's URL, for tests that kill one (with SIGKILL, which
# the exit-code check expects).
RUNNING: dict[str, subprocess.Popen[bytes]] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def problems(replica: Replica, allowed_5xx: frozenset[str]) -> list[str]:
    """What the replica's exit code and log say went wrong (empty when nothing did)."""
    found = []
    if replica.process.returncode not in (0, -signal.SIGKILL):
        found.append(f"{replica.url} exited with {replica.process.returncode}")
    for line in replica.log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if line.strip():
                found.append(f"{replica.url} wrote a line that is not JSON: {line}")
            continue
        event = entry.get("event")
        if event == "unhandled_error":
            found.append(f"{replica.url}: {line}")
        elif (
            event == "request"
            and int(entry.get("status", 0)) >= 500
            and entry.get("route") not in allowed_5xx
        ):
            found.append(f"{replica.url} answered {entry['status']}: {line}")
    return found


@contextmanager
def replicas(
    count: int,
    *,
    db_url: str,
    redis_prefix: str,
    log_dir: Path,
    allowed_5xx: frozenset[str] = frozenset(),
    **env: str,
) -> Iterator[list[str]]:
    """Start `count` shop processes; yields their base URLs, then stops and checks them."""
    started: list[Replica] = []
    try:
        for n in range(count):
            port = _free_port()
            log = log_dir / f"replica-{n}-{port}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "shop", "serve"],
                    env={
                        **os.environ,
                        "SHOP_DB_URL": db_url,
                        "SHOP_REDIS_URL": REDIS_URL,
                        "SHOP_REDIS_PREFIX": redis_prefix,
                        "SHOP_HOST": "127.0.0.1",
                        "SHOP_PORT": str(port),
                        "SHOP_ADMIN_TOKEN": ADMIN_TOKEN,
                        # INFO: one line per request, which is how unexpected 5xx are found.
                        "SHOP_LOG_LEVEL": "INFO",
                        "SHOP_DB_POOL_MAX": "20",
                        **env,
                    },
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent,
                )
            started.append(Replica(f"http://127.0.0.1:{port}", process, log))
            RUNNING[started[-1].url] = process
        for replica in started:
            _wait_ready(replica)
        yield [r.url for r in started]
    finally:
        for replica in started:
            RUNNING.pop(replica.url, None)
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGINT)
        for replica in started:
            try:
                replica.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait()
    found = [p for replica in started for p in problems(replica, allowed_5xx)]
    assert not found, "\n".join(found)


def _wait_ready(replica: Replica) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(
                f"replica {replica.url} exited with {replica.process.returncode};"
                f" its log: {replica.log}"
            )
        try:
            with urllib.request.urlopen(f"{replica.url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"replica {replica.url} did not become ready; its log: {replica.log}")
