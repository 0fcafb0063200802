"""Shared fixtures: a database and a Redis namespace of this run's own (real MariaDB and Redis).

Nothing here touches a service until a test asks for it, so `tests/unit` runs with neither.
Each run creates a fresh database from the migrations, named after SHOP_TEST_DB_URL's with a
per-run suffix, and drops it at the end; its Redis keys live under a per-run prefix (never the
production `shop:`), get an expiry as the tests go and are deleted at the end. Leftovers of a
run that was killed are swept by the next run of the same base.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pymysql
import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient

from shop.adapters.mysql.migrations import migrate
from shop.adapters.mysql.pool import Database, parse_db_url
from shop.app import Overrides, create_app
from shop.settings import Settings

from .factories import Factory

BASE_DB_URL = os.environ.get("SHOP_TEST_DB_URL", "mysql://root:@127.0.0.1:3306/shop_test")
REDIS_URL = os.environ.get("SHOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_TOKEN = "test-admin-token"
# The pid names the run, so the next run can tell a finished or killed one from a live one.
RUN = f"run{os.getpid()}"
_BASE = parse_db_url(BASE_DB_URL)
TEST_DB_URL = f"{BASE_DB_URL.rsplit('/', 1)[0]}/{_BASE.database}_{RUN}"
REDIS_PREFIX = f"test:{_BASE.database}:{RUN}:"
# Keys a run writes expire this long after the test that wrote them, whatever happens next.
REDIS_KEY_TTL = 3600

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


def _alive(run: str) -> bool:
    """`run<pid>`, or a database derived from it (`run<pid>_<suffix>`), of a live process."""
    pid = run.removeprefix("run").split("_", 1)[0]
    return pid.isdigit() and os.path.exists(f"/proc/{pid}")


def _admin_connection() -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(
        host=_BASE.host, port=_BASE.port, user=_BASE.user, password=_BASE.password
    )


def _drop_databases(names: list[str]) -> None:
    conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def _stale_databases() -> list[str]:
    """Databases of this base whose run is over (only this base's own `_run<pid>` ones)."""
    conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            pattern = _BASE.database.replace("_", "\\_") + "\\_run%"
            cur.execute("SHOW DATABASES LIKE %s", (pattern,))
            names = [row[0] for row in cur.fetchall()]
    finally:
        conn.close()
    prefix = f"{_BASE.database}_"
    return [n for n in names if not _alive(n.removeprefix(prefix))]


@pytest.fixture(scope="session")
def test_database() -> Iterator[str]:
    """This run's database, created from the migrations and dropped at the end."""
    _drop_databases(_stale_databases())
    asyncio.run(migrate(TEST_DB_URL))
    yield TEST_DB_URL
    _drop_databases([parse_db_url(TEST_DB_URL).database])


def _keys(client: redis.Redis, pattern: str) -> list[bytes]:
    return list(client.scan_iter(match=pattern, count=1000))


@pytest.fixture(scope="session")
def redis_session() -> Iterator[str]:
    """This run's key prefix; deleted at the end with what killed runs of this base left."""
    client = redis.Redis.from_url(REDIS_URL)
    base = f"test:{_BASE.database}:"
    try:
        stale = [
            k
            for k in _keys(client, f"{base}run*")
            if not _alive(k.decode()[len(base) :].split(":")[0])
        ]
        if stale:
            client.delete(*stale)
        yield REDIS_PREFIX
        mine = _keys(client, f"{REDIS_PREFIX}*")
        if mine:
            client.delete(*mine)
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_session: str) -> Iterator[str]:
    """The run's prefix; every key the test left gets an expiry when it ends."""
    yield redis_session
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in _keys(client, f"{redis_session}*"):
            client.expire(key, REDIS_KEY_TTL, nx=True)
    finally:
        client.close()


@pytest.fixture
def settings(test_database: str, redis_prefix: str) -> Settings:
    return Settings(
        db_url=test_database,
        redis_prefix=redis_prefix,
        env="test",
        admin_token=ADMIN_TOKEN,
        db_pool_max=20,
        lock_wait=5.0,
        log_level="WARNING",
    )


@pytest.fixture
async def database(test_database: str) -> AsyncIterator[Database]:
    db = await Database.connect(test_database, maxsize=5)
    yield db
    await db.close()


@pytest.fixture
def factory(database: Database) -> Factory:
    return Factory(database)


@pytest.fixture
def overrides() -> Overrides:
    return Overrides()


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, settings: Settings, overrides: Overrides
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(create_app(settings, overrides))


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
