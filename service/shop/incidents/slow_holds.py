"""The `lock_hold_ms` switch: a slow critical section in front of any lock manager."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from ..use_cases.ports import Lease, LockManager


class SlowHolds:
    """Holders linger `delay()` seconds after taking their lock, before their work.

    The wait happens inside the hold, so the hold-time histogram, the waiters queued behind it
    and the lease watchdog all see what a slow critical section does. At 0 the inner manager's
    hold is handed out unwrapped: nothing is added to the hot path while the switch is off.
    """

    def __init__(self, inner: LockManager, delay: Callable[[], float]) -> None:
        self.inner = inner
        self.backend = inner.backend
        self._delay = delay

    def waiters(self, key: str) -> int:
        """Tasks of this process queued on `key`."""
        return self.inner.waiters(key)

    def keys_count(self) -> int:
        """Keys this process holds or waits on."""
        return self.inner.keys_count()

    def hold(
        self, key: str, *, name: str, wait: float | None = None, lease: float | None = None
    ) -> AbstractAsyncContextManager[Lease]:
        """The inner hold, lingering `delay()` seconds once taken."""
        inner = self.inner.hold(key, name=name, wait=wait, lease=lease)
        delay = self._delay()
        return _SlowHold(inner, delay) if delay > 0 else inner


class _SlowHold:
    __slots__ = ("_delay", "_inner")

    def __init__(self, inner: AbstractAsyncContextManager[Lease], delay: float) -> None:
        self._inner = inner
        self._delay = delay

    async def __aenter__(self) -> Lease:
        lease = await self._inner.__aenter__()
        try:
            await asyncio.sleep(self._delay)
        except BaseException as exc:  # cancelled while lingering: the lock is still given back
            await self._inner.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return lease

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._inner.__aexit__(*exc)
