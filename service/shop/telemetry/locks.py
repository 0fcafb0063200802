"""Any lock manager, measured and traced: wait and hold histograms, waiters, spans."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from typing import Any

from ..domain.errors import LockTimeout, ShopError
from ..use_cases.ports import Lease, LockManager
from . import Telemetry
from .logging import get_logger
from .tracing import exemplar

log = get_logger("shop.locks")


class LockMetricsObserver:
    """What only the backend can see (a lease lapsing mid-hold), counted."""

    def __init__(self, telemetry: Telemetry, backend: str) -> None:
        self._metrics = telemetry.metrics
        self._backend = backend

    def acquired(self, name: str, waited: float) -> None:
        """Measured by InstrumentedLocks instead."""

    def timed_out(self, name: str, waited: float) -> None:
        """Measured by InstrumentedLocks instead."""

    def cancelled(self, name: str, waited: float) -> None:
        """Measured by InstrumentedLocks instead."""

    def released(self, name: str, held: float) -> None:
        """Measured by InstrumentedLocks instead."""

    def lease_lost(self, name: str) -> None:
        """Count it and say so in the log: the holder will roll back."""
        self._metrics.lock_lease_lost.labels(name, self._backend).inc()
        log.warning("lease_lost", lock_name=name, backend=self._backend)


class InstrumentedLocks:
    """Wraps a backend; `lock.held` is the current span in the body, so DB spans nest in it."""

    def __init__(self, inner: LockManager, telemetry: Telemetry) -> None:
        self.inner = inner
        self.backend = inner.backend
        self._telemetry = telemetry
        telemetry.metrics.watch_lock_keys(self._keys)

    def waiters(self, key: str) -> int:
        """Tasks of this process queued on `key`."""
        return self.inner.waiters(key)

    def keys_count(self) -> int:
        """Keys this process holds or waits on."""
        return self.inner.keys_count()

    def _keys(self) -> Iterator[tuple[str, int]]:
        yield self.backend, self.inner.keys_count()

    def _span(self, name: str, attributes: dict[str, Any]) -> AbstractContextManager[Any]:
        if not self._telemetry.tracing:
            return nullcontext()
        return self._telemetry.tracer.start_as_current_span(name, attributes=attributes)

    @asynccontextmanager
    async def hold(self, key: str, *, name: str, wait: float, lease: float) -> AsyncIterator[Lease]:
        """Hold `key` through the wrapped backend, recording wait, hold and outcome."""
        metrics = self._telemetry.metrics
        waiters = metrics.lock_waiters.labels(name, self.backend)
        async with AsyncExitStack() as stack:
            started = time.perf_counter()
            outcome = "error"
            waiters.inc()
            attributes = {
                "lock.key": key,
                "lock.name": name,
                "lock.waiters": self.inner.waiters(key),
            }
            try:
                with self._span(f"lock.acquire {name}", attributes) as span:
                    try:
                        held = await stack.enter_async_context(
                            self.inner.hold(key, name=name, wait=wait, lease=lease)
                        )
                        outcome = "acquired"
                    except LockTimeout:
                        outcome = "timeout"
                        log.warning("lock_timeout", lock_name=name, key=key, wait_s=wait)
                        raise
                    except asyncio.CancelledError:
                        outcome = "cancelled"
                        raise
                    except ShopError:
                        outcome = "error"
                        raise
                    finally:
                        if span is not None:
                            span.set_attribute("lock.outcome", outcome)
            finally:
                waiters.dec()
                metrics.lock_wait.labels(name, self.backend, outcome).observe(
                    time.perf_counter() - started, exemplar()
                )
            held_gauge = metrics.lock_held.labels(name, self.backend)
            held_gauge.inc()
            taken = time.perf_counter()
            try:
                with self._span(f"lock.held {name}", {"lock.key": key, "lock.fence": held.fence}):
                    yield held
            finally:
                held_gauge.dec()
                metrics.lock_hold.labels(name, self.backend).observe(time.perf_counter() - taken)
