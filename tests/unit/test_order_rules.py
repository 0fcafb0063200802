"""Order use cases on in-memory fakes: paying, every refusal writing nothing, paging, lock keys."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shop.domain.errors import (
    CouponAlreadyUsed,
    CouponExpired,
    CouponNotFound,
    EmptyCart,
    InsufficientBalance,
    InsufficientStock,
    OrderBelowMinimum,
    OrderNotFound,
    ShopError,
    UserNotFound,
)
from shop.domain.orders import OrderStatus
from shop.domain.users import BalanceReason
from shop.use_cases.carts import add_item
from shop.use_cases.coupons import issue_coupon
from shop.use_cases.orders import get_order, list_orders, order_lock_key, place_order

from ..polling import until
from .fakes import World


@pytest.fixture
def world() -> World:
    return World()


async def _cart(world: World, user: str, **lines: int) -> None:
    for product, quantity in lines.items():
        await add_item(deps=world.deps, user_id=user, product_id=product, quantity=quantity)


async def test_an_order_pays_takes_stock_and_empties_the_cart(world: World) -> None:
    user = world.user(balance=10_000)
    world.product("book", price=1_500, stock=5)
    world.product("pen", price=200, stock=9)
    await _cart(world, user, book=2, pen=3)
    order = await place_order(deps=world.deps, user_id=user, coupon_id=None)
    assert (order.total_amount, order.discount_amount, order.final_amount) == (3_600, 0, 3_600)
    assert order.status is OrderStatus.PAID
    assert [(line.product_id, line.quantity, line.subtotal) for line in order.lines] == [
        ("book", 2, 3_000),
        ("pen", 3, 600),
    ]
    assert world.tables.balances[user] == 6_400
    assert (world.stock("book"), world.stock("pen")) == (3, 6)
    assert world.tables.lines == {}
    assert world.tables.payments == [(order.order_id, user, 3_600)]
    [(_, change, order_id)] = world.tables.history
    assert (change.amount, change.previous_balance, change.current_balance) == (
        -3_600,
        10_000,
        6_400,
    )
    assert (change.reason, order_id) == (BalanceReason.PAYMENT, order.order_id)
    assert await get_order(deps=world.deps, order_id=order.order_id) == order


async def test_a_coupon_takes_its_discount_and_is_spent(world: World) -> None:
    user = world.user(balance=10_000)
    world.product(price=5_000)
    world.coupon("ten", discount_type="PERCENT", discount_value=10)
    await issue_coupon(deps=world.deps, coupon_id="ten", user_id=user)
    await _cart(world, user, book=1)
    order = await place_order(deps=world.deps, user_id=user, coupon_id="ten")
    assert (order.discount_amount, order.final_amount, order.coupon_id) == (500, 4_500, "ten")
    assert world.tables.balances[user] == 5_500
    await _cart(world, user, book=1)
    with pytest.raises(CouponAlreadyUsed):
        await place_order(deps=world.deps, user_id=user, coupon_id="ten")


async def test_a_discount_of_the_whole_amount_debits_nothing(world: World) -> None:
    user = world.user(balance=0)
    world.product(price=800)
    world.coupon("free", discount_value=1_000)
    await issue_coupon(deps=world.deps, coupon_id="free", user_id=user)
    await _cart(world, user, book=1)
    order = await place_order(deps=world.deps, user_id=user, coupon_id="free")
    assert (order.final_amount, world.tables.balances[user]) == (0, 0)


def _refusal_cases():
    # (name, how the world is set up beyond a user with 5,000 and a book of 1,000, error, code)
    return [
        ("empty cart", {"cart": {}}, EmptyCart, "O001"),
        ("unknown user", {"user": "nobody"}, UserNotFound, "U001"),
        ("short balance", {"cart": {"book": 6}}, InsufficientBalance, "PAY001"),
        ("short stock", {"cart": {"book": 3}, "stock": 2}, InsufficientStock, "P002"),
        ("coupon not issued", {"coupon": "ten", "issue": False}, CouponNotFound, "C002"),
        ("coupon expired", {"coupon": "ten", "expired": True}, CouponExpired, "C003"),
        ("below the minimum", {"coupon": "ten", "minimum": 2_000}, OrderBelowMinimum, "C007"),
    ]


@pytest.mark.parametrize(
    ("setup", "refusal", "code"),
    [case[1:] for case in _refusal_cases()],
    ids=[case[0] for case in _refusal_cases()],
)
async def test_refusals_write_nothing(
    world: World, setup: dict, refusal: type[ShopError], code: str
) -> None:
    user = world.user("alice", balance=5_000)
    world.product("book", price=1_000, stock=setup.get("stock", 10))
    world.coupon("ten", min_order_amount=setup.get("minimum", 0))
    if setup.get("issue", True):
        await issue_coupon(deps=world.deps, coupon_id="ten", user_id=user)
    await _cart(world, user, **setup.get("cart", {"book": 1}))
    if setup.get("expired"):
        world.clock.now = world.tables.coupons["ten"].expires_at
    before = (
        dict(world.tables.balances),
        world.stock("book"),
        len(world.tables.lines),
        [h.user_coupon.status for h in world.tables.held.values()],
    )
    with pytest.raises(refusal) as refused:
        await place_order(
            deps=world.deps, user_id=setup.get("user", user), coupon_id=setup.get("coupon")
        )
    assert refused.value.code == code
    after = (
        dict(world.tables.balances),
        world.stock("book"),
        len(world.tables.lines),
        [h.user_coupon.status for h in world.tables.held.values()],
    )
    assert after == before
    assert (world.tables.orders, world.tables.payments, world.tables.history) == ({}, [], [])


async def test_short_stock_names_the_line(world: World) -> None:
    user = world.user(balance=100_000)
    world.product("book", stock=10)
    world.product("pen", stock=1)
    await _cart(world, user, book=1, pen=2)
    with pytest.raises(InsufficientStock) as refused:
        await place_order(deps=world.deps, user_id=user, coupon_id=None)
    assert "pen" in refused.value.message
    assert "1 left, 2 requested" in refused.value.message


async def test_unknown_order_is_o002(world: World) -> None:
    with pytest.raises(OrderNotFound) as refused:
        await get_order(deps=world.deps, order_id=42)
    assert refused.value.code == "O002"


async def test_pages_newest_first(world: World) -> None:
    user = world.user(balance=100_000)
    world.product(price=100, stock=100)
    placed = []
    for _ in range(5):
        await _cart(world, user, book=1)
        placed.append((await place_order(deps=world.deps, user_id=user, coupon_id=None)).order_id)
    first = await list_orders(deps=world.deps, user_id=user, status=None, page=1, limit=2)
    assert [o.order_id for o in first.orders] == placed[::-1][:2]
    assert (first.current_page, first.total_pages, first.total_count) == (1, 3, 5)
    last = await list_orders(deps=world.deps, user_id=user, status=None, page=3, limit=2)
    assert [o.order_id for o in last.orders] == [placed[0]]
    beyond = await list_orders(deps=world.deps, user_id=user, status=None, page=9, limit=2)
    assert (beyond.orders, beyond.total_count) == ((), 5)
    cancelled = await list_orders(
        deps=world.deps, user_id=user, status=OrderStatus.CANCELLED, page=1, limit=2
    )
    assert (cancelled.orders, cancelled.total_pages, cancelled.total_count) == ((), 0, 0)
    with pytest.raises(UserNotFound):
        await list_orders(deps=world.deps, user_id="nobody", status=None, page=1, limit=2)


@pytest.mark.parametrize(
    ("scope", "key"), [("user", "order:user:alice"), ("global", "order:global")]
)
async def test_orders_wait_for_the_lock_their_scope_names(
    world: World, scope: str, key: str
) -> None:
    assert order_lock_key(scope, "alice") == key
    world.scope = scope
    user = world.user(balance=10_000)
    world.product()
    await _cart(world, user, book=1)
    async with world.locks.hold(key, name="order", wait=1, lease=5):
        order = asyncio.create_task(place_order(deps=world.deps, user_id=user, coupon_id=None))
        await until(lambda: order.done() or world.locks.waiters(key) > 0)
        assert not order.done()
    assert (await order).final_amount == 1_000


async def test_a_later_clock_expires_an_issued_coupon(world: World) -> None:
    user = world.user(balance=10_000)
    world.product()
    world.coupon("ten", expires_at=world.clock.now + timedelta(hours=1))
    await issue_coupon(deps=world.deps, coupon_id="ten", user_id=user)
    await _cart(world, user, book=1)
    world.clock.now += timedelta(hours=1)
    with pytest.raises(CouponExpired):
        await place_order(deps=world.deps, user_id=user, coupon_id="ten")
