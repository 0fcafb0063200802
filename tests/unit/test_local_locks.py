"""The in-process lock manager under contention, timeouts and cancellation."""

from __future__ import annotations

import asyncio

import pytest

from shop.domain.errors import LeaseLost, LockTimeout
from shop.locks.lease import LockReentry
from shop.locks.local import LocalLockManager

from ..locks import all_inside_at_once


@pytest.fixture
def locks() -> LocalLockManager:
    return LocalLockManager()


def hold(locks: LocalLockManager, key: str = "k", *, wait: float = 5.0, lease: float = 10.0):
    return locks.hold(key, name="test", wait=wait, lease=lease)


async def test_many_tasks_one_key_never_two_holders(locks: LocalLockManager) -> None:
    state = {"counter": 0, "inside": 0, "max_inside": 0}

    async def worker() -> None:
        async with hold(locks):
            state["inside"] += 1
            state["max_inside"] = max(state["max_inside"], state["inside"])
            value = state["counter"]
            await asyncio.sleep(0)  # a real race would interleave here and lose updates
            state["counter"] = value + 1
            state["inside"] -= 1

    await asyncio.gather(*(worker() for _ in range(200)))
    assert state["counter"] == 200
    assert state["max_inside"] == 1
    assert locks.keys_count() == 0
    assert locks.total_waiters() == 0


async def test_different_keys_proceed_in_parallel(locks: LocalLockManager) -> None:
    await all_inside_at_once([hold(locks, "a"), hold(locks, "b")], 1.0)


async def test_waiters_are_served_in_arrival_order(locks: LocalLockManager) -> None:
    order: list[int] = []
    async with hold(locks):
        tasks = []
        for n in range(10):
            tasks.append(asyncio.create_task(_record(locks, order, n)))
            await asyncio.sleep(0)  # queue them one after another
        assert locks.waiters("k") == 10
    await asyncio.gather(*tasks)
    assert order == list(range(10))


async def _record(locks: LocalLockManager, order: list[int], n: int) -> None:
    async with hold(locks):
        order.append(n)


async def test_newcomer_cannot_barge_ahead_of_the_queue(locks: LocalLockManager) -> None:
    order: list[str] = []
    async with hold(locks):
        queued = asyncio.create_task(_record_name(locks, order, "queued"))
        await asyncio.sleep(0)
    # Released: ownership already belongs to the queued waiter, not to whoever asks next.
    late = asyncio.create_task(_record_name(locks, order, "late"))
    await asyncio.gather(queued, late)
    assert order == ["queued", "late"]


async def _record_name(locks: LocalLockManager, order: list[str], name: str) -> None:
    async with hold(locks):
        order.append(name)


async def test_timeout_raises_and_leaves_no_waiter(locks: LocalLockManager) -> None:
    async def contender() -> None:
        async with hold(locks, wait=0.05):
            pass

    async with hold(locks):
        with pytest.raises(LockTimeout, match="test"):
            await asyncio.create_task(contender())
        assert locks.waiters("k") == 0
    assert locks.keys_count() == 0


async def test_cancelled_waiter_leaves_nothing_behind(locks: LocalLockManager) -> None:
    async with hold(locks):
        waiter = asyncio.create_task(_record(locks, [], 0))
        await asyncio.sleep(0)
        assert locks.waiters("k") == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert locks.waiters("k") == 0
    assert locks.keys_count() == 0
    async with hold(locks, wait=0.01):  # free at once
        pass


async def test_waiter_cancelled_just_after_hand_off_passes_the_lock_on(
    locks: LocalLockManager,
) -> None:
    order: list[int] = []
    first = asyncio.create_task(_record(locks, order, 1))
    second = asyncio.create_task(_record(locks, order, 2))
    async with hold(locks):
        await asyncio.sleep(0)
        first.cancel()  # cancelled while queued...
    # ...and also released to in the same loop iteration: the hand-off must move on to second.
    await asyncio.gather(first, second, return_exceptions=True)
    assert order == [2]
    assert locks.keys_count() == 0


async def test_cancelled_body_releases(locks: LocalLockManager) -> None:
    entered = asyncio.Event()

    async def body() -> None:
        async with hold(locks):
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(body())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert locks.keys_count() == 0
    async with hold(locks, wait=0.01):
        pass


async def test_lock_chains_survive_random_cancellations(locks: LocalLockManager) -> None:
    done = 0

    async def worker() -> None:
        nonlocal done
        async with hold(locks):
            await asyncio.sleep(0.001)
            done += 1

    tasks = [asyncio.create_task(worker()) for _ in range(100)]
    await asyncio.sleep(0.01)
    for task in tasks[::3]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
    assert done + cancelled == 100
    assert locks.keys_count() == 0
    assert locks.total_waiters() == 0


async def test_100k_distinct_keys_leave_no_entry(locks: LocalLockManager) -> None:
    for n in range(100_000):
        async with hold(locks, f"user:{n}"):
            pass
    assert locks.keys_count() == 0


async def test_fences_strictly_increase_even_after_the_entry_is_dropped(
    locks: LocalLockManager,
) -> None:
    fences = []
    for _ in range(5):
        async with hold(locks) as lease:
            fences.append(lease.fence)
        assert locks.keys_count() == 0
    assert fences == sorted(set(fences))


async def test_lease_expiry_sets_lost(locks: LocalLockManager) -> None:
    async with hold(locks, lease=0.02) as lease:
        lease.ensure_valid()
        await asyncio.wait_for(lease.lost.wait(), 1.0)
        with pytest.raises(LeaseLost):
            lease.ensure_valid()


async def test_reentry_raises_instead_of_hanging(locks: LocalLockManager) -> None:
    async with asyncio.timeout(1.0), hold(locks):
        with pytest.raises(LockReentry):
            async with hold(locks):
                pass
    assert locks.keys_count() == 0
