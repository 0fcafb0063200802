"""The composition root: the only place that builds and wires resources."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from opentelemetry.sdk.trace.export import SpanExporter
from redis.exceptions import RedisError

from .adapters.mysql.indexes import set_cart_index
from .adapters.mysql.pool import POOL_CEILING, Database
from .adapters.mysql.store import MySqlStore
from .adapters.redis.coupon_gate import RedisCouponGate
from .adapters.redis.locks import RedisLockManager
from .adapters.redis.pool import connect_redis
from .adapters.redis.switch_values import RedisSwitchValues
from .api.middleware import problems, telemetry
from .api.openapi import build_document
from .api.routes import ROUTES, add_routes
from .domain.errors import ShopError
from .incidents.switches import SYNC_INTERVAL, Changed, Switches, choice, whole
from .keys import (
    ACCESS_LOG,
    COUPON_GATE,
    DATABASE,
    DEPS,
    IDEMPOTENCY,
    OPENAPI,
    REDIS,
    SETTINGS,
    SWITCHES,
    TELEMETRY,
)
from .locks.local import LocalLockManager
from .settings import Settings
from .telemetry import Telemetry
from .telemetry.locks import InstrumentedLocks, LockMetricsObserver
from .telemetry.logging import FLUSH_INTERVAL, configure_logging, flush_logs, get_logger
from .telemetry.loop_lag import measure_loop_lag
from .telemetry.metrics import Metrics
from .telemetry.tracing import build_tracer_provider, tracer_from
from .use_cases.coupon_batches import CouponBatches
from .use_cases.deps import Deps
from .use_cases.idempotency import KeyPolicy, purge_periodically
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
    """Build the application; resources open on startup, in this order, and close in reverse."""
    overrides = overrides or Overrides()
    configure_logging(settings.log_level)
    provider = build_tracer_provider(
        sample_ratio=settings.trace_sample_ratio, exporter=overrides.span_exporter
    )
    tel = (
        Telemetry(metrics=Metrics(), tracer=tracer_from(provider))
        if settings.telemetry
        else Telemetry.disabled()
    )
    switches = Switches(on_change=_announce(tel))
    app = web.Application(
        middlewares=[telemetry, problems], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app[TELEMETRY] = tel
    app[ACCESS_LOG] = get_logger("shop.http").bind()
    app[SWITCHES] = switches
    app[OPENAPI] = build_document(ROUTES, user_auth=settings.auth == "required")
    if settings.auth == "off":
        log.warning(
            "auth_off",
            detail="SHOP_AUTH=off: any caller may act as any user (trusted load tests only)",
        )
    app[IDEMPOTENCY] = KeyPolicy(
        ttl=timedelta(seconds=settings.idempotency_ttl),
        claim_timeout=timedelta(seconds=settings.idempotency_claim_timeout),
    )
    add_routes(app)

    async def tracing(app: web.Application) -> AsyncIterator[None]:
        yield
        if provider is not None:
            provider.shutdown()  # flushes what the batch processor still holds

    async def database(app: web.Application) -> AsyncIterator[None]:
        app[DATABASE] = db = await Database.connect(
            settings.db_url,
            maxsize=settings.db_pool_max,
            acquire_timeout=settings.db_acquire_timeout,
            telemetry=tel,
        )

        async def resize(size: Any) -> None:
            db.resize(size)

        async def slow_down(milliseconds: Any) -> None:
            db.statement_delay = milliseconds / 1000

        switches.register(
            "db_pool_max",
            description="connections one process may use at once (10 = the undersized pool)",
            normal=settings.db_pool_max,
            parse=whole(1, POOL_CEILING),
            apply=resize,
        )
        switches.register(
            "db_latency_ms",
            description="milliseconds added before every SQL statement (a slow database)",
            normal=0,
            parse=whole(0, 10_000),
            apply=slow_down,
        )
        switches.register(
            "cart_index",
            description="the cart_items(cart_id) index: on, or off (the original's full scan)",
            normal="on",
            parse=choice("on", "off"),
            apply=lambda value: set_cart_index(db, value == "on"),
        )
        yield
        await db.close()

    async def redis(app: web.Application) -> AsyncIterator[None]:
        if settings.redis_url is None:
            yield
            return
        client = connect_redis(
            settings.redis_url,
            max_connections=settings.redis_pool_max,
            acquire_timeout=settings.redis_acquire_timeout,
            telemetry=tel,
        )
        app[REDIS] = client
        switches.shared = RedisSwitchValues(client, key=f"{settings.redis_prefix}incidents")
        yield
        await client.aclose()

    async def use_cases(app: web.Application) -> AsyncIterator[None]:
        backend: RedisLockManager | None = None
        if overrides.locks is not None:
            locks = overrides.locks
        elif settings.lock_backend == "redis":
            locks = backend = RedisLockManager(
                app[REDIS],
                observer=LockMetricsObserver(tel, RedisLockManager.backend),
                telemetry=tel,
                prefix=f"{settings.redis_prefix}lock:",
            )
        else:
            locks = LocalLockManager(observer=LockMetricsObserver(tel, LocalLockManager.backend))
        switches.register(
            "order_lock_scope",
            description="what orders lock on: user (normal) or global (the original's outage)",
            normal="user",
            parse=choice("user", "global"),
        )
        store = MySqlStore(app[DATABASE])
        gate: CouponGate = NoGate()
        if REDIS in app:
            gate = app[COUPON_GATE] = RedisCouponGate(
                app[REDIS],
                lambda coupon_id: store.autocommit(lambda tx: tx.coupons.gate_snapshot(coupon_id)),
                telemetry=tel,
                prefix=f"{settings.redis_prefix}coupon:",
                holders=lambda coupon_id, users: store.autocommit(
                    lambda tx: tx.coupons.holders_among(coupon_id, users)
                ),
            )
        clock = overrides.clock or utc_now
        batches = (
            CouponBatches(
                store,
                gate,
                clock,
                max_batch=settings.coupon_batch_max,
                parallel=settings.coupon_batch_parallel,
                timeout=settings.lock_wait,
            )
            if settings.coupon_batch_max > 1
            else None
        )
        app[DEPS] = Deps(
            store=store,
            locks=InstrumentedLocks(locks, tel) if tel.enabled else locks,
            clock=clock,
            lock_wait=settings.lock_wait,
            lock_lease=settings.lock_lease,
            order_lock_scope=lambda: str(switches.value("order_lock_scope")),
            coupon_gate=gate,
            coupon_issues=batches,
        )
        yield
        if batches is not None:
            await batches.aclose()
        if backend is not None:
            await backend.aclose()

    async def background(app: web.Application) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(measure_loop_lag(tel.metrics.loop_lag), name="loop-lag"),
            asyncio.create_task(_flush_logs_periodically(), name="log-flush"),
            asyncio.create_task(
                purge_periodically(
                    deps=app[DEPS],
                    policy=app[IDEMPOTENCY],
                    interval=IDEMPOTENCY_PURGE_INTERVAL,
                    on_error=lambda error: log.warning(
                        "idempotency_purge_failed", error=str(error), exc_info=error
                    ),
                ),
                name="idempotency-purge",
            ),
        ]
        if switches.shared is not None:
            tasks.append(asyncio.create_task(_sync_switches(switches), name="switch-sync"))
        if COUPON_GATE in app:
            reconcile = app[COUPON_GATE].reconcile_forever(
                grace=settings.coupon_gate_grace, interval=settings.coupon_gate_interval
            )
            tasks.append(asyncio.create_task(reconcile, name="coupon-gate-reconcile"))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        flush_logs()

    app.cleanup_ctx.extend([tracing, database, redis, use_cases, background])
    return app


async def _flush_logs_periodically() -> None:
    while True:
        await asyncio.sleep(FLUSH_INTERVAL)
        flush_logs()


async def _sync_switches(switches: Switches) -> None:
    """Pick up switches flipped on other replicas; a Redis outage only delays it."""
    failing = False
    while True:
        try:
            await switches.sync()
            failing = False
        except (RedisError, ShopError) as exc:
            if not failing:  # once per outage, not twice a second
                log.warning("incident_switch_sync_failed", error=str(exc))
            failing = True
        await asyncio.sleep(SYNC_INTERVAL)


def _announce(tel: Telemetry) -> Changed:
    def changed(name: str, value: Any, on: bool, changed: bool) -> None:
        tel.metrics.incident_switch.labels(name).set(1 if on else 0)
        if changed:
            log.warning("incident_switch_changed", switch=name, value=value, on=on)

    return changed
