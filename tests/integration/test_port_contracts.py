"""The guard contracts of the ports, checked on MySQL and on the in-memory fakes alike.

The use-case tests trust the fakes to refuse what MySQL refuses; this keeps them honest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.store import MySqlStore

from ..factories import Factory
from ..unit.fakes import MemoryStore, World

NOW = datetime.now(UTC).replace(microsecond=0)


class _Rows:
    """Makes rows in either store and hands back a store to test."""

    def __init__(self, kind: str, factory: Factory, database: Database) -> None:
        self.kind = kind
        self._factory = factory
        self._world = World()
        self.store: Any = (
            MySqlStore(database) if kind == "mysql" else MemoryStore(self._world.tables)
        )

    async def user(self, balance: int) -> str:
        if self.kind == "mysql":
            return await self._factory.user(balance=balance)
        return self._world.user(f"u{len(self._world.tables.balances)}", balance=balance)

    async def product(self, stock: int) -> str:
        if self.kind == "mysql":
            return await self._factory.product(stock=stock)
        return self._world.product(f"p{len(self._world.tables.products)}", stock=stock)

    async def coupon(self, quantity: int, expires_in: timedelta) -> str:
        if self.kind == "mysql":
            return await self._factory.coupon(quantity=quantity, expires_in=expires_in)
        return self._world.coupon(
            f"c{len(self._world.tables.coupons)}",
            total_quantity=quantity,
            expires_at=datetime.now(UTC) + expires_in,
        )


@pytest.fixture(params=["mysql", "memory"])
def rows(request: pytest.FixtureRequest, factory: Factory, database: Database) -> _Rows:
    return _Rows(request.param, factory, database)


async def test_credit_and_debit_refuse_and_change_nothing(rows: _Rows) -> None:
    user = await rows.user(balance=100)

    async def work(tx: Any) -> None:
        assert await tx.users.credit(user, 51, limit=150) is None
        assert not await tx.users.debit_many({user: 101})
        assert await tx.users.credit("nobody", 1, limit=150) is None
        assert not await tx.users.debit_many({"nobody": 1})
        assert await tx.users.balance(user) == 100
        assert await tx.users.credit(user, 50, limit=150) == 150
        assert await tx.users.debit_many({user: 150})
        assert await tx.users.balance(user) == 0

    await rows.store.transaction(work)


async def test_take_stock_never_goes_below_zero_and_says_so(rows: _Rows) -> None:
    plenty, short = await rows.product(stock=10), await rows.product(stock=1)

    async def refused(tx: Any) -> None:
        assert not await tx.products.take_stock({plenty: 3, short: 2})
        assert (await tx.products.get(short)).stock == 1
        raise LookupError("False means: roll back")

    with pytest.raises(LookupError):
        await rows.store.transaction(refused)

    async def taken(tx: Any) -> None:
        assert await tx.products.take_stock({plenty: 3, short: 1})

    await rows.store.transaction(taken)
    stock = await rows.store.autocommit(lambda tx: tx.products.lock([plenty, short]))
    assert [stock[p].stock for p in (plenty, short)] == [7, 0]


async def test_coupon_takes_and_grants_are_guarded(rows: _Rows) -> None:
    coupon = await rows.coupon(quantity=1, expires_in=timedelta(days=1))
    expired = await rows.coupon(quantity=5, expires_in=timedelta(seconds=-1))
    user = await rows.user(balance=0)

    async def work(tx: Any) -> None:
        now = datetime.now(UTC)
        assert not await tx.coupons.take(expired, 1, now=now)
        assert not await tx.coupons.take(coupon, 2, now=now)
        assert await tx.coupons.take(coupon, 1, now=now)
        assert not await tx.coupons.take(coupon, 1, now=now)
        ids = await tx.coupons.grant_many(coupon, [user], now=now)
        assert ids is not None
        granted = ids[user]
        assert await tx.coupons.gate_snapshot(coupon) == (0, [user])
        assert await tx.coupons.mark_used_many({granted: 1}, now=now)
        assert not await tx.coupons.mark_used_many({granted: 2}, now=now)

    await rows.store.transaction(work)


async def test_cart_lines_are_bounded_and_owned(rows: _Rows) -> None:
    alice, bob = await rows.user(balance=0), await rows.user(balance=0)
    product = await rows.product(stock=5)

    async def work(tx: Any) -> None:
        mine = await tx.carts.ensure(alice, now=NOW)
        theirs = await tx.carts.ensure(bob, now=NOW)
        line = await tx.carts.add(mine, product, 998, max_quantity=999, now=NOW)
        assert line is not None
        assert await tx.carts.add(mine, product, 2, max_quantity=999, now=NOW) is None
        assert [i.quantity for i in await tx.carts.items(mine)] == [998]
        assert not await tx.carts.set_quantity(theirs, line, 1)
        assert not await tx.carts.remove(theirs, line)
        assert await tx.carts.set_quantity(mine, line, 5)
        assert await tx.carts.remove(mine, line)
        assert await tx.carts.items(mine) == []

    await rows.store.autocommit(work)


async def test_a_transaction_that_raises_leaves_nothing(rows: _Rows) -> None:
    user = await rows.user(balance=100)

    async def work(tx: Any) -> None:
        await tx.users.debit_many({user: 60})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await rows.store.transaction(work)
    assert await rows.store.autocommit(lambda tx: tx.users.balance(user)) == 100
