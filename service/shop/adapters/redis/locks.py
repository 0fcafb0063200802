"""The Redis lock manager, for several replicas.

In each process an in-process FIFO queue sits in front, so at most one task per key per
process contends in Redis. Acquire is one Lua script (SET NX PX + INCR of a fence that
outlives the key); release is one compare-and-delete that also PUBLISHes the key, which wakes
waiters in every process; a short timer wakes them too, in case a message was lost. One
watchdog renews every held lease in one batch and tells the holder when a lease was lost.
Redis unreachable means 503 (fail closed, behind a short circuit breaker), never a silent
fall-back to in-process locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
import uuid
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ...background import ended
from ...domain.errors import LockTimeout, LockUnavailable
from ...locks.lease import Lease, LockObserver, NullObserver
from ...locks.local import LocalLockManager
from ...telemetry import Telemetry
from ...telemetry.logging import get_logger
from .pool import close_within

log = get_logger("shop.locks.redis")

# KEYS: lock, fence counter. ARGV: token, lease ms. The new fence (> 0) when taken, else 0:
# a failed attempt costs one command (waiters learn of the release by message, not by TTL).
# One counter serves every key: fences still increase strictly per key, and Redis does not
# keep a counter for every user that ever ordered.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""
# KEYS: lock, channel. ARGV: token. Deletes only the caller's own lock.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], KEYS[1])
  return 1
end
return 0
"""
# KEYS: locks. ARGV: token, lease ms, token, lease ms, ... One round trip renews them all.
_RENEW = """
local kept = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2 * i - 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
    kept[i] = 1
  else
    kept[i] = 0
  end
end
return kept
"""
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
# How long a waiter sleeps at most before asking Redis again when no release message came.
TIMER_FALLBACK = 0.2
BREAKER_COOLDOWN = 1.0
BACKEND_OPS = ("acquire", "release", "renew")


class _Held:
    __slots__ = ("context", "lease", "lease_s", "name")

    def __init__(self, lease: Lease, name: str, lease_s: float) -> None:
        self.lease = lease
        self.name = name
        self.lease_s = lease_s
        # The holder's context: the watchdog reports a loss with the request's log fields.
        self.context = contextvars.copy_context()

    @property
    def expires(self) -> float:
        # Set by acquire and every confirmed renewal, never by a failed one.
        return self.lease.expires_at or 0.0


class _Hold:
    """`async with manager.hold(...)`: the local queue, then Redis, then release of both."""

    __slots__ = ("_args", "_key", "_local", "_manager", "held")

    def __init__(self, manager: RedisLockManager, key: str, args: tuple[str, float, float]) -> None:
        self._manager = manager
        self._key = key
        self._args = args
        name, wait, lease = args
        self._local = manager.local.hold(key, name=name, wait=wait, lease=lease)

    async def __aenter__(self) -> Lease:
        name, wait, lease = self._args
        started = time.monotonic()
        await self._local.__aenter__()
        try:
            budget = wait - (time.monotonic() - started)
            self.held = await self._manager.acquire(self._key, name, budget, lease)
        except BaseException:
            await self._local.__aexit__(None, None, None)
            raise
        return self.held

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await asyncio.shield(self._manager.release(self.held))
        finally:
            await self._local.__aexit__(*exc)


