"""Coupon use cases on in-memory fakes: creation, issuance and its refusals, the gate, checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shop.domain.coupons import Coupon, DiscountType, UserCouponStatus
from shop.domain.errors import (
    CouponAlreadyIssued,
    CouponExpired,
    CouponNotFound,
    CouponSoldOut,
    InvalidInput,
    ShopError,
    UserNotFound,
)
from shop.use_cases.carts import add_item
from shop.use_cases.coupons import (
    create_coupon,
    issue_coupon,
    list_coupons,
    user_coupons,
    validate_coupon,
)
from shop.use_cases.orders import place_order

from .fakes import MemoryGate, World


@pytest.fixture
def world() -> World:
    return World()


async def _create(world: World, **changes: Any) -> Coupon:
    """`create_coupon` with the arguments of a valid coupon, but for `changes`."""
    arguments: dict[str, Any] = {
        "name": "Spring",
        "discount_type": DiscountType.PERCENT,
        "discount_value": 10,
        "min_order_amount": 0,
        "total_quantity": 5,
        "expires_at": world.clock.now + timedelta(days=1),
    }
    return await create_coupon(deps=world.deps, **{**arguments, **changes})


async def test_create_stores_a_coupon_with_a_fresh_id(world: World) -> None:
    made = await _create(world)
    assert made.coupon_id.startswith("coupon-")
    assert world.tables.coupons[made.coupon_id] == made
    assert made.remaining_quantity == 5


@pytest.mark.parametrize("ago", [timedelta(0), timedelta(seconds=1), timedelta(days=9)])
async def test_create_refuses_an_expiry_not_in_the_future(world: World, ago: timedelta) -> None:
    with pytest.raises(InvalidInput) as refused:
        await _create(world, expires_at=world.clock.now - ago)
    assert "expiresAt" in refused.value.message
    assert world.tables.coupons == {}


async def test_issue_once_per_user_until_sold_out(world: World) -> None:
    coupon = world.coupon(total_quantity=2)
    first, second, third = (world.user(u) for u in ("a", "b", "c"))
    issued = await issue_coupon(deps=world.deps, coupon_id=coupon, user_id=first)
    assert (issued.remaining_quantity, issued.issued_at) == (1, world.clock.now)
    assert issued.expires_at == world.tables.coupons[coupon].expires_at
    with pytest.raises(CouponAlreadyIssued):
        await issue_coupon(deps=world.deps, coupon_id=coupon, user_id=first)
    await issue_coupon(deps=world.deps, coupon_id=coupon, user_id=second)
    with pytest.raises(CouponSoldOut):
        await issue_coupon(deps=world.deps, coupon_id=coupon, user_id=third)
    assert world.tables.coupons[coupon].issued_quantity == 2
    assert len(world.tables.held) == 2


@pytest.mark.parametrize(
    ("coupon_fields", "user", "refusal", "code"),
    [
        (None, "alice", CouponNotFound, "C002"),
        ({"issued_quantity": 10}, "alice", CouponSoldOut, "C001"),
        ({"expires_at": "now"}, "alice", CouponExpired, "C003"),
        ({}, "nobody", UserNotFound, "U001"),
    ],
    ids=["unknown coupon", "sold out", "expired", "unknown user"],
)
async def test_issue_refusals_write_nothing(
    world: World, coupon_fields, user: str, refusal: type[ShopError], code: str
) -> None:
    world.user("alice")
    coupon = "missing"
    if coupon_fields is not None:
        if coupon_fields.get("expires_at") == "now":  # expired from its expiry instant on
            coupon_fields = {"expires_at": world.clock.now}
        coupon = world.coupon(**coupon_fields)
    before = dict(world.tables.coupons)
    with pytest.raises(refusal) as refused:
        await issue_coupon(deps=world.deps, coupon_id=coupon, user_id=user)
    assert refused.value.code == code
    assert world.tables.held == {}
    assert world.tables.coupons == before


async def test_the_gate_answers_duplicates_and_sold_out_without_the_store(world: World) -> None:
    world.gate = gate = MemoryGate(world.store)
    coupon = world.coupon(total_quantity=1)
    world.user("a")
    world.user("b")
    await issue_coupon(deps=world.deps, coupon_id=coupon, user_id="a")
    transactions = world.store.transactions
    with pytest.raises(CouponAlreadyIssued):
        await issue_coupon(deps=world.deps, coupon_id=coupon, user_id="a")
    with pytest.raises(CouponSoldOut):
        await issue_coupon(deps=world.deps, coupon_id=coupon, user_id="b")
    assert world.store.transactions == transactions
    assert gate.refunds == []


async def test_a_unit_the_store_refuses_goes_back_to_the_gate(world: World) -> None:
    world.gate = gate = MemoryGate(world.store)
    coupon = world.coupon(total_quantity=1)
    with pytest.raises(UserNotFound):
        await issue_coupon(deps=world.deps, coupon_id=coupon, user_id="nobody")
    assert gate.refunds == [(coupon, "nobody")]
    world.user("a")
    assert (await issue_coupon(deps=world.deps, coupon_id=coupon, user_id="a")).user_id == "a"


async def test_list_shows_only_coupons_that_can_still_be_issued(world: World) -> None:
    now = world.clock.now
    world.coupon("later", expires_at=now + timedelta(days=2))
    world.coupon("sooner", expires_at=now + timedelta(days=1))
    world.coupon("gone", issued_quantity=10)
    world.coupon("over", expires_at=now)
    assert [c.coupon_id for c in await list_coupons(deps=world.deps)] == ["sooner", "later"]


@pytest.mark.parametrize(
    ("fields", "amount", "valid", "discount"),
    [
        ({"discount_type": "FIXED", "discount_value": 1_000}, 5_000, True, 1_000),
        ({"discount_type": "FIXED", "discount_value": 1_000}, 400, True, 400),
        ({"discount_type": "PERCENT", "discount_value": 10}, 1_999, True, 199),
        ({"discount_type": "PERCENT", "discount_value": 100}, 700, True, 700),
        ({"min_order_amount": 1_000}, 999, False, 0),
        ({"min_order_amount": 1_000}, 1_000, True, 1_000),
        ({"expires_at": "now"}, 5_000, False, 0),
    ],
)
async def test_validate(world: World, fields, amount: int, valid: bool, discount: int) -> None:
    if fields.get("expires_at") == "now":
        fields = {"expires_at": world.clock.now}
    coupon = world.coupon(**fields)
    check = await validate_coupon(deps=world.deps, coupon_id=coupon, order_amount=amount)
    assert (check.valid, check.discount_amount, check.final_amount) == (
        valid,
        discount,
        amount - discount,
    )
    assert check.message


async def test_validate_unknown_coupon_is_c002(world: World) -> None:
    with pytest.raises(CouponNotFound):
        await validate_coupon(deps=world.deps, coupon_id="nope", order_amount=1)


async def test_user_coupons_by_status(world: World) -> None:
    now = world.clock.now
    user = world.user(balance=100_000)
    world.product(price=5_000)
    for coupon, expires in (("used", 9), ("kept", 9), ("lapsing", 1)):
        world.coupon(coupon, expires_at=now + timedelta(days=expires))
        await issue_coupon(deps=world.deps, coupon_id=coupon, user_id=user)
    await add_item(deps=world.deps, user_id=user, product_id="book", quantity=1)
    await place_order(deps=world.deps, user_id=user, coupon_id="used")
    world.clock.now = now + timedelta(days=2)

    async def ids(status: UserCouponStatus | None) -> list[str]:
        found = await user_coupons(deps=world.deps, user_id=user, status=status)
        return [uc.coupon.coupon_id for uc in found]

    assert await ids(None) == ["lapsing", "kept", "used"]  # newest first
    assert await ids(UserCouponStatus.AVAILABLE) == ["kept"]
    assert await ids(UserCouponStatus.USED) == ["used"]
    assert await ids(UserCouponStatus.EXPIRED) == ["lapsing"]
    with pytest.raises(UserNotFound):
        await user_coupons(deps=world.deps, user_id="nobody", status=None)
