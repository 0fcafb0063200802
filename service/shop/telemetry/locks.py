"""Any lock manager, measured and traced: wait and hold histograms, waiters, spans."""

from __future__ import annotations

import asyncio
import collections
import time
from contextlib import AbstractContextManager
from typing import Any

from ..domain.errors import LockTimeout
from ..use_cases.ports import LOCK_NAMES, LOCK_OUTCOMES, Lease, LockManager
from . import NO_SPAN, Telemetry
from .logging import get_logger

log = get_logger("shop.locks")


class LockMetricsObserver:
    """What only the backend can see (a lease lapsing mid-hold), counted."""

    def __init__(self, telemetry: Telemetry, backend: str) -> None:
        self._metrics = metrics = telemetry.metrics
        self._backend = backend
        # At zero from the start, so `increase()` and the alerts see the first event.
        for name in LOCK_NAMES:
            metrics.child(metrics.lock_lease_lost, name, backend)

    def lease_lost(self, name: str, key: str) -> None:
        """Count it and say so in the log, once: the holder will roll back."""
        self._metrics.child(self._metrics.lock_lease_lost, name, self._backend).inc()
        log.warning("lease_lost", lock_name=name, key=key, backend=self._backend)


class InstrumentedLocks:
    """Wraps a backend; `lock.held` is the current span in the body, so DB spans nest in it."""

    def __init__(self, inner: LockManager, telemetry: Telemetry) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.telemetry = telemetry
        # Plain counters per lock name on the hot path; the gauges read them at scrape time.
        self.waiting: collections.Counter[str] = collections.Counter()
        self.holding: collections.Counter[str] = collections.Counter()
        metrics = telemetry.metrics
        for name in LOCK_NAMES:  # every outcome at zero, so a first timeout shows in rate()
            for outcome in LOCK_OUTCOMES:
                metrics.child(metrics.lock_wait, name, self.backend, outcome)
        metrics.read("shop_lock_keys", lambda: [((self.backend,), self.inner.keys_count())])
        metrics.read("shop_lock_waiters", lambda: self._per_name(self.waiting))
        metrics.read("shop_lock_held", lambda: self._per_name(self.holding))

    def waiters(self, key: str) -> int:
        """Tasks of this process queued on `key`."""
        return self.inner.waiters(key)

    def keys_count(self) -> int:
        """Keys this process holds or waits on."""
        return self.inner.keys_count()

    def _per_name(self, counts: collections.Counter[str]) -> list[tuple[tuple[str, str], float]]:
        # list() copies in one step: SHOP_METRICS_PORT's server reads this from its thread.
        return [((name, self.backend), n) for name, n in list(counts.items())]

    def hold(
        self, key: str, *, name: str, wait: float | None = None, lease: float | None = None
    ) -> _InstrumentedHold:
        """Hold `key` through the wrapped backend, recording wait, hold and outcome."""
        return _InstrumentedHold(self, key, name, wait, lease)


class _InstrumentedHold:
    """A plain async context manager: this wraps every order and charge, so it stays cheap."""

    __slots__ = ("_held_span", "_inner", "_key", "_locks", "_name", "_taken")

    def __init__(
        self,
        locks: InstrumentedLocks,
        key: str,
        name: str,
        wait: float | None,
        lease: float | None,
    ) -> None:
        self._locks = locks
        self._key = key
        self._name = name
        self._inner = locks.inner.hold(key, name=name, wait=wait, lease=lease)
        self._held_span: AbstractContextManager[Any] | None = None
        self._taken = 0.0

    async def __aenter__(self) -> Lease:
        locks, name = self._locks, self._name
        metrics = locks.telemetry.metrics
        started = time.perf_counter()
        outcome = "error"
        locks.waiting[name] += 1
        tel = locks.telemetry
        # The span's name and attributes (a waiters count through every wrapper) are built
        # only when there is a tracer to take them: this runs for every charge and order.
        span = (
            tel.span(
                f"lock.acquire {name}",
                attributes={
                    "lock.key": self._key,
                    "lock.name": name,
                    "lock.waiters": locks.waiters(self._key),
                },
            )
            if tel.tracing
            else NO_SPAN
        )
        try:
            with span as current:
                try:
                    held = await self._inner.__aenter__()
                    outcome = "acquired"
                except LockTimeout:
                    outcome = "timeout"
                    log.warning("lock_timeout", lock_name=name, key=self._key)
                    raise
                except asyncio.CancelledError:
                    outcome = "cancelled"
                    raise
                finally:
                    if current is not None:
                        current.set_attribute("lock.outcome", outcome)
        finally:
            locks.waiting[name] -= 1
            metrics.child(metrics.lock_wait, name, locks.backend, outcome).observe(
                time.perf_counter() - started, tel.exemplar()
            )
        locks.holding[name] += 1
        self._taken = time.perf_counter()
        if tel.tracing:
            self._held_span = tel.span(f"lock.held {name}", attributes={"lock.key": self._key})
            self._held_span.__enter__()
        return held

    async def __aexit__(self, *exc: Any) -> None:
        locks, name = self._locks, self._name
        metrics = locks.telemetry.metrics
        try:
            if self._held_span is not None:
                self._held_span.__exit__(*exc)
            locks.holding[name] -= 1
            metrics.child(metrics.lock_hold, name, locks.backend).observe(
                time.perf_counter() - self._taken
            )
        finally:
            await self._inner.__aexit__(*exc)
