"""Each repository against the real MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.store import MySqlStore, MySqlTx
from shop.domain.coupons import Coupon, DiscountType, UserCouponStatus
from shop.domain.errors import DatabaseUnavailable
from shop.domain.orders import Order, OrderLine, OrderStatus
from shop.domain.products import ProductSort
from shop.domain.users import BalanceChange, BalanceReason

from ..factories import Factory, unique

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def store(database: Database) -> MySqlStore:
    return MySqlStore(database)


async def test_users_credit_debit_are_guarded(store: MySqlStore, factory: Factory) -> None:
    user = await factory.user(balance=100)

    async def work(tx: MySqlTx) -> None:
        assert await tx.users.balance(user) == 100
        assert await tx.users.credit(user, 50, limit=150) == 150
        assert await tx.users.credit(user, 1, limit=150) is None
        assert not await tx.users.debit_many({user: 151})
        assert await tx.users.debit_many({user: 150})
        assert await tx.users.lock_balances([user, "nobody"]) == {user: 0}
        assert await tx.users.balance("nobody") is None

    await store.transaction(work)
    change = BalanceChange(5, 0, 5, BalanceReason.CHARGE, NOW)
    await store.transaction(lambda tx: tx.users.record(user, change))
    assert await store.autocommit(lambda tx: tx.users.history(user, limit=5)) == [change]


async def test_transaction_rolls_back_whole(store: MySqlStore, factory: Factory) -> None:
    user = await factory.user(balance=100)

    async def work(tx: MySqlTx) -> None:
        await tx.users.debit_many({user: 60})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.transaction(work)
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 100


async def test_products(store: MySqlStore, factory: Factory) -> None:
    category = unique("cat")
    a = await factory.product(price=5, stock=3, category=category)
    b = await factory.product(price=1, stock=3, category=category)

    async def work(tx: MySqlTx) -> None:
        listed = await tx.products.listing(category=category, sort=ProductSort.PRICE)
        assert [p.product_id for p in listed] == [b, a]
        locked = await tx.products.lock([b, a, "missing"])
        assert set(locked) == {a, b}
        assert not await tx.products.take_stock({a: 4})
        assert await tx.products.take_stock({a: 3, b: 1})
        assert (await tx.products.get(a)).stock == 0  # type: ignore[union-attr]  # the row was just written
        popular = await tx.products.listing(category=category, sort=ProductSort.POPULARITY)
        assert [p.product_id for p in popular] == [a, b]

    await store.transaction(work)


async def test_carts(store: MySqlStore, factory: Factory) -> None:
    user = await factory.user()
    product = await factory.product()

    async def work(tx: MySqlTx) -> None:
        assert await tx.carts.cart_id(user) is None
        cart = await tx.carts.ensure(user, now=NOW)
        assert await tx.carts.ensure(user, now=NOW) == cart
        item = await tx.carts.add(cart, product, 5, max_quantity=9, now=NOW)
        assert item is not None
        assert await tx.carts.add(cart, product, 4, max_quantity=9, now=NOW) == item
        assert await tx.carts.add(cart, product, 1, max_quantity=9, now=NOW) is None
        assert [i.quantity for i in await tx.carts.items(cart)] == [9]
        assert await tx.carts.set_quantity(cart, item, 2)
        assert not await tx.carts.set_quantity(cart + 1, item, 2)
        assert not await tx.carts.remove(cart + 1, item)
        await tx.carts.clear([cart])
        assert await tx.carts.items(cart) == []

    await store.autocommit(work)


async def test_coupons(store: MySqlStore, factory: Factory) -> None:
    user = await factory.user()
    coupon = Coupon(unique("c"), "n", DiscountType.PERCENT, 5, 0, 1, 0, NOW + timedelta(days=1))

    async def work(tx: MySqlTx) -> None:
        await tx.coupons.create(coupon, now=NOW)
        assert await tx.coupons.get(coupon.coupon_id) == coupon
        assert coupon.coupon_id in {c.coupon_id for c in await tx.coupons.available(now=NOW)}
        ids = await tx.coupons.grant_many(coupon.coupon_id, [user], now=NOW)
        assert ids is not None
        granted = ids[user]
        assert await tx.coupons.take(coupon.coupon_id, 1, now=NOW)
        assert not await tx.coupons.take(coupon.coupon_id, 1, now=NOW)  # sold out
        asked = (user, coupon.coupon_id)
        mine = await tx.coupons.lock_user_coupons([asked, (user, "no-such-coupon")])
        assert list(mine) == [asked]
        assert mine[asked].status is UserCouponStatus.AVAILABLE
        assert mine[asked].user_coupon_id == granted
        assert await tx.coupons.mark_used_many({granted: 1}, now=NOW)
        assert not await tx.coupons.mark_used_many({granted: 2}, now=NOW)
        [listed] = await tx.coupons.of_user(user)
        assert listed.status is UserCouponStatus.USED
        assert listed.used_at == NOW

    await store.transaction(work)


async def test_coupon_batch_writes_are_guarded(store: MySqlStore, factory: Factory) -> None:
    """The group-commit path's own guards: the multi-row insert and the counted update."""
    a, b, c = await factory.users(3)
    coupon = Coupon(unique("c"), "n", DiscountType.PERCENT, 5, 0, 3, 0, NOW + timedelta(days=1))

    async def work(tx: MySqlTx) -> None:
        await tx.coupons.create(coupon, now=NOW)
        granted = await tx.coupons.grant_many(coupon.coupon_id, [a, b], now=NOW)
        assert granted is not None
        assert set(granted) == {a, b}
        # One holder among the rows refuses the whole insert: c gets nothing either.
        assert await tx.coupons.grant_many(coupon.coupon_id, [c, a], now=NOW) is None
        assert await tx.coupons.holders_among(coupon.coupon_id, [a, b, c]) == {a, b}
        assert await tx.coupons.take(coupon.coupon_id, 2, now=NOW)
        assert not await tx.coupons.take(coupon.coupon_id, 2, now=NOW)  # one unit left
        assert await tx.coupons.take(coupon.coupon_id, 1, now=NOW)
        assert not await tx.coupons.take(coupon.coupon_id, 1, now=NOW)  # sold out
        got = await tx.coupons.get(coupon.coupon_id)
        assert got is not None
        assert got.issued_quantity == 3

    await store.transaction(work)


