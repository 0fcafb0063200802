"""LocalLockManager edge cases that tests/unit/test_local_locks.py does not reach.

Each test here fails on a specific bug: an orphan holder after a hand-off to a cancelled task,
a lease expiry that hands the lock over, a leftover lease timer, a queue that loses its order
when a middle waiter leaves, introspection that drifts.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from contextlib import AbstractAsyncContextManager

import pytest

from shop.domain.errors import LeaseLost, LockTimeout
from shop.locks.lease import Lease
from shop.locks.local import LocalLockManager


class RecordingObserver:
    """Keeps the names of the locks whose lease lapsed."""

    def __init__(self) -> None:
        self.lost: list[str] = []

    def lease_lost(self, name: str, key: str) -> None:
        """Record it."""
        self.lost.append(name)


def hold(
    locks: LocalLockManager, key: str = "k", *, wait: float = 1.0, lease: float = 10.0
) -> AbstractAsyncContextManager[Lease]:
    return locks.hold(key, name="order", wait=wait, lease=lease)


async def enter(locks: LocalLockManager, order: list[int], n: int, *, wait: float = 1.0) -> None:
    async with hold(locks, wait=wait):
        order.append(n)


async def test_waiter_cancelled_after_hand_off_passes_the_lock_on() -> None:
    locks = LocalLockManager()
    order: list[int] = []
    async with hold(locks):
        first = asyncio.create_task(enter(locks, order, 1))
        second = asyncio.create_task(enter(locks, order, 2))
        await asyncio.sleep(0)
        assert locks.waiters("k") == 2
    # The release already made `first` the holder, but `first` has not run yet.
    assert (locks.held_count(), locks.waiters("k")) == (1, 1)
    first.cancel()
    async with asyncio.timeout(0.5):  # an orphan holder would leave `second` stuck here
        results = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert order == [2]
    assert (locks.keys_count(), locks.total_waiters(), locks.held_count()) == (0, 0, 0)
    async with hold(locks, wait=0.01):
        pass


async def test_cancelled_middle_waiter_keeps_the_rest_in_order() -> None:
    locks = LocalLockManager()
    order: list[int] = []
    async with hold(locks):
        tasks = [asyncio.create_task(enter(locks, order, n)) for n in range(3)]
        await asyncio.sleep(0)
        tasks[1].cancel()
        await asyncio.gather(tasks[1], return_exceptions=True)
        assert locks.waiters("k") == 2
        assert locks.total_waiters() == 2
    await asyncio.gather(tasks[0], tasks[2])
    assert order == [0, 2]
    assert locks.keys_count() == 0


async def test_timed_out_middle_waiter_leaves_the_queue_and_names_the_lock() -> None:
    locks = LocalLockManager()
    order: list[int] = []
    async with hold(locks):
        first = asyncio.create_task(enter(locks, order, 1))
        impatient = asyncio.create_task(enter(locks, order, 2, wait=0.02))
        last = asyncio.create_task(enter(locks, order, 3))
        with pytest.raises(LockTimeout, match="order"):
            await impatient
        assert locks.waiters("k") == 2
    await asyncio.gather(first, last)
    assert order == [1, 3]
    assert (locks.keys_count(), locks.total_waiters()) == (0, 0)


async def test_lease_expiry_does_not_hand_the_lock_over() -> None:
    observer = RecordingObserver()
    locks = LocalLockManager(observer=observer)
    order: list[int] = []
    async with hold(locks, lease=0.01) as lease:
        waiter = asyncio.create_task(enter(locks, order, 1))
        await asyncio.wait_for(lease.lost.wait(), 1.0)
        await asyncio.sleep(0.01)
        # The holder is still running: a second holder now would break mutual exclusion.
        assert not waiter.done()
        assert (locks.waiters("k"), locks.held_count()) == (1, 1)
        with pytest.raises(LeaseLost, match="k"):
            lease.ensure_valid()
    await asyncio.wait_for(waiter, 1.0)
    assert order == [1]
    assert observer.lost == ["order"]


async def test_release_cancels_the_lease_timer() -> None:
    observer = RecordingObserver()
    locks = LocalLockManager(observer=observer)
    async with hold(locks, lease=0.01) as lease:
        pass
    await asyncio.sleep(0.03)
    assert not lease.lost.is_set()
    assert observer.lost == []


async def test_lease_fields() -> None:
    locks = LocalLockManager()
    before = time.monotonic()
    async with hold(locks, "user:1") as first:
        assert first.key == "user:1"
        assert len(first.token) == 32
        int(first.token, 16)  # hex
        assert before <= first.acquired_at <= time.monotonic()
        first.ensure_valid()
    async with hold(locks, "user:1") as second:
        assert second.token != first.token
        assert second.fence > first.fence


async def test_fences_increase_per_key_across_keys_and_dropped_entries() -> None:
    locks = LocalLockManager()
    seen: dict[str, list[int]] = {"a": [], "b": []}
    for key in ["a", "b", "a", "a", "b", "a"]:
        async with hold(locks, key) as lease:
            seen[key].append(lease.fence)
        assert locks.keys_count() == 0
    for fences in seen.values():
        assert all(x < y for x, y in itertools.pairwise(fences))


async def test_introspection_counts_holders_and_waiters() -> None:
    locks = LocalLockManager()
    async with hold(locks, "a"), hold(locks, "b"):
        queued = [asyncio.create_task(_hold_key(locks, "a")) for _ in range(3)]
        await asyncio.sleep(0)
        assert (locks.keys_count(), locks.held_count(), locks.total_waiters()) == (2, 2, 3)
        assert (locks.waiters("a"), locks.waiters("b"), locks.waiters("idle")) == (3, 0, 0)
    await asyncio.gather(*queued)
    assert (locks.keys_count(), locks.held_count(), locks.total_waiters()) == (0, 0, 0)


async def _hold_key(locks: LocalLockManager, key: str) -> None:
    async with hold(locks, key):
        await asyncio.sleep(0)


async def test_reentry_with_a_queue_raises_and_leaves_the_queue_intact() -> None:
    locks = LocalLockManager()
    order: list[int] = []
    async with asyncio.timeout(1.0), hold(locks):
        waiter = asyncio.create_task(enter(locks, order, 1))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="k"):
            async with hold(locks):
                pass
        assert locks.waiters("k") == 1
    await asyncio.wait_for(waiter, 1.0)
    assert order == [1]
    assert locks.backend == "local"
