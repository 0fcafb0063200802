"""Who of several requests for one coupon gets a unit, decided at once for all of them: the
issue rules, written once (the batches, and the gate's answers, refuse with these).

The answer is the one the requests would get one after another in arrival order, each in its
own transaction: the coupon-wide refusals first (unknown, expired, sold out), then the user's
(unknown user, already a holder), and a unit for everyone else while units last.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from .coupons import Admission, Coupon
from .errors import (
    CouponAlreadyIssued,
    CouponExpired,
    CouponNotFound,
    CouponSoldOut,
    ShopError,
    UserNotFound,
)


@dataclass(frozen=True, slots=True)
class Allotment:
    """Per request (same order as asked): None for a unit, else the request's own refusal."""

    answers: list[ShopError | None]
    winners: list[str]  # the users given a unit, in arrival order

    def remaining_after(self, coupon: Coupon, user_id: str) -> int:
        """Units left right after this winner's unit (as if issued one at a time)."""
        return coupon.remaining_quantity - self.winners.index(user_id) - 1


def allot(
    coupon_id: str,
    coupon: Coupon | None,
    user_ids: Sequence[str],
    *,
    now: datetime,
    known_users: Collection[str],
    holders: Collection[str],
) -> Allotment:
    """Apply the issue rules to `user_ids` in order; `holders` already hold the coupon."""
    if coupon is None:
        refusal: ShopError = CouponNotFound(f"coupon {coupon_id} not found")
        return Allotment([refusal] * len(user_ids), [])
    if coupon.is_expired(now):
        refusal = CouponExpired(f"coupon {coupon_id} has expired")
        return Allotment([refusal] * len(user_ids), [])
    left = coupon.remaining_quantity
    taken = set(holders)
    answers: list[ShopError | None] = []
    winners: list[str] = []
    for user_id in user_ids:
        if left <= 0:
            answers.append(sold_out(coupon_id))
        elif user_id not in known_users:
            answers.append(UserNotFound(f"user {user_id} not found"))
        elif user_id in taken:
            answers.append(already_issued(coupon_id, user_id))
        else:
            answers.append(None)
            winners.append(user_id)
            taken.add(user_id)
            left -= 1
    return Allotment(answers, winners)


def refused_by_gate(coupon_id: str, user_id: str, admission: Admission) -> ShopError | None:
    """The gate's answer as the request's refusal; None when the transaction decides."""
    if admission is Admission.DUPLICATE:
        return already_issued(coupon_id, user_id)
    if admission is Admission.SOLD_OUT:
        return sold_out(coupon_id)
    return None


def sold_out(coupon_id: str) -> CouponSoldOut:
    """C001: no unit left."""
    return CouponSoldOut(f"coupon {coupon_id} is sold out")


def already_issued(coupon_id: str, user_id: str) -> CouponAlreadyIssued:
    """C006: the user holds the coupon already."""
    return CouponAlreadyIssued(f"coupon {coupon_id} was already issued to {user_id}")
