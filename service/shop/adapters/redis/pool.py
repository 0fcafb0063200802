"""The Redis connection pool: bounded and waiting, instrumented like the MySQL pool.

redis-py's default pool refuses a command with `Too many connections` once its cap is lent
out, so a burst turns straight into 503s. This one waits (FIFO through redis-py's blocking
pool) for at most `timeout` seconds, and reports the `db_client_connection_*` family with
`pool="redis"`, so Redis pool saturation shows on the same panels as the database pool's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ...telemetry import Telemetry
from ...telemetry.logging import get_logger

log = get_logger("shop.redis")
# redis-py's close waits for each socket's `wait_closed`, which can wait forever
# (redis/redis-py#3941): a shutdown gives a Redis close this long, then leaves the socket to the
# process's exit.
CLOSE_WITHIN = 2.0


async def close_within(closing: Awaitable[object], what: str) -> None:
    """Await `closing` (a Redis client's, pool's or subscription's close) for CLOSE_WITHIN at
    most; one that fails or does not finish is logged, never raised: it must not hold up or
    break the rest of a shutdown."""
    try:
        async with asyncio.timeout(CLOSE_WITHIN):
            await closing
    except (TimeoutError, RedisError, OSError) as exc:
        log.warning("redis_close_abandoned", what=what, error=repr(exc))


POOL_NAME = "redis"
UNREACHABLE = "Error 111 connecting to Redis: Connection refused (incident switch redis=down)"
# Connections a process opens at start (at most its pool's size).
WARM_CONNECTIONS = 32


class InstrumentedRedisPool(BlockingConnectionPool):
    """redis-py's blocking pool, counting waiters, wait and use times and acquire timeouts."""

    def __init__(self, *, telemetry: Telemetry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pending = 0
        # False while the `redis` incident switch is `down`: every command then fails as it
        # would against a Redis that refuses connections.
        self.reachable = True
        self._lent: dict[int, float] = {}
        metrics = telemetry.metrics
        self._wait = metrics.child(metrics.pool_wait, POOL_NAME)
        self._use = metrics.child(metrics.pool_use, POOL_NAME)
        self._timeouts = metrics.child(metrics.pool_timeouts, POOL_NAME)
        metrics.read(
            "db_client_connection_count",
            lambda: [
                ((POOL_NAME, "idle"), len(self._available_connections)),
                ((POOL_NAME, "used"), len(self._in_use_connections)),
            ],
        )
        metrics.read("db_client_connection_max", lambda: [((POOL_NAME,), self.max_connections)])
        metrics.read(
            "db_client_connection_pending_requests", lambda: [((POOL_NAME,), self.pending)]
        )

    async def get_connection(
        self, command_name: Any = None, *keys: Any, **options: Any
    ) -> AbstractConnection:
        """A connection, waiting at most `timeout` seconds for one to be given back."""
        if not self.reachable:
            raise RedisConnectionError(UNREACHABLE)
        self.pending += 1
        started = time.perf_counter()
        try:
            # redis-py leaves it unannotated
            connection: AbstractConnection = await super().get_connection()  # type: ignore[no-untyped-call]
        except RedisConnectionError as exc:
            if isinstance(exc.__cause__, TimeoutError):
                self._timeouts.inc()
                log.warning(
                    "pool_exhausted",
                    pool=POOL_NAME,
                    max=self.max_connections,
                    timeout_s=self.timeout,
                )
            raise
        finally:
            self.pending -= 1
            self._wait.observe(time.perf_counter() - started)
        self._lent[id(connection)] = time.perf_counter()
        return connection

    async def set_reachable(self, reachable: bool) -> None:
        """Cut or restore this pool's way to Redis (the `redis` incident switch).

        Cutting also drops the open connections, the lock manager's subscription included, so
        commands in flight fail like on a real outage instead of finishing on an old socket.
        """
        self.reachable = reachable
        if not reachable:
            await self.disconnect()

    async def release(self, connection: AbstractConnection) -> None:
        """Give `connection` back and wake the oldest waiter."""
        lent = self._lent.pop(id(connection), None)
        if lent is not None:
            self._use.observe(time.perf_counter() - lent)
        await super().release(connection)


def connect_redis(
    url: str, *, max_connections: int, acquire_timeout: float, telemetry: Telemetry
) -> Redis:
    """A client on a bounded, waiting pool (no I/O until the first command)."""
    pool = InstrumentedRedisPool.from_url(
        url,
        telemetry=telemetry,
        max_connections=max_connections,
        timeout=acquire_timeout,
        # Short socket timeouts: an unreachable Redis must be a quick 503, not a hung request.
        socket_timeout=2.0,
        socket_connect_timeout=1.0,
    )
    return Redis.from_pool(pool)


def connect_control(url: str) -> Redis:
    """A small client of its own for the incident switches: the `redis` switch cuts the
    shop's pool, never this one, so `redis=down` still reaches every replica and can be flipped
    back through any of them."""
    return Redis.from_url(url, max_connections=4, socket_timeout=2.0, socket_connect_timeout=1.0)


@asynccontextmanager
async def open_redis(
    url: str, *, max_connections: int, acquire_timeout: float, telemetry: Telemetry
) -> AsyncIterator[Redis]:
    """The app's client, its pool warmed, open for the block and closed after it."""
    client = connect_redis(
        url, max_connections=max_connections, acquire_timeout=acquire_timeout, telemetry=telemetry
    )
    pool = cast(InstrumentedRedisPool, client.connection_pool)  # the one connect_redis made
    await _warm(pool, min(max_connections, WARM_CONNECTIONS))
    try:
        yield client
    finally:
        await close_within(client.aclose(), "client")


class RedisProbe:
    """The readiness Probe port over a client: one PING."""

    def __init__(self, client: Redis) -> None:
        self.client = client

    async def ping(self) -> object:
        """Answer only when Redis does."""
        return await self.client.ping()


async def _warm(pool: InstrumentedRedisPool, count: int) -> None:
    """Open `count` connections now. A burst right after start then finds them ready instead of
    connecting while its own requests keep the event loop busy, where a connect can overrun
    its short timeout and trip the lock backend's breaker. Redis down: warned, not fatal."""
    taken: list[AbstractConnection] = []
    try:
        for _ in range(count):
            taken.append(await pool.get_connection())
    except (RedisError, OSError) as exc:
        log.warning("redis_warm_up_failed", error=str(exc))
    finally:
        for connection in taken:
            await pool.release(connection)
