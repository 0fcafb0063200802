"""The composition root: the only place that builds and wires resources.

`create_app` is the list; `Root` holds one cleanup context per resource, each opening it with
what its owning module provides (`open_database`, `open_redis`, the lock managers, ...), and
keeps the adapters to itself: the app's keys hold ports.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from aiohttp import web
from aiohttp.typedefs import Middleware
from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import start_http_server
from redis.asyncio import Redis

from .adapters.mysql.indexes import set_cart_index
from .adapters.mysql.pool import POOL_CEILING, Database, open_database
from .adapters.mysql.probe import MySqlProbe
from .adapters.mysql.revocations import MySqlRevocations
from .adapters.mysql.seed import MySqlDataSet
from .adapters.mysql.store import MySqlStore
from .adapters.redis.coupon_gate import RedisCouponGate
from .adapters.redis.locks import RedisLockManager
from .adapters.redis.pool import (
    InstrumentedRedisPool,
    RedisProbe,
    close_within,
    connect_control,
    open_redis,
)
from .adapters.redis.rate_limits import RedisRateLimiter
from .adapters.redis.switch_values import RedisSwitchValues
from .api.framework.admission import admission, build_gate, priorities
from .api.framework.middleware import telemetry
from .api.framework.openapi import build_document
from .api.framework.rate_limits import add_rate_limit_fields, rate_limits
from .api.framework.responses import add_security_headers
from .api.routes import ROUTES, add_routes
from .auth.admins import Admins
from .auth.keyring import Keyring
from .auth.revocations import Revocations
from .background import running
from .domain.rate_limits import (
    ADDRESS,
    USER,
    InProcessRateLimiter,
    Policy,
    RememberedRefusals,
)
from .incidents.catalogue import Targets, register_switches
from .incidents.slow_holds import SlowHolds
from .incidents.switches import Changed, Switches
from .keys import (
    ACCESS_LOG,
    ADMINS,
    DATABASE,
    DEPS,
    IDEMPOTENCY,
    KEYRING,
    MYSQL_PROBE,
    OPENAPI,
    RATE_LIMITER,
    RATE_POLICIES,
    REDIS,
    REVOCATION_STORE,
    SETTINGS,
    SWITCHES,
    TELEMETRY,
)
from .locks.local import LocalLockManager
from .settings import Settings
from .telemetry import Telemetry
from .telemetry.locks import InstrumentedLocks, LockMetricsObserver
from .telemetry.logging import configure_logging, flush_periodically, get_logger
from .telemetry.loop_lag import measure_loop_lag
from .telemetry.metrics import Metrics
from .telemetry.tracing import build_tracer_provider, tracer_from
from .use_cases.coupon_batches import CouponBatches
from .use_cases.deps import Deps
from .use_cases.idempotency import KeyPolicy, purge_periodically
from .use_cases.order_batches import OrderBatches
from .use_cases.ports import Clock, CouponGate, LockManager, NoGate

log = get_logger("shop.app")
# Expired idempotency keys go in small batches this often (every replica; deletes commute).
IDEMPOTENCY_PURGE_INTERVAL = 300.0


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
    # Per-client limits first: a flooder's requests are refused before they take an admission slot.
    middlewares: list[Middleware] = [telemetry]
    # A middleware or a response hook costs every request a call: only those switched on.
    if settings.rate_limits == "on":
        middlewares.append(rate_limits)
    gate = build_gate(settings)
    if gate is not None:
        middlewares.append(admission(gate, priorities(ROUTES), root.telemetry))
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    app.on_response_prepare.append(add_security_headers)
    if settings.rate_limits == "on":
        app.on_response_prepare.append(add_rate_limit_fields)
    app[SETTINGS] = settings
    app[TELEMETRY] = root.telemetry
    app[ACCESS_LOG] = get_logger("shop.http").bind()
    app[SWITCHES] = root.switches
    app[OPENAPI] = build_document(ROUTES, user_auth=settings.auth == "required")
    app[IDEMPOTENCY] = root.idempotency
    app[KEYRING] = root.keyring
    app[ADMINS] = Admins.from_settings(settings)
    app[RATE_POLICIES] = root.rate_policies()
    add_routes(app)
    app.cleanup_ctx.extend(
        [
            root.tracing,
            root.metrics_port,
            root.database,
            root.token_revocations,
            root.redis,
            root.rate_limiter,
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
    _gate: RedisCouponGate | None
    _deps: Deps
    _revocation_store: MySqlRevocations | None

    def __init__(self, settings: Settings, overrides: Overrides) -> None:
        configure_logging(settings.log_level)
        if settings.env != "prod":
            log.warning(
                "lab_mode",
                env=settings.env,
                detail="a lab: users top up their own balance, incident switches answer, no "
                "per-client limits or admission control unless set (SHOP_ENV=prod for production)",
            )
        if settings.auth == "off":
            log.warning(
                "auth_off",
                detail="SHOP_AUTH=off: any caller may act as any user (trusted load tests only)",
            )
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
        self.revocations = Revocations()
        self.keyring = Keyring.from_settings(settings, self.revocations)
        self.idempotency = KeyPolicy(
            ttl=timedelta(seconds=settings.idempotency_ttl),
            claim_timeout=timedelta(seconds=settings.idempotency_claim_timeout),
        )

    async def tracing(self, app: web.Application) -> AsyncIterator[None]:
        yield
        if self.provider is not None:
            self.provider.shutdown()  # flushes what the batch processor still holds

    async def metrics_port(self, app: web.Application) -> AsyncIterator[None]:
        # prometheus-client's own server, in a thread: instruments are lock-guarded, and the
        # scrape-time readings copy what they read in one step.
        s = self.settings
        if not (s.metrics_port and self.telemetry.enabled):
            yield
            return
        server, _ = start_http_server(
            s.metrics_port, addr=s.host, registry=self.telemetry.metrics.registry
        )
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()

    async def database(self, app: web.Application) -> AsyncIterator[None]:
        s = self.settings
        async with open_database(
            s.db_url,
            maxsize=s.db_pool_max,
            acquire_timeout=s.db_acquire_timeout,
            telemetry=self.telemetry,
        ) as self._database:
            app[DATABASE] = self._database
            app[MYSQL_PROBE] = MySqlProbe(s.db_url, self._database)
            yield

    async def token_revocations(self, app: web.Application) -> AsyncIterator[None]:
        # Loaded before the first request: a revoked token must not work while a process starts.
        store = app[REVOCATION_STORE] = MySqlRevocations(self._database)
        if self.settings.auth == "required":
            await self.revocations.load(store, now=time.time(), max_ttl=self.keyring.max_ttl)
            self._revocation_store = store
        else:
            self._revocation_store = None
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
            # The switches travel on a connection of their own, which `redis=down` leaves alone.
            control = connect_control(s.redis_url)
            self.switches.shared = RedisSwitchValues(control, key=f"{s.redis_prefix}incidents")
            try:
                yield
            finally:
                await close_within(control.aclose(), "switch control")

    def rate_policies(self) -> dict[str, Policy]:
        s = self.settings
        return {
            kind: Policy(kind, rate, max(1, round(rate * s.rate_limit_burst_seconds)))
            for kind, rate in ((USER, s.rate_limit_user), (ADDRESS, s.rate_limit_address))
        }

    async def rate_limiter(self, app: web.Application) -> AsyncIterator[None]:
        # Shared by every replica through Redis when there is one; else this process's own.
        if self.settings.rate_limits == "on":
            app[RATE_LIMITER] = (
                InProcessRateLimiter()
                if self._redis is None
                else RememberedRefusals(
                    RedisRateLimiter(
                        self._redis,
                        prefix=f"{self.settings.redis_prefix}rate:",
                        telemetry=self.telemetry,
                    )
                )
            )
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
                set_cart_index=lambda on: set_cart_index(self._database, on),
                redis=None
                if self._redis is None
                else cast(InstrumentedRedisPool, self._redis.connection_pool),
            ),
        )
        yield

    async def use_cases(self, app: web.Application) -> AsyncIterator[None]:
        s, tel = self.settings, self.telemetry
        store = MySqlStore(self._database)
        clock = self.overrides.clock or utc_now
        self._gate = None if self._redis is None else self._coupon_gate(self._redis, store)
        gate: CouponGate = self._gate or NoGate()
        # Every coupon issue, in group commits of at most coupon_batch_max (1: one by one).
        batches = CouponBatches(
            store,
            gate,
            clock,
            max_batch=s.coupon_batch_max,
            parallel=s.coupon_batch_parallel,
            timeout=s.lock_wait,
        )
        # Every order, in group commits of at most order_batch_max (1: one by one).
        orders = OrderBatches(
            store,
            clock,
            max_batch=s.order_batch_max,
            parallel=s.order_batch_parallel,
            timeout=s.lock_wait,
        )
        self._deps = app[DEPS] = Deps(
            store=store,
            locks=SlowHolds(
                InstrumentedLocks(self._locks, tel) if tel.enabled else self._locks,
                lambda: int(self.switches.value("lock_hold_ms")) / 1000,
            ),
            clock=clock,
            order_lock_scope=lambda: str(self.switches.value("order_lock_scope")),
            coupon_gate=gate,
            coupon_issues=batches,
            order_placements=orders,
            data_set=MySqlDataSet(self._database),
        )
        yield
        await batches.aclose()
        await orders.aclose()

    def _coupon_gate(self, client: Redis, store: MySqlStore) -> RedisCouponGate:
        return RedisCouponGate(
            client,
            lambda coupon_id: store.autocommit(lambda tx: tx.coupons.gate_snapshot(coupon_id)),
            telemetry=self.telemetry,
            prefix=f"{self.settings.redis_prefix}coupon:",
            holders=lambda coupon_id, users: store.autocommit(
                lambda tx: tx.coupons.holders_among(coupon_id, users)
            ),
        )

    async def background(self, app: web.Application) -> AsyncIterator[None]:
        s = self.settings
        loops: dict[str, Coroutine[Any, Any, None]] = {
            "loop-lag": measure_loop_lag(self.telemetry.metrics.loop_lag),
            "log-flush": flush_periodically(),
            "idempotency-purge": purge_periodically(
                deps=self._deps,
                policy=self.idempotency,
                interval=IDEMPOTENCY_PURGE_INTERVAL,
                on_error=lambda error: log.warning(
                    "idempotency_purge_failed", error=str(error), exc_info=error
                ),
            ),
        }
        if self._revocation_store is not None:
            loops["token-revocations"] = self.revocations.refresh_forever(
                self._revocation_store,
                clock=time.time,
                max_ttl=self.keyring.max_ttl,
                interval=s.token_revocation_refresh,
                on_error=lambda error: log.warning(
                    "token_revocations_refresh_failed", error=str(error), exc_info=error
                ),
            )
        if self.switches.shared is not None:
            loops["switch-sync"] = self.switches.keep_in_sync()
        if self._gate is not None:
            loops["coupon-gate-reconcile"] = self._gate.reconcile_forever(
                grace=s.coupon_gate_grace, interval=s.coupon_gate_interval
            )
        async with running(**loops):
            yield


def _announce(tel: Telemetry) -> Changed:
    def changed(name: str, value: Any, on: bool, changed: bool) -> None:
        tel.metrics.switch_changed(name, value, on)
        if changed:
            log.warning("incident_switch_changed", switch=name, value=value, on=on)

    return changed
