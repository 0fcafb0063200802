"""Coupon kinds, user-coupon statuses and the discount arithmetic."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from .errors import CouponAlreadyUsed, CouponExpired, OrderBelowMinimum


class DiscountType(enum.StrEnum):
    FIXED = "FIXED"
    PERCENT = "PERCENT"


class UserCouponStatus(enum.StrEnum):
    AVAILABLE = "AVAILABLE"
    USED = "USED"
    EXPIRED = "EXPIRED"


MAX_PERCENT = 100
# What one coupon may be issued to, and how long its name may be.
MAX_COUPON_QUANTITY = 10_000_000
MAX_COUPON_NAME = 200


class Admission(enum.Enum):
    """The coupon gate's answer, before MySQL has the last word."""

    ADMITTED = "admitted"
    DUPLICATE = "duplicate"
    SOLD_OUT = "sold_out"
    BYPASSED = "bypassed"  # no gate, gate unreachable or coupon unknown: MySQL decides alone


@dataclass(frozen=True, slots=True)
class Coupon:
    coupon_id: str
    name: str
    discount_type: DiscountType
    discount_value: int
    min_order_amount: int
    total_quantity: int
    issued_quantity: int
    expires_at: datetime

    @property
    def remaining_quantity(self) -> int:
        return self.total_quantity - self.issued_quantity

    def is_expired(self, now: datetime) -> bool:
        """A coupon is expired from its expiry instant on."""
        return now >= self.expires_at

    def apply(self, amount: int, now: datetime) -> Discounted:
        """What the coupon does to an order of `amount` at `now`, or raise why it cannot apply.

        Both the order and the validation ask this, so they can never disagree.
        """
        if self.is_expired(now):
            raise CouponExpired(f"coupon {self.coupon_id} expired at {self.expires_at.isoformat()}")
        if amount < self.min_order_amount:
            raise OrderBelowMinimum(
                f"order amount {amount} is below the coupon minimum {self.min_order_amount}"
            )
        taken = discount(self.discount_type, self.discount_value, amount)
        return Discounted(discount=taken, final_amount=amount - taken)


@dataclass(frozen=True, slots=True)
class Discounted:
    """An amount with a coupon applied: the discount is never more than the amount."""

    discount: int
    final_amount: int


def discount(kind: DiscountType, value: int, amount: int) -> int:
    """PERCENT = floor(amount * value / 100); FIXED = min(value, amount)."""
    if kind is DiscountType.PERCENT:
        return amount * value // 100
    return min(value, amount)


def user_coupon_status(stored: UserCouponStatus, expires_at: datetime, now: datetime) -> str:
    """An unused coupon past its expiry reads as EXPIRED; the stored row stays AVAILABLE."""
    if stored is UserCouponStatus.AVAILABLE and now >= expires_at:
        return UserCouponStatus.EXPIRED
    return stored


def check_usable(stored: UserCouponStatus) -> None:
    """Refuse a coupon that was already spent on an order."""
    if stored is UserCouponStatus.USED:
        raise CouponAlreadyUsed("coupon already used")


@dataclass(frozen=True, slots=True)
class UserCoupon:
    user_coupon_id: int
    user_id: str
    coupon: Coupon
    status: UserCouponStatus
    issued_at: datetime
    used_at: datetime | None

    def status_at(self, now: datetime) -> str:
        """The status a client sees: unused and past expiry reads as EXPIRED."""
        return user_coupon_status(self.status, self.coupon.expires_at, now)


@dataclass(frozen=True, slots=True)
class IssuedCoupon:
    user_coupon_id: int
    coupon_id: str
    user_id: str
    issued_at: datetime
    expires_at: datetime
    remaining_quantity: int


@dataclass(frozen=True, slots=True)
class CouponCheck:
    valid: bool
    discount_amount: int
    final_amount: int
    message: str
