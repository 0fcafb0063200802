"""The composition root: the only place that builds and wires resources.

`create_app` is the list; `Root` holds one cleanup context per resource, each opening it with
what its owning module provides (`open_database`, `open_redis`, the lock managers, ...), and
keeps the adapters to itself: the app's keys hold ports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from opentelemetry.sdk.trace.export import SpanExporter
from redis.asyncio import Redis

from .adapters.mysql.pool import POOL_CEILING, Database, open_database
from .adapters.mysql.seed import MySqlDataSet
from .adapters.mysql.store import MySqlStore
from .adapters.redis.coupon_gate import RedisCouponGate
from .adapters.redis.locks import RedisLockManager
from .adapters.redis.pool import RedisProbe, open_redis
from .adapters.redis.switch_values import RedisSwitchValues
from .api.middleware import problems, telemetry
from .api.openapi import build_document
from .api.routes import ROUTES, add_routes
from .background import running
from .incidents.catalogue import Targets, register_switches
from .incidents.switches import Changed, Switches
from .keys import ACCESS_LOG, DATABASE, DEPS, OPENAPI, REDIS, SETTINGS, SWITCHES, TELEMETRY
from .locks.local import LocalLockManager
from .settings import Settings
from .telemetry import Telemetry
from .telemetry.locks import InstrumentedLocks, LockMetricsObserver
from .telemetry.logging import configure_logging, flush_periodically, get_logger
from .telemetry.loop_lag import measure_loop_lag
from .telemetry.metrics import Metrics
from .telemetry.tracing import build_tracer_provider, tracer_from
from .use_cases.deps import Deps
from .use_cases.ports import Clock, CouponGate, LockManager, NoGate

log = get_logger("shop.app")


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Overrides:
    """What tests swap in instead of monkeypatching."""

    clock: Clock | None = None
    locks: LockManager | None = None
    span_exporter: SpanExporter | None = None


def create_app(settings: Settings, overrides: Overrides | None = None) -> web.Application:
    """Build the application; resources open on startup in list order and close in reverse."""
    root = Root(settings, overrides or Overrides())
    app = web.Application(
        middlewares=[telemetry, problems], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app[TELEMETRY] = root.telemetry
    app[ACCESS_LOG] = get_logger("shop.http").bind()
    app[SWITCHES] = root.switches
    app[OPENAPI] = build_document(ROUTES)
    add_routes(app)
    app.cleanup_ctx.extend(
        [
            root.tracing,
            root.database,
            root.redis,
            root.locks,
            root.incident_switches,
            root.use_cases,
            root.background,
        ]
    )
    return app


class Root:
    """One app's resources; each method is the cleanup context of one of them."""

    _database: Database
    _redis: Redis | None
    _locks: LockManager

    def __init__(self, settings: Settings, overrides: Overrides) -> None:
        configure_logging(settings.log_level)
        self.settings = settings
        self.overrides = overrides
        self.provider = build_tracer_provider(
            sample_ratio=settings.trace_sample_ratio,
            otlp_endpoint=settings.otlp_endpoint,
            otlp_traces_endpoint=settings.otlp_traces_endpoint,
            exporter=overrides.span_exporter,
        )
        self.telemetry = (
            Telemetry(metrics=Metrics(), tracer=tracer_from(self.provider))
            if settings.telemetry
            else Telemetry.disabled()
        )
        self.switches = Switches(on_change=_announce(self.telemetry))

    async def tracing(self, app: web.Application) -> AsyncIterator[None]:
        yield
        if self.provider is not None:
            self.provider.shutdown()  # flushes what the batch processor still holds

    async def database(self, app: web.Application) -> AsyncIterator[None]:
        s = self.settings
        async with open_database(
            s.db_url,
            maxsize=s.db_pool_max,
            acquire_timeout=s.db_acquire_timeout,
            telemetry=self.telemetry,
        ) as self._database:
            app[DATABASE] = self._database
            yield

    async def redis(self, app: web.Application) -> AsyncIterator[None]:
        s = self.settings
        self._redis = None
        if s.redis_url is None:
            yield
            return
        async with open_redis(
            s.redis_url,
            max_connections=s.redis_pool_max,
            acquire_timeout=s.redis_acquire_timeout,
            telemetry=self.telemetry,
        ) as client:
            self._redis = client
            app[REDIS] = RedisProbe(client)
            self.switches.shared = RedisSwitchValues(client, key=f"{s.redis_prefix}incidents")
            yield

    async def locks(self, app: web.Application) -> AsyncIterator[None]:
        s, tel = self.settings, self.telemetry
        if self.overrides.locks is not None:
            self._locks = self.overrides.locks
        elif s.lock_backend == "redis" and self._redis is not None:
            async with RedisLockManager(
                self._redis,
                wait=s.lock_wait,
                lease=s.lock_lease,
                observer=LockMetricsObserver(tel, RedisLockManager.backend),
                telemetry=tel,
                prefix=f"{s.redis_prefix}lock:",
            ) as self._locks:
                yield
            return
        else:
            self._locks = LocalLockManager(
                wait=s.lock_wait,
                lease=s.lock_lease,
                observer=LockMetricsObserver(tel, LocalLockManager.backend),
            )
        yield

    async def incident_switches(self, app: web.Application) -> AsyncIterator[None]:
        register_switches(
            self.switches,
            Targets(
                database=self._database,
                normal_pool_size=self.settings.db_pool_max,
                pool_ceiling=POOL_CEILING,
            ),
        )
        yield

    async def use_cases(self, app: web.Application) -> AsyncIterator[None]:
        store = MySqlStore(self._database)
        app[DEPS] = Deps(
            store=store,
            locks=InstrumentedLocks(self._locks, self.telemetry)
            if self.telemetry.enabled
            else self._locks,
            clock=self.overrides.clock or utc_now,
            order_lock_scope=lambda: str(self.switches.value("order_lock_scope")),
            coupon_gate=self._coupon_gate(store),
            data_set=MySqlDataSet(self._database),
        )
        yield

    def _coupon_gate(self, store: MySqlStore) -> CouponGate:
        if self._redis is None:
            return NoGate()
        return RedisCouponGate(
            self._redis,
            lambda coupon_id: store.autocommit(lambda tx: tx.coupons.gate_snapshot(coupon_id)),
            telemetry=self.telemetry,
            prefix=f"{self.settings.redis_prefix}coupon:",
        )

    async def background(self, app: web.Application) -> AsyncIterator[None]:
        loops = {
            "loop-lag": measure_loop_lag(self.telemetry.metrics.loop_lag),
            "log-flush": flush_periodically(),
        }
        if self.switches.shared is not None:
            loops["switch-sync"] = self.switches.keep_in_sync()
        async with running(**loops):
            yield


def _announce(tel: Telemetry) -> Changed:
    def changed(name: str, value: Any, on: bool, changed: bool) -> None:
        tel.metrics.child(tel.metrics.incident_switch, name).set(1 if on else 0)
        if changed:
            log.warning("incident_switch_changed", switch=name, value=value, on=on)

    return changed
