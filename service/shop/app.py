"""The composition root: the only place that builds and wires resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from aiohttp import web

from .adapters.mysql.pool import Database
from .adapters.mysql.store import MySqlStore
from .api.middleware import access_log, problems
from .api.openapi import build_document
from .api.routes import ROUTES, add_routes
from .incidents.switches import Switches
from .keys import DATABASE, DEPS, OPENAPI, REDIS, SETTINGS, SWITCHES
from .locks.local import LocalLockManager
from .settings import Settings
from .telemetry.logging import configure_logging
from .use_cases.deps import Deps
from .use_cases.ports import Clock, LockManager


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Overrides:
    """What tests swap in instead of monkeypatching."""

    clock: Clock | None = None
    locks: LockManager | None = None


def create_app(settings: Settings, overrides: Overrides | None = None) -> web.Application:
    """Build the application; resources open on startup, in this order, and close in reverse."""
    overrides = overrides or Overrides()
    configure_logging(settings.log_level)
    app = web.Application(
        middlewares=[access_log, problems], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app[SWITCHES] = Switches()
    app[OPENAPI] = build_document(ROUTES)
    add_routes(app)

    async def database(app: web.Application) -> AsyncIterator[None]:
        app[DATABASE] = await Database.connect(
            settings.db_url,
            maxsize=settings.db_pool_max,
            acquire_timeout=settings.db_acquire_timeout,
        )
        yield
        await app[DATABASE].close()

    async def redis(app: web.Application) -> AsyncIterator[None]:
        if settings.redis_url is None:
            yield
            return
        client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=2.0)
        app[REDIS] = client
        yield
        await client.aclose()

    async def use_cases(app: web.Application) -> AsyncIterator[None]:
        app[DEPS] = Deps(
            store=MySqlStore(app[DATABASE]),
            locks=overrides.locks or LocalLockManager(),
            clock=overrides.clock or utc_now,
            lock_wait=settings.lock_wait,
            lock_lease=settings.lock_lease,
            order_lock_scope=app[SWITCHES].get_order_lock_scope,
        )
        yield

    app.cleanup_ctx.extend([database, redis, use_cases])
    return app
