"""The Redis lock manager on a real redis-server (Lua never mocked), alone and as replicas."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from shop.adapters.mysql.pool import Database
from shop.adapters.redis.locks import RedisLockManager
from shop.domain.errors import LeaseLost, LockTimeout, LockUnavailable

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
async def raw() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def managers(prefix: str) -> AsyncIterator[list[RedisLockManager]]:
    """Two managers with clients of their own: two replicas."""
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    made = [RedisLockManager(c, prefix=prefix) for c in clients]
    yield made
    for manager in made:
        await manager.aclose()
    for client in clients:
        await client.aclose()


def hold(manager: RedisLockManager, key: str = "k", *, wait: float = 10, lease: float = 5):
    return manager.hold(key, name="test", wait=wait, lease=lease)


async def _contend(managers: list[RedisLockManager], tasks: int) -> tuple[int, int]:
    state = {"counter": 0, "inside": 0, "max": 0}

    async def worker(n: int) -> None:
        async with hold(managers[n % len(managers)]):
            state["inside"] += 1
            state["max"] = max(state["max"], state["inside"])
            value = state["counter"]
            await asyncio.sleep(0)
            state["counter"] = value + 1
            state["inside"] -= 1

    await asyncio.gather(*(worker(n) for n in range(tasks)))
    return state["counter"], state["max"]


async def test_one_manager_many_tasks(managers, raw, prefix) -> None:
    assert await _contend(managers[:1], 200) == (200, 1)
    assert managers[0].keys_count() == 0
    assert await raw.exists(f"{prefix}k") == 0


async def test_two_replicas_share_one_key(managers, raw, prefix) -> None:
    assert await _contend(managers, 200) == (200, 1)
    assert [m.keys_count() for m in managers] == [0, 0]
    assert await raw.exists(f"{prefix}k") == 0


async def test_different_keys_proceed_in_parallel(managers) -> None:
    both = asyncio.Event()
    inside = 0

    async def worker(key: str, manager: RedisLockManager) -> None:
        nonlocal inside
        async with hold(manager, key):
            inside += 1
            if inside == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 2)

    await asyncio.gather(worker("a", managers[0]), worker("b", managers[1]))


async def test_fences_strictly_increase_across_replicas(managers) -> None:
    fences = []
    for n in range(6):
        async with hold(managers[n % 2]) as lease:
            fences.append(lease.fence)
    assert fences == sorted(set(fences))


async def test_timeout_leaves_no_waiter_and_no_key(managers, raw, prefix) -> None:
    async with hold(managers[0]):
        started = time.monotonic()
        with pytest.raises(LockTimeout):
            async with hold(managers[1], wait=0.3):
                pass
        assert time.monotonic() - started < 1.0
        assert managers[1].keys_count() == 0
    assert await raw.exists(f"{prefix}k") == 0


async def test_cancelled_waiter_and_acquire_leave_no_orphan(managers, raw, prefix) -> None:
    async def body() -> None:
        async with hold(managers[1]):
            await asyncio.sleep(10)

    async with hold(managers[0]):
        waiter = asyncio.create_task(body())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    # Cancel acquires at every point of their flight, including with the script in progress.
    for delay in (0, 0.0005, 0.001, 0.002, 0.005):
        task = asyncio.create_task(body())
        await asyncio.sleep(delay)
        task.cancel()
        # The cancellation is honoured at once, wherever it landed (body included).
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 1.0)
    await asyncio.sleep(0.05)  # let shielded clean-ups finish
    assert await raw.exists(f"{prefix}k") == 0
    assert managers[1].keys_count() == 0
    started = time.monotonic()
    async with hold(managers[0], wait=1):
        pass
    assert time.monotonic() - started < 0.5


async def test_release_wakes_the_other_replica_by_message(prefix) -> None:
    # Timers of 5 s: a waiter that gets the lock sooner was woken by the release message.
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    first, second = (RedisLockManager(c, prefix=prefix, timer_fallback=5.0) for c in clients)
    try:
        async with hold(first):
            waiter = asyncio.create_task(_hold_once(second))
            await asyncio.sleep(0.05)
            released = time.monotonic()
        await waiter
        assert time.monotonic() - released < 1.0
    finally:
        for manager in (first, second):
            await manager.aclose()
        for client in clients:
            await client.aclose()


async def _hold_once(manager: RedisLockManager) -> None:
    async with hold(manager):
        pass


async def test_lost_release_message_falls_back_on_the_timer(managers, raw, prefix) -> None:
    lease = None

    async def second() -> None:
        async with hold(managers[1], wait=5):
            pass

    cm = hold(managers[0])
    lease = await cm.__aenter__()
    task = asyncio.create_task(second())
    await asyncio.sleep(0.05)
    await raw.delete(f"{prefix}k")  # the key goes away with no PUBLISH
    await asyncio.wait_for(task, 2)
    managers[0]._held.pop(lease.token, None)
    await cm.__aexit__(None, None, None)


async def test_lost_lease_is_reported_and_a_stale_fence_writes_nothing(
    managers, raw, prefix, database: Database
) -> None:
    row = uuid.uuid4().hex
    async with database.session() as s:
        await s.execute(
            "t",
            "CREATE TABLE IF NOT EXISTS fenced_writes (id VARCHAR(64) PRIMARY KEY,"
            " fence BIGINT NOT NULL, value VARCHAR(20) NOT NULL)",
        )
        await s.execute("t", "INSERT INTO fenced_writes VALUES (%s, 0, 'none')", (row,))

    async def fenced_write(fence: int, value: str) -> int:
        async with database.session() as s:
            return await s.execute(
                "t",
                "UPDATE fenced_writes SET fence = %s, value = %s WHERE id = %s AND fence < %s",
                (fence, value, row, fence),
            )

    async with hold(managers[0], lease=5) as first:
        # The lease lapses (simulated: the key expires) and the other replica takes the lock.
        await raw.delete(f"{prefix}k")
        async with hold(managers[1]) as second:
            assert second.fence > first.fence
            assert await fenced_write(second.fence, "second") == 1
            await managers[0].renew_now()
            assert first.lost.is_set()
            with pytest.raises(LeaseLost):
                first.ensure_valid()
            assert await fenced_write(first.fence, "first") == 0  # the stale holder is refused
    async with database.session() as s:
        assert await s.fetch_one("t", "SELECT value FROM fenced_writes WHERE id = %s", (row,)) == (
            "second",
        )


async def test_unreachable_redis_fails_fast_with_lock_unavailable(prefix) -> None:
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    manager = RedisLockManager(client, prefix=prefix)
    try:
        for _ in range(3):  # the first trips the breaker, the next fail without a round trip
            started = time.monotonic()
            with pytest.raises(LockUnavailable):
                async with hold(manager, wait=5):
                    pass
            assert time.monotonic() - started < 1.5
        assert manager.keys_count() == 0
    finally:
        await manager.aclose()
        await client.aclose()


async def test_many_distinct_keys_leave_nothing_behind(managers) -> None:
    for n in range(2_000):
        async with hold(managers[n % 2], f"user:{n}"):
            pass
    assert [m.keys_count() for m in managers] == [0, 0]
    assert [m.held_count() for m in managers] == [0, 0]


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "exact"), [("redis", True), ("local", False)])
async def test_across_processes_only_the_redis_backend_excludes(
    backend: str, exact: bool, raw, prefix
) -> None:
    counter = f"{prefix}tally"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.integration.lock_worker", backend, counter, prefix, "100"
        )
        for _ in range(3)
    ]
    for proc in procs:
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    total = int(await raw.get(counter))
    if exact:
        assert total == 300
    else:
        # In-process locks do not reach the other processes: their read-modify-writes collide.
        assert total < 300
