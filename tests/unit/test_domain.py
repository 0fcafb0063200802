"""Domain rules: discounts, money bounds, coupon states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop.domain.coupons import (
    Coupon,
    Discounted,
    DiscountType,
    UserCouponStatus,
    check_usable,
    discount,
    user_coupon_status,
)
from shop.domain.errors import (
    CouponAlreadyUsed,
    CouponExpired,
    EmptyCart,
    InsufficientStock,
    OrderBelowMinimum,
)
from shop.domain.orders import OrderLine, check_stock, total_of

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _coupon(kind: DiscountType, value: int, minimum: int = 0) -> Coupon:
    return Coupon("c", "c", kind, value, minimum, 10, 0, NOW + timedelta(days=1))


@pytest.mark.parametrize(
    ("kind", "value", "amount", "expected"),
    [
        (DiscountType.PERCENT, 10, 1_999, 199),  # floored, never rounded up
        (DiscountType.PERCENT, 100, 5_000, 5_000),
        (DiscountType.PERCENT, 33, 1, 0),
        (DiscountType.FIXED, 1_000, 5_000, 1_000),
        (DiscountType.FIXED, 1_000, 300, 300),  # never more than the amount
        (DiscountType.FIXED, 1_000, 0, 0),
    ],
)
def test_discount(kind: DiscountType, value: int, amount: int, expected: int) -> None:
    assert discount(kind, value, amount) == expected


def test_coupon_applicability() -> None:
    coupon = _coupon(DiscountType.FIXED, 500, minimum=1_000)
    assert coupon.apply(1_000, NOW) == Discounted(discount=500, final_amount=500)
    with pytest.raises(OrderBelowMinimum):
        coupon.apply(999, NOW)
    with pytest.raises(CouponExpired):
        coupon.apply(5_000, NOW + timedelta(days=1))


def test_remaining_quantity() -> None:
    assert Coupon("c", "c", DiscountType.FIXED, 1, 0, 10, 4, NOW).remaining_quantity == 6


def test_user_coupon_status() -> None:
    later = NOW + timedelta(seconds=1)
    assert user_coupon_status(UserCouponStatus.AVAILABLE, later, NOW) == "AVAILABLE"
    assert user_coupon_status(UserCouponStatus.AVAILABLE, NOW, later) == "EXPIRED"
    assert user_coupon_status(UserCouponStatus.USED, NOW, later) == "USED"
    check_usable(UserCouponStatus.AVAILABLE)
    with pytest.raises(CouponAlreadyUsed):
        check_usable(UserCouponStatus.USED)


def test_order_totals_and_stock() -> None:
    lines = [OrderLine("a", "A", 300, 2), OrderLine("b", "B", 5, 3)]
    assert total_of(lines) == 615
    with pytest.raises(EmptyCart):
        total_of([])
    check_stock(lines[0], 2)
    with pytest.raises(InsufficientStock, match="stock"):
        check_stock(lines[0], 1)
