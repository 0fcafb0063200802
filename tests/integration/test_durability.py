"""All or nothing when a request is cancelled mid-transaction; migrations and seed idempotent
(the seed also when it grows a data set over several batches)."""

from __future__ import annotations

import asyncio

import pytest

from shop.adapters.mysql import seed
from shop.adapters.mysql.migrations import migrate
from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.seed import seed_dataset
from shop.adapters.mysql.store import MySqlStore, MySqlTx
from shop.app import utc_now
from shop.domain.errors import LeaseLost
from shop.locks.local import LocalLockManager
from shop.use_cases.balance import charge_balance
from shop.use_cases.deps import Deps
from shop.use_cases.orders import place_order

from ..factories import Factory
from ..stores import InterceptingStore


def _deps(store: MySqlStore, *, lease: float = 10) -> Deps:
    return Deps(
        store=store,
        locks=LocalLockManager(wait=5, lease=lease),
        clock=utc_now,
        order_lock_scope=lambda: "user",
    )


class _WatchedStore(MySqlStore):
    """Counts the transactions a cancellation interrupted after they began; every other one is
    cancelled a moment after its BEGIN, so some surely land inside however busy the machine."""

    cancelled_inside = 0
    begun = 0

    async def transaction(self, work, *, fence=None):
        async def watched(tx: MySqlTx):
            self.begun += 1
            if self.begun % 2:
                task = asyncio.current_task()
                assert task is not None
                asyncio.get_running_loop().call_later(0.001 * (self.begun % 5), task.cancel)
            try:
                return await work(tx)
            except asyncio.CancelledError:
                self.cancelled_inside += 1
                raise

        return await super().transaction(watched, fence=fence)


async def test_cancelled_orders_commit_whole_or_not_at_all(
    database: Database, factory: Factory
) -> None:
    store = _WatchedStore(database)
    deps = _deps(store)
    product = await factory.product(price=1_000, stock=1_000)
    users = await factory.users(40, balance=10_000)
    for user in users:
        await factory.cart(user, product, 2)
    tasks = [asyncio.create_task(place_order(deps=deps, user_id=u, coupon_id=None)) for u in users]
    # Half are cancelled at staggered points (0 to 60 ms, wherever they are by then); the store
    # cancels every other transaction a moment after its BEGIN, so some land mid-transaction.
    loop = asyncio.get_running_loop()
    for n, task in enumerate(tasks[::2]):
        loop.call_later(0.003 * n, task.cancel)
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.1)
    for user in users:
        balance = await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user)
        orders = await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user)
        payments = await factory.scalar("SELECT COUNT(*) FROM payments WHERE user_id = %s", user)
        lines = await factory.scalar(
            "SELECT COUNT(*) FROM cart_items ci JOIN carts c ON c.cart_id = ci.cart_id"
            " WHERE c.user_id = %s",
            user,
        )
        assert (balance, orders, payments, lines) in {(10_000, 0, 0, 1), (8_000, 1, 1, 0)}
    sold = await factory.scalar(
        "SELECT COALESCE(SUM(quantity), 0) FROM order_items WHERE product_id = %s", product
    )
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == (
        1_000 - sold
    )
    assert database.pending == 0
    assert database.used == 0  # every connection came back (or was dropped)
    # The point of the staggering: some cancellations did land inside a transaction.
    assert store.cancelled_inside > 0


async def test_order_cancelled_after_its_debit_rolls_back_whole(
    database: Database, factory: Factory
) -> None:
    async def cancel_here() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)  # the cancellation lands here, deep inside the transaction

    deps = _deps(InterceptingStore(database, "orders", "add_payment", cancel_here))
    user = await factory.user(balance=10_000)
    product = await factory.product(price=1_000, stock=10)
    await factory.cart(user, product, 2)
    with pytest.raises(asyncio.CancelledError):
        await place_order(deps=deps, user_id=user, coupon_id=None)
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 10_000
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == 10
    assert await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user) == 0
    assert database.used == 0


