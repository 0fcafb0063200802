"""The Redis lock manager on a real redis-server (Lua never mocked), alone and as replicas."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.store import MySqlStore
from shop.adapters.redis.locks import RedisLockManager
from shop.app import utc_now
from shop.domain.errors import LeaseLost, LockTimeout, LockUnavailable
from shop.locks.lease import Lease
from shop.telemetry import Telemetry
from shop.use_cases.balance import charge_balance
from shop.use_cases.deps import Deps

from ..conftest import REDIS_URL
from ..factories import Factory
from ..locks import all_inside_at_once
from ..polling import until
from ..stores import InterceptingStore


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return f"{redis_prefix}{uuid.uuid4().hex[:12]}:"


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


async def test_two_managers_in_one_process_share_one_key(managers, raw, prefix) -> None:
    assert await _contend(managers, 200) == (200, 1)
    assert [m.keys_count() for m in managers] == [0, 0]
    assert await raw.exists(f"{prefix}k") == 0


async def test_different_keys_proceed_in_parallel(managers) -> None:
    await all_inside_at_once([hold(managers[0], "a"), hold(managers[1], "b")], 2)


async def test_fences_strictly_increase_across_replicas(managers) -> None:
    fences = []
    for n in range(6):
        async with hold(managers[n % 2]) as lease:
            fences.append(lease.fence)
    assert fences == sorted(set(fences))


async def test_timeout_leaves_no_waiter_and_no_key(managers, raw, prefix) -> None:
    async with hold(managers[0]):
        with pytest.raises(LockTimeout):
            async with hold(managers[1], wait=0.3):
                pass
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
    async with hold(managers[0], wait=1):  # nothing orphaned stands in the way
        pass


async def test_release_wakes_the_other_replica_by_message(prefix) -> None:
    # Timers of 60 s: the waiter can only have been woken by the release message.
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    telemetry = Telemetry.disabled()
    first = RedisLockManager(clients[0], prefix=prefix, timer_fallback=60.0)
    second = _Refusals(clients[1], prefix=prefix, timer_fallback=60.0, telemetry=telemetry)
    registry = telemetry.metrics.registry
    try:
        async with hold(first):
            waiter = asyncio.create_task(_hold_once(second))
            await until(lambda: _asked(second))
        await asyncio.wait_for(waiter, 30)
        woken = {
            source: registry.get_sample_value(
                "shop_lock_wakeups_total", {"backend": "redis", "source": source}
            )
            for source in ("pubsub", "timer")
        }
        assert woken["pubsub"] >= 1
        assert not woken["timer"]  # never woken by the timer (the counter may sit at zero)
    finally:
        for manager in (first, second):
            await manager.aclose()
        for client in clients:
            await client.aclose()


class _Refusals(RedisLockManager):
    """Counts the acquire scripts Redis answered with a refusal (the key was taken)."""

    refused = 0

    async def _call_acquire(self, redis_key: str, token: str, lease_ms: int) -> int:
        answer = await super()._call_acquire(redis_key, token, lease_ms)
        self.refused += answer == 0
        return answer


def _asked(manager: _Refusals) -> bool:
    """The manager has been refused once and is now waiting for a release."""
    return manager.refused > 0


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


async def test_a_holder_whose_lease_lapsed_writes_nothing(
    managers, raw, prefix, database: Database, factory: Factory
) -> None:
    user = await factory.user(balance=0)
    key = f"charge:user:{user}"
    second: list[Lease] = []
    hold_second = hold(managers[1], key)

    async def lapse() -> None:
        # The lease lapses (simulated: the key expires) and the other replica takes the lock;
        # the first holder's watchdog then finds its lease gone.
        await raw.delete(f"{prefix}{key}")
        second.append(await hold_second.__aenter__())
        await managers[0].renew_now()

    stale = InterceptingStore(database, "users", "credit", lapse)
    with pytest.raises(LeaseLost):
        await charge_balance(deps=_deps(stale, managers[0]), user_id=user, amount=5)
    # The stale holder rolled back, and its release left the new holder's lock alone.
    assert await raw.exists(f"{prefix}{key}") == 1
    await hold_second.__aexit__(None, None, None)
    receipt = await charge_balance(
        deps=_deps(MySqlStore(database), managers[1]), user_id=user, amount=7
    )
    assert receipt.current_balance == 7
    assert second[0].fence > 0
    assert await factory.rows("SELECT amount FROM balance_history WHERE user_id = %s", user) == [
        (7,)
    ]


def _deps(store: MySqlStore, locks: RedisLockManager) -> Deps:
    return Deps(
        store=store,
        locks=locks,
        clock=utc_now,
        order_lock_scope=lambda: "user",
    )


async def test_unreachable_redis_fails_fast_with_lock_unavailable(prefix) -> None:
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    telemetry = Telemetry.disabled()
    manager = RedisLockManager(client, prefix=prefix, telemetry=telemetry)
    try:
        for _ in range(3):  # the first trips the breaker, the next fail without a round trip
            with pytest.raises(LockUnavailable):
                async with hold(manager, wait=5):
                    pass
        tripped = telemetry.metrics.registry.get_sample_value(
            "shop_lock_backend_errors_total", {"backend": "redis", "op": "acquire"}
        )
        assert tripped == 1
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
