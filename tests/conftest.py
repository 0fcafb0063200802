"""Shared fixtures: a migrated test database and an app wired to it (real MariaDB, no mocks)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from shop.adapters.mysql.migrations import migrate
from shop.adapters.mysql.pool import Database
from shop.app import Overrides, create_app
from shop.settings import Settings

from .factories import Factory

TEST_DB_URL = os.environ.get("SHOP_TEST_DB_URL", "mysql://root:@127.0.0.1:3306/shop_test")
ADMIN_TOKEN = "test-admin-token"

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture(scope="session", autouse=True)
def _schema() -> None:
    """Migrate the test database once; tests use unique ids instead of truncating tables."""
    asyncio.run(migrate(TEST_DB_URL))


@pytest.fixture
def settings() -> Settings:
    return Settings(
        db_url=TEST_DB_URL,
        env="test",
        admin_token=ADMIN_TOKEN,
        db_pool_max=20,
        lock_wait=5.0,
        log_level="WARNING",
    )


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    db = await Database.connect(TEST_DB_URL, maxsize=5)
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