async def test_orders(store: MySqlStore, factory: Factory) -> None:
    user = await factory.user()
    lines = (OrderLine("p1", "P1", 10, 2), OrderLine("p2", "P2", 5, 1))
    draft = Order(0, user, OrderStatus.PAID, lines, 25, 5, 20, None, NOW)

    other = await factory.user()
    other_lines = (OrderLine("p3", "P3", 7, 3),)
    other_draft = Order(0, other, OrderStatus.PAID, other_lines, 21, 0, 21, None, NOW)

    async def work(tx: MySqlTx) -> int:
        # Each id names its own order and lines, in the order the drafts were given.
        order_ids = await tx.orders.add_many([draft, other_draft])
        await tx.orders.add_payment(order_id=order_ids[0], user_id=user, amount=20, now=NOW)
        other_order = await tx.orders.get(order_ids[1])
        assert other_order is not None
        assert (other_order.user_id, other_order.lines) == (other, other_lines)
        return order_ids[0]

    order_id = await store.transaction(work)
    stored = await store.autocommit(lambda tx: tx.orders.get(order_id))
    assert stored is not None
    assert stored.lines == lines
    assert stored.final_amount == 20
    page, count = await store.autocommit(
        lambda tx: tx.orders.page(user, status=OrderStatus.PAID, offset=0, limit=10)
    )
    assert count == 1
    assert page[0].order_id == order_id


async def test_unreachable_database_is_database_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable):
        await Database.connect("mysql://root:@127.0.0.1:1/x", maxsize=1)


async def test_exhausted_pool_times_out_and_leaks_nothing(test_database: str) -> None:
    db = await Database.connect(test_database, maxsize=1, acquire_timeout=0.2)
    try:
        async with db.session():
            with pytest.raises(DatabaseUnavailable):
                async with db.session():
                    pass
        assert db.pending == 0
        async with db.session() as s:  # the one connection came back
            assert await s.fetch_one("t", "SELECT 1") == (1,)
    finally:
        await db.close()
