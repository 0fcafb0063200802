"""Balance use cases on in-memory fakes: charges, limits, history."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shop.domain.errors import BalanceLimitExceeded, UserNotFound
from shop.domain.money import MAX_BALANCE
from shop.domain.users import BalanceReason
from shop.use_cases.balance import balance_history, charge_balance, get_balance

from ..polling import until
from .fakes import World


@pytest.fixture
def world() -> World:
    return World()


async def test_charge_adds_and_records_one_history_row(world: World) -> None:
    user = world.user(balance=100)
    receipt = await charge_balance(deps=world.deps, user_id=user, amount=50)
    assert (receipt.previous_balance, receipt.charged_amount, receipt.current_balance) == (
        100,
        50,
        150,
    )
    assert receipt.charged_at == world.clock.now
    assert await get_balance(deps=world.deps, user_id=user) == 150
    [change] = await balance_history(deps=world.deps, user_id=user, limit=10)
    assert (change.amount, change.previous_balance, change.current_balance) == (50, 100, 150)
    assert change.reason is BalanceReason.CHARGE


async def test_charge_past_the_maximum_is_refused_and_writes_nothing(world: World) -> None:
    user = world.user(balance=MAX_BALANCE - 10)
    with pytest.raises(BalanceLimitExceeded) as refused:
        await charge_balance(deps=world.deps, user_id=user, amount=11)
    assert refused.value.code == "B002"
    assert world.tables.balances[user] == MAX_BALANCE - 10
    assert world.tables.history == []
    receipt = await charge_balance(deps=world.deps, user_id=user, amount=10)
    assert receipt.current_balance == MAX_BALANCE  # up to the maximum exactly is fine


@pytest.mark.parametrize(
    "call",
    [
        lambda deps: get_balance(deps=deps, user_id="nobody"),
        lambda deps: charge_balance(deps=deps, user_id="nobody", amount=5),
        lambda deps: balance_history(deps=deps, user_id="nobody", limit=5),
    ],
    ids=["balance", "charge", "history"],
)
async def test_unknown_user_is_u001(world: World, call) -> None:
    with pytest.raises(UserNotFound) as refused:
        await call(world.deps)
    assert refused.value.code == "U001"
    assert world.tables.history == []


async def test_history_is_newest_first_and_limited(world: World) -> None:
    user = world.user()
    for amount in (1, 2, 3, 4):
        world.clock.now += timedelta(seconds=1)
        await charge_balance(deps=world.deps, user_id=user, amount=amount)
    changes = await balance_history(deps=world.deps, user_id=user, limit=3)
    assert [c.amount for c in changes] == [4, 3, 2]
    assert [c.current_balance for c in changes] == [10, 6, 3]


async def test_a_charge_waits_for_the_users_charge_lock(world: World) -> None:
    user = world.user()
    key = f"charge:user:{user}"
    async with world.locks.hold(key, name="charge", wait=1, lease=5):
        charge = asyncio.create_task(charge_balance(deps=world.deps, user_id=user, amount=1))
        await until(lambda: charge.done() or world.locks.waiters(key) > 0)
        assert not charge.done()
        assert world.tables.balances[user] == 0
    assert (await charge).current_balance == 1
