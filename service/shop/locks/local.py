"""The in-process lock manager: per-key FIFO hand-off, bounded waits, cancellation-safe."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque

from ..domain.errors import LockTimeout
from .lease import Lease, LockObserver, LockReentry, NullObserver

_Waiter = tuple["asyncio.Future[None]", "asyncio.Task[object] | None"]


class _Entry:
    """One key's holder and queue; dropped as soon as both are empty."""

    __slots__ = ("holder", "waiters")

    def __init__(self) -> None:
        self.holder: asyncio.Task[object] | None = None
        self.waiters: deque[_Waiter] = deque()


class _Hold:
    """`async with manager.hold(...)`: a plain class, cheaper than a generator on a hot path."""

    __slots__ = ("_expiry", "_key", "_lease", "_manager", "_name", "_wait", "held")

    def __init__(
        self, manager: LocalLockManager, key: str, name: str, wait: float, lease: float
    ) -> None:
        self._manager = manager
        self._key = key
        self._name = name
        self._wait = wait
        self._lease = lease
        self._expiry: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Lease:
        manager = self._manager
        self.held = held = await manager._acquire(self._key, self._name, self._wait)
        self._expiry = asyncio.get_running_loop().call_later(
            self._lease, manager._expire, held, self._name
        )
        return held

    async def __aexit__(self, *_: object) -> None:
        # Synchronous: a cancellation arriving here cannot interrupt the hand-off.
        if self._expiry is not None:
            self._expiry.cancel()
        self._manager._release(self._key)


class LocalLockManager:
    """Mutual exclusion between the tasks of one process.

    The releaser hands the lock straight to the oldest waiter, so a newcomer can never barge
    ahead of the queue and woken waiters never stampede. A lease past its time only sets
    `lost`: in one process the holder is still running, so handing the lock over would let two
    run at once; the holder learns it through `ensure_valid()` and rolls back instead.
    """

    backend: str = "local"

    def __init__(
        self, *, wait: float = 5.0, lease: float = 10.0, observer: LockObserver | None = None
    ) -> None:
        self.wait = wait
        self.lease = lease
        self._entries: dict[str, _Entry] = {}
        self._observer = observer or NullObserver()
        # One counter for all keys: fences keep increasing even after an entry was dropped.
        self._fences = itertools.count(1)
        self._waiting = 0

    def keys_count(self) -> int:
        """Keys with a holder or a waiter (0 when idle: the map never grows without bound)."""
        return len(self._entries)

    def waiters(self, key: str) -> int:
        """Tasks queued on `key`."""
        entry = self._entries.get(key)
        return 0 if entry is None else len(entry.waiters)

    def total_waiters(self) -> int:
        """Tasks queued on any key."""
        return self._waiting

    def held_count(self) -> int:
        """Keys currently held."""
        return sum(1 for entry in self._entries.values() if entry.holder is not None)

    def hold(
        self, key: str, *, name: str, wait: float | None = None, lease: float | None = None
    ) -> _Hold:
        """Hold `key` for the body; LockTimeout after `wait` seconds in the queue."""
        return _Hold(
            self,
            key,
            name,
            self.wait if wait is None else wait,
            self.lease if lease is None else lease,
        )

    async def _acquire(self, key: str, name: str, wait: float) -> Lease:
        task = asyncio.current_task()
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        elif entry.holder is not None and entry.holder is task:
            raise LockReentry(f"this task already holds {key}")
        if entry.holder is None and not entry.waiters:
            entry.holder = task
        else:
            await self._queue(key, entry, task, name, wait)
        return Lease(key, next(self._fences))

    async def _queue(
        self,
        key: str,
        entry: _Entry,
        task: asyncio.Task[object] | None,
        name: str,
        wait: float,
    ) -> None:
        waiter: _Waiter = (asyncio.get_running_loop().create_future(), task)
        entry.waiters.append(waiter)
        self._waiting += 1
        try:
            async with asyncio.timeout(wait):
                await waiter[0]
        except BaseException as exc:
            if waiter[0].done() and not waiter[0].cancelled():
                # The lock was handed over just as the wait ended: pass it on, not drop it.
                self._release(key)
            else:
                waiter[0].cancel()
                # A releaser may already have skipped (and so removed) this cancelled waiter.
                if waiter in entry.waiters:
                    entry.waiters.remove(waiter)
                    self._waiting -= 1
                self._drop_if_idle(key, entry)
            if isinstance(exc, TimeoutError):
                raise LockTimeout(
                    f"the {name} lock is still held by a previous request after {wait:g}s"
                ) from None
            raise

    def _release(self, key: str) -> None:
        entry = self._entries[key]
        entry.holder = None
        while entry.waiters:
            future, task = entry.waiters.popleft()
            self._waiting -= 1
            if not future.done():
                entry.holder = task
                future.set_result(None)
                return
        self._drop_if_idle(key, entry)

    def _drop_if_idle(self, key: str, entry: _Entry) -> None:
        if entry.holder is None and not entry.waiters and self._entries.get(key) is entry:
            del self._entries[key]

    def _expire(self, held: Lease, name: str) -> None:
        held.lost.set()
        self._observer.lease_lost(name, held.key)
