"""Group commit of orders on the real MariaDB: one transaction, each order its own answer.

The stale views below play a writer outside the locks (or a bug in the rule): the batch's
reads allow what the database guards then refuse, so the race the guards exist for happens
every time instead of once in a long while.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.store import MySqlStore, MySqlTx
from shop.app import utc_now
from shop.domain.errors import ShopError
from shop.domain.orders import Order
from shop.locks.lease import Lease
from shop.use_cases import orders
from shop.use_cases.idempotency import KeyPolicy, Reply, once
from shop.use_cases.order_batches import OrderBatches

from ..factories import Factory
from ..polling import until
from ..stores import CountingStore, InterceptingStore
from .keyed import batch_deps, keyed_request

PRICE = 1_000


def _batches(store: Any) -> OrderBatches:
    return OrderBatches(store, utc_now, max_batch=100, parallel=1, timeout=10.0)


async def _answers(
    batches: OrderBatches, asked: list[tuple[str, str | None]], leases: list[Lease] | None = None
) -> list[Any]:
    # gather starts every order before the batch runs: they all queue for the same batch
    return await asyncio.gather(
        *(
            batches.place(user, coupon, lease=None if leases is None else leases[n])
            for n, (user, coupon) in enumerate(asked)
        ),
        return_exceptions=True,
    )


async def _carts(factory: Factory, count: int, quantity: int = 1) -> tuple[str, list[str]]:
    """A product with 10 in stock, and `count` users with 5,000 each and `quantity` of it in
    their carts."""
    product = await factory.product(price=PRICE, stock=10)
    users = await factory.users(count, balance=5_000)
    for user in users:
        await factory.cart(user, product, quantity)
    return product, users


def _kinds(answers: list[Any]) -> list[str]:
    return [
        "ok" if isinstance(a, Order) else a.code if isinstance(a, ShopError) else repr(a)
        for a in answers
    ]


async def _state(factory: Factory, user: str) -> tuple[object, ...]:
    """Balance, orders, payments, history rows, cart lines and coupons used of one user."""
    return (
        await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user),
        await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user),
        await factory.scalar("SELECT COUNT(*) FROM payments WHERE user_id = %s", user),
        await factory.scalar("SELECT COUNT(*) FROM balance_history WHERE user_id = %s", user),
        await factory.scalar(
            "SELECT COUNT(*) FROM cart_items ci JOIN carts c ON c.cart_id = ci.cart_id"
            " WHERE c.user_id = %s",
            user,
        ),
        await factory.scalar(
            "SELECT COUNT(*) FROM user_coupons WHERE user_id = %s AND status = 'USED'", user
        ),
    )


def _paid(balance: int) -> tuple[object, ...]:
    return (balance, 1, 1, 1, 0, 0)


def _untouched(balance: int) -> tuple[object, ...]:
    return (balance, 0, 0, 0, 1, 0)


async def _stock(factory: Factory, product: str) -> object:
    return await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product)


async def _grant(store: MySqlStore, coupon: str, user: str) -> None:
    await store.transaction(lambda tx: tx.coupons.grant_many(coupon, [user], now=utc_now()))


async def test_one_transaction_answers_each_order_its_own(
    database: Database, factory: Factory
) -> None:
    product = await factory.product(price=PRICE, stock=100)
    first, poor, empty, with_coupon, last = await factory.users(5, balance=10_000)
    await factory.scalar("UPDATE users SET balance = 10 WHERE user_id = %s", poor)
    for user in (first, poor, with_coupon, last):
        await factory.cart(user, product, 2)
    coupon = await factory.coupon(value=500)
    await _grant(MySqlStore(database), coupon, with_coupon)
    store = CountingStore(MySqlStore(database))
    asked = [
        (first, None),
        (poor, None),
        ("nobody-" + first, None),
        (empty, None),
        (with_coupon, coupon),
        (first, None),  # the same user again: the first order emptied the cart
        (last, None),
    ]
    answers = await _answers(_batches(store), asked)
    assert _kinds(answers) == ["ok", "PAY001", "U001", "O001", "ok", "O001", "ok"]
    assert store.transactions == 1
    assert [a.final_amount for a in answers if isinstance(a, Order)] == [2_000, 1_500, 2_000]
    assert await _state(factory, first) == _paid(8_000)
    assert await _state(factory, last) == _paid(8_000)
    assert await _state(factory, with_coupon) == (8_500, 1, 1, 1, 0, 1)
    # Refused orders wrote nothing, though they shared the transaction of those paid.
    assert await _state(factory, poor) == _untouched(10)
    assert await _stock(factory, product) == 100 - 6
    for answer in answers:
        if isinstance(answer, Order):  # each answer names its own committed order
            assert await factory.scalar(
                "SELECT user_id FROM orders WHERE order_id = %s", answer.order_id
            ) == (answer.user_id)
            assert await factory.scalar(
                "SELECT SUM(quantity) FROM order_items WHERE order_id = %s", answer.order_id
            ) == sum(line.quantity for line in answer.lines)


async def test_a_batch_short_of_stock_runs_again_locked_and_exact(
    database: Database, factory: Factory
) -> None:
    product = await factory.product(price=PRICE, stock=3)
    users = await factory.users(6, balance=10_000)
    for user in users:
        await factory.cart(user, product)
    store = CountingStore(MySqlStore(database))
    answers = await _answers(_batches(store), [(u, None) for u in users])
    # The unlocked first pass takes 6 of 3: refused whole, then the stock is read locked.
    assert _kinds(answers) == ["ok"] * 3 + ["P002"] * 3
    assert store.transactions == 2
    assert await _stock(factory, product) == 0
    for user in users[:3]:
        assert await _state(factory, user) == _paid(9_000)
    for user in users[3:]:
        assert await _state(factory, user) == _untouched(10_000)


class _StaleBalances:
    """A balance read that shows `extra` more than the row holds for `user`."""

    def __init__(self, inner: Any, user: str, extra: int) -> None:
        self._inner, self._user, self._extra = inner, user, extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def lock_balances(self, user_ids: Any) -> dict[str, int]:
        found: dict[str, int] = await self._inner.lock_balances(user_ids)
        if self._user in found:
            found[self._user] += self._extra
        return found


class StaleBalanceStore(MySqlStore):
    def __init__(self, database: Database, user: str, extra: int) -> None:
        super().__init__(database)
        self._stale = (user, extra)

    async def transaction(self, work: Any, *, fence: Any = None) -> Any:
        async def stale(tx: MySqlTx) -> Any:
            tx.users = _StaleBalances(tx.users, *self._stale)  # type: ignore[misc]
            return await work(tx)

        return await super().transaction(stale, fence=fence)


async def test_a_guard_refusing_what_the_reads_allowed_splits_the_batch(
    database: Database, factory: Factory
) -> None:
    product, (before, stale, after) = await _carts(factory, 3, quantity=2)
    await factory.scalar("UPDATE users SET balance = 500 WHERE user_id = %s", stale)
    store = CountingStore(StaleBalanceStore(database, stale, 1_000_000))
    answers = await _answers(_batches(store), [(before, None), (stale, None), (after, None)])
    # The debit's guard refused the whole batch; each order then ran alone, and the database
    # had the last word on the one whose balance was read wrong.
    assert _kinds(answers) == ["ok", "PAY001", "ok"]
    assert store.transactions == 1 + 3
    assert await _state(factory, stale) == _untouched(500)
    assert await _state(factory, before) == _paid(3_000)
    assert await _state(factory, after) == _paid(3_000)
    assert await _stock(factory, product) == 10 - 4


async def test_an_order_whose_lease_lapsed_fails_alone(
    database: Database, factory: Factory
) -> None:
    product, (kept, lapsed) = await _carts(factory, 2)
    leases = [Lease(f"order:user:{kept}", 1), Lease(f"order:user:{lapsed}", 1)]
    leases[1].lost.set()  # another holder may have the user's lock by now
    store = CountingStore(MySqlStore(database))
    answers = await _answers(_batches(store), [(kept, None), (lapsed, None)], leases)
    assert _kinds(answers) == ["ok", "LOCK003"]
    assert store.transactions == 2  # rolled back at the commit, then again without it
    assert await _state(factory, kept) == _paid(4_000)
    assert await _state(factory, lapsed) == _untouched(5_000)
    assert await _stock(factory, product) == 9


async def test_keyed_orders_join_a_batch_and_their_outcomes_commit_with_it(
    database: Database, factory: Factory
) -> None:
    product, (plain, winner, poor) = await _carts(factory, 3)
    await factory.scalar("UPDATE users SET balance = 0 WHERE user_id = %s", poor)
    store = CountingStore(MySqlStore(database))
    placements = _batches(store)
    deps = batch_deps(store, order_placements=placements)

    async def keyed(user: str) -> Reply[Order]:
        return await once(
            deps=deps,
            policy=KeyPolicy(),
            request=keyed_request(user, "/orders"),
            effect=lambda seal: orders.place_order(
                deps=deps, user_id=user, coupon_id=None, seal=seal
            ),
            result_type=Order,
        )

    # The product row held: the plain order's batch waits, the keyed ones queue behind it.
    async with factory.locked("SELECT 1 FROM products WHERE product_id = %s FOR UPDATE", product):
        placed = asyncio.create_task(orders.place_order(deps=deps, user_id=plain, coupon_id=None))
        await until(lambda: placements.queued() == 0 and store.transactions == 1)
        replies = [asyncio.create_task(keyed(user)) for user in (winner, poor)]
        await until(lambda: placements.queued() == 2)
    assert isinstance(await placed, Order)
    won, refused = await asyncio.gather(*replies)
    assert store.transactions == 2  # both keyed orders in one batch
    assert isinstance(won.result, Order)
    assert isinstance(refused.result, ShopError)
    assert refused.result.code == "PAY001"
    # Each outcome committed with its batch: a retry replays it, with no second effect.
    assert await keyed(winner) == replace(won, replayed=True)
    again = await keyed(poor)
    assert again.replayed
    assert (type(again.result), again.at) == (type(refused.result), refused.at)
    assert store.transactions == 2
    assert await _state(factory, winner) == _paid(4_000)


async def _pause() -> None:
    await asyncio.sleep(0.2)


async def test_one_users_orders_in_parallel_batches_pay_once(
    database: Database, factory: Factory
) -> None:
    product = await factory.product(price=PRICE, stock=10)
    user = await factory.user(balance=10_000)
    await factory.cart(user, product)
    # Batches of one, two at once, and no lock manager in front: the database alone must
    # serialise the user's two orders (the second then finds the cart empty). Each batch
    # pauses between its reads and its writes, so without that both would read a full cart.
    store = InterceptingStore(database, "orders", "add_many", _pause)
    batches = OrderBatches(store, utc_now, max_batch=1, parallel=2, timeout=10.0)
    answers = await _answers(batches, [(user, None), (user, None)])
    assert sorted(_kinds(answers)) == ["O001", "ok"]
    assert await _state(factory, user) == _paid(9_000)


@pytest.mark.parametrize("max_batch", [1, 100])
async def test_orders_racing_for_the_last_units_never_oversell(
    database: Database, factory: Factory, max_batch: int
) -> None:
    product = await factory.product(price=PRICE, stock=20)
    users = await factory.users(60, balance=10_000)
    for user in users:
        await factory.cart(user, product)
    # Several batches in flight at once, each reading the stock unlocked.
    batches = OrderBatches(
        MySqlStore(database), utc_now, max_batch=max_batch, parallel=4, timeout=30.0
    )
    answers = await asyncio.gather(*(batches.place(u, None) for u in users), return_exceptions=True)
    assert sorted(_kinds(answers)) == ["P002"] * 40 + ["ok"] * 20
    assert await _stock(factory, product) == 0
    assert (
        await factory.scalar("SELECT SUM(quantity) FROM order_items WHERE product_id = %s", product)
        == 20
    )