class RedisLockManager:
    backend: str = "redis"

    def __init__(
        self,
        client: Redis,
        *,
        wait: float = 5.0,
        lease: float = 10.0,
        observer: LockObserver | None = None,
        telemetry: Telemetry | None = None,
        prefix: str = "shop:lock:",
        timer_fallback: float = TIMER_FALLBACK,
    ) -> None:
        self._client = client
        self.wait = wait
        self.lease = lease
        self._observer = observer or NullObserver()
        self._telemetry = telemetry or Telemetry.disabled()
        self._metrics = self._telemetry.metrics
        self._prefix = prefix
        self._channel = f"{prefix}released"
        self._fence_key = f"{prefix}fence"
        self._timer_fallback = timer_fallback
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        # Renewals go over a connection of their own: behind a saturated pool they would wait
        # for requests to finish while the leases those requests hold run out.
        pool = client.connection_pool
        self._renewer = Redis(
            connection_pool=ConnectionPool(
                connection_class=pool.connection_class,
                max_connections=1,
                **pool.connection_kwargs,
            )
        )
        self._renew = self._renewer.register_script(_RENEW)
        self.local = LocalLockManager()
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._held: dict[str, _Held] = {}
        self._open_until = 0.0
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._holding = asyncio.Event()
        for op in BACKEND_OPS:  # at zero from the start, so an alert sees the first failure
            self._metrics.child(self._metrics.lock_backend_errors, self.backend, op)
        for source in ("pubsub", "timer"):  # and the wake-ups panel is never empty
            self._metrics.child(self._metrics.lock_wakeups, self.backend, source)

    # Introspection, as for the in-process manager.
    def keys_count(self) -> int:
        """Keys this process holds or waits on (0 when idle)."""
        return self.local.keys_count()

    def waiters(self, key: str) -> int:
        """Tasks of this process queued on `key`."""
        return self.local.waiters(key)

    def total_waiters(self) -> int:
        """Tasks of this process queued on any key."""
        return self.local.total_waiters()

    def held_count(self) -> int:
        """Redis leases this process holds."""
        return len(self._held)

    def hold(
        self, key: str, *, name: str, wait: float | None = None, lease: float | None = None
    ) -> _Hold:
        """Hold `key` across every replica; LockTimeout after `wait`, LockUnavailable if down."""
        return _Hold(
            self,
            key,
            (name, self.wait if wait is None else wait, self.lease if lease is None else lease),
        )

    async def acquire(self, key: str, name: str, budget: float, lease_s: float) -> Lease:
        """Take the Redis lock for `key` within `budget` seconds."""
        self._start_background()
        redis_key = self._prefix + key
        token = uuid.uuid4().hex
        deadline = time.monotonic() + budget
        lease_ms = max(1, int(lease_s * 1000))
        while True:
            # Listen before asking, so a release published in between is not missed.
            woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(redis_key, set()).add(woken)
            try:
                # Redis starts the lease when it runs the script, after this instant: counting
                # from here keeps the local expiry no later than the one Redis enforces.
                sent = time.monotonic()
                answer = await self._call_acquire(redis_key, token, lease_ms)
                if answer > 0:
                    held = Lease(key, answer, token, expires_at=sent + lease_s)
                    self._held[token] = _Held(held, name, lease_s)
                    self._holding.set()
                    return held
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeout(f"the {name} lock is still held after {budget:g}s")
                pause = min(remaining, self._timer_fallback)
                try:
                    async with asyncio.timeout(pause):
                        await woken
                    self._wakeup("pubsub")
                except TimeoutError:
                    self._wakeup("timer")
            finally:
                waiting = self._waiters.get(redis_key)
                if waiting is not None:
                    waiting.discard(woken)
                    if not waiting:
                        del self._waiters[redis_key]

    async def _call_acquire(self, redis_key: str, token: str, lease_ms: int) -> int:
        if time.monotonic() < self._open_until:
            raise LockUnavailable("the lock backend (Redis) is unavailable")
        # The script runs in a task of its own: redis-py can swallow a cancellation that lands
        # mid-command, and a cancelled caller must still learn whether the script took the key.
        call = asyncio.ensure_future(
            self._acquire(keys=[redis_key, self._fence_key], args=[token, lease_ms])
        )
        try:
            with self._telemetry.redis_span("lock.acquire_script"):
                return int(await asyncio.shield(call))
        except asyncio.CancelledError:
            asyncio.get_running_loop().create_task(self._undo(call, redis_key, token))
            raise
        except _UNREACHABLE as exc:
            self._trip("acquire", exc)
            raise LockUnavailable("the lock backend (Redis) is unavailable") from exc
        except RedisError as exc:
            self._metrics.child(self._metrics.lock_backend_errors, self.backend, "acquire").inc()
            raise LockUnavailable(f"the lock backend failed: {exc}") from exc

    async def _undo(self, call: asyncio.Future[Any], redis_key: str, token: str) -> None:
        """After a cancelled acquire: give the key back if the script did take it."""
        with contextlib.suppress(RedisError, OSError, asyncio.CancelledError):
            if int(await call) > 0:
                await self._delete_if_ours(redis_key, token)

    async def release(self, held: Lease) -> None:
        """Delete the lock if it is still ours and wake the next waiter anywhere."""
        self._held.pop(held.token, None)
        await self._delete_if_ours(self._prefix + held.key, held.token)

    async def _delete_if_ours(self, redis_key: str, token: str) -> None:
        try:
            with self._telemetry.redis_span("lock.release_script"):
                await self._release(keys=[redis_key, self._channel], args=[token])
        except RedisError as exc:
            # The lease runs out by itself; waiters get it then.
            self._metrics.child(self._metrics.lock_backend_errors, self.backend, "release").inc()
            log.warning("lock_release_failed", key=redis_key, error=str(exc))

    def _trip(self, op: str, exc: BaseException) -> None:
        self._open_until = time.monotonic() + BREAKER_COOLDOWN
        self._metrics.child(self._metrics.lock_backend_errors, self.backend, op).inc()
        log.warning("lock_backend_unavailable", op=op, error=str(exc))

    def _wakeup(self, source: str) -> None:
        self._metrics.child(self._metrics.lock_wakeups, self.backend, source).inc()

    def _start_background(self) -> None:
        if self._reader is None:
            # A fresh context: started inside some request, they must not log as that request.
            self._reader = asyncio.get_running_loop().create_task(
                self._read_releases(), context=contextvars.Context()
            )
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(
                self._renew_leases(), context=contextvars.Context()
            )

    async def _read_releases(self) -> None:
        """One subscription per manager; each release message wakes this process's waiters."""
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                # A release published before the subscription took hold was missed: let every
                # current waiter ask again rather than sleep out its timer.
                for waiting in list(self._waiters.values()):
                    for woken in list(waiting):
                        if not woken.done():
                            woken.set_result(None)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    key = message["data"]
                    key = key.decode() if isinstance(key, bytes) else str(key)
                    for woken in list(self._waiters.get(key, ())):
                        if not woken.done():
                            woken.set_result(None)
            except RedisError as exc:
                log.warning("lock_pubsub_lost", error=str(exc))
                await asyncio.sleep(BREAKER_COOLDOWN)  # meanwhile waiters fall back on the timer
            finally:
                await close_within(pubsub.aclose(), "lock subscription")

    async def _renew_leases(self) -> None:
        """Renew every held lease every lease/3 in one round trip; report the ones lost.

        While renewals fail, it wakes at the earliest confirmed expiry instead, so a holder cut
        off from Redis learns of the loss by then, not after another replica took the key.
        """
        while True:
            if not self._held:
                self._holding.clear()
                await self._holding.wait()
                continue
            held = self._held.values()
            interval = min(h.lease_s for h in held) / 3
            earliest = min(h.expires for h in held)
            await asyncio.sleep(max(0.0, min(interval, earliest - time.monotonic())))
            await self.renew_now()

    async def renew_now(self) -> None:
        """One renewal pass over the leases held right now."""
        self._lose([h for h in self._held.values() if h.expires <= time.monotonic()])
        held = list(self._held.values())
        if not held:
            return
        args: list[Any] = []
        for entry in held:
            args += [entry.lease.token, max(1, int(entry.lease_s * 1000))]
        sent = time.monotonic()
        try:
            # A partitioned Redis may never answer: give up at the earliest expiry.
            async with asyncio.timeout(max(0.0, min(h.expires for h in held) - sent)):
                kept = await self._renew(keys=[self._prefix + h.lease.key for h in held], args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._metrics.child(self._metrics.lock_backend_errors, self.backend, "renew").inc()
            log.warning("lock_renew_failed", error=str(exc) or type(exc).__name__)
            # Unconfirmed: every expiry stays where Redis last confirmed it.
            self._lose([h for h in held if h.expires <= time.monotonic()])
            return
        for entry, ok in zip(held, kept, strict=True):
            if ok:
                entry.lease.expires_at = sent + entry.lease_s
        self._lose([entry for entry, ok in zip(held, kept, strict=True) if not ok])

    def _lose(self, entries: list[_Held]) -> None:
        for entry in entries:
            if self._held.pop(entry.lease.token, None) is not None:
                entry.lease.lost.set()
                entry.context.run(self._report_lost, entry)

    def _report_lost(self, entry: _Held) -> None:
        # The observer counts it and logs it, once, in the holder's request context.
        self._observer.lease_lost(entry.name, entry.lease.key)

    async def __aenter__(self) -> RedisLockManager:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the reader and the watchdog (held locks are released by their holders)."""
        for task in (self._reader, self._watchdog):
            if task is not None:
                await ended(task)  # the reader's subscription can swallow one cancellation
        self._reader = self._watchdog = None
        await close_within(self._renewer.aclose(), "lock renewer")
        await close_within(self._renewer.connection_pool.disconnect(), "lock renewer's pool")