async def test_migrate_twice_applies_nothing_new(test_database: str) -> None:
    await migrate(test_database)
    assert await migrate(test_database) == []


async def test_seed_is_idempotent(database: Database, factory: Factory) -> None:
    for _ in range(2):
        report = await seed_dataset(database, users=30, stock=500, coupon_quantity=10)
        assert report.users == 30
    assert (
        await factory.scalar(
            "SELECT COUNT(*) FROM users WHERE user_id IN ('test-user-1', 'test-user-30')"
        )
        == 2
    )
    assert (
        await factory.scalar(
            "SELECT COUNT(*) FROM cart_items ci JOIN carts c ON c.cart_id = ci.cart_id"
            " WHERE c.user_id = 'test-user-7' AND ci.product_id = 'test-product-1'"
        )
        == 1
    )
    assert (
        await factory.scalar(
            "SELECT COUNT(*) FROM products WHERE product_id LIKE 'test-product-%%'"
        )
        == 10
    )


async def test_seed_grows_across_batches_and_leaves_existing_rows_alone(
    database: Database, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seed of 70 users over batches of 25 (the last one short) on top of a seed of 30: every
    user, cart and cart item once, and what a user did in between is kept."""
    monkeypatch.setattr(seed, "BATCH", 25)
    await seed_dataset(database, users=30, stock=500, coupon_quantity=10)
    async with database.session() as s:
        await s.execute("test.spend", "UPDATE users SET balance = 7 WHERE user_id = 'test-user-5'")
        await s.execute(
            "test.empty_cart",
            "DELETE ci FROM cart_items ci JOIN carts c ON c.cart_id = ci.cart_id"
            " WHERE c.user_id = 'test-user-6'",
        )
    await seed_dataset(database, users=70, stock=500, coupon_quantity=10)

    # Exact ids, not a LIKE: other tests of the session write users of their own.
    ids = [f"test-user-{n}" for n in range(1, 71)]
    seeded = f"user_id IN ({', '.join(['%s'] * len(ids))})"

    async def count(sql: str) -> object:
        return await factory.scalar(sql, *ids)

    assert await count(f"SELECT COUNT(*) FROM users WHERE {seeded}") == 70
    assert await count(f"SELECT COUNT(*) FROM carts WHERE {seeded}") == 70
    assert (
        await count(
            "SELECT COUNT(*) FROM cart_items ci JOIN carts c ON c.cart_id = ci.cart_id"
            f" WHERE c.{seeded} AND ci.product_id = 'test-product-1' AND ci.quantity = 1"
        )
        == 70  # test-user-6's emptied cart is filled again, as before
    )
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = 'test-user-5'") == 7
    assert (
        await factory.scalar("SELECT name FROM users WHERE user_id = 'test-user-51'")
        == "Test user 51"
    )


async def _outlive_the_lease() -> None:
    await asyncio.sleep(0.3)  # the critical section outlives its 0.1 s lease


async def test_an_order_whose_lease_lapsed_rolls_back(database: Database, factory: Factory) -> None:
    store = InterceptingStore(database, "orders", "add_payment", _outlive_the_lease)
    deps = _deps(store, lease=0.1)
    user = await factory.user(balance=10_000)
    product = await factory.product(price=1_000, stock=10)
    await factory.cart(user, product, 2)
    with pytest.raises(LeaseLost):
        await place_order(deps=deps, user_id=user, coupon_id=None)
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 10_000
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == 10
    assert await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user) == 0


async def test_a_charge_whose_lease_lapsed_rolls_back(database: Database, factory: Factory) -> None:
    store = InterceptingStore(database, "users", "record", _outlive_the_lease)
    deps = _deps(store, lease=0.1)
    user = await factory.user(balance=10_000)
    with pytest.raises(LeaseLost):
        await charge_balance(deps=deps, user_id=user, amount=500)
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 10_000
    assert (
        await factory.scalar("SELECT COUNT(*) FROM balance_history WHERE user_id = %s", user) == 0
    )
