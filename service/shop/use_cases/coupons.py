"""Creating, issuing and checking coupons."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from ..domain.coupons import (
    Admission,
    Coupon,
    CouponCheck,
    DiscountType,
    IssuedCoupon,
    UserCoupon,
    UserCouponStatus,
)
from ..domain.errors import (
    CouponAlreadyIssued,
    CouponExpired,
    CouponNotFound,
    CouponSoldOut,
    InvalidInput,
    ShopError,
)
from .balance import balance_of
from .deps import Deps
from .ports import Tx


async def require_coupon(tx: Tx, coupon_id: str) -> Coupon:
    """The coupon; CouponNotFound for an unknown id."""
    coupon = await tx.coupons.get(coupon_id)
    if coupon is None:
        raise CouponNotFound(f"coupon {coupon_id} not found")
    return coupon


def _sold_out(coupon_id: str) -> CouponSoldOut:
    return CouponSoldOut(f"coupon {coupon_id} is sold out")


async def create_coupon(
    *,
    deps: Deps,
    name: str,
    discount_type: DiscountType,
    discount_value: int,
    min_order_amount: int,
    total_quantity: int,
    expires_at: datetime,
) -> Coupon:
    """Store a new coupon with a fresh id; it must expire in the future."""
    if expires_at <= deps.clock():
        raise InvalidInput("body field 'expiresAt' must be in the future")
    coupon = Coupon(
        coupon_id=f"coupon-{uuid.uuid4().hex[:16]}",
        name=name,
        discount_type=discount_type,
        discount_value=discount_value,
        min_order_amount=min_order_amount,
        total_quantity=total_quantity,
        issued_quantity=0,
        expires_at=expires_at,
    )
    await deps.store.transaction(lambda tx: tx.coupons.create(coupon, now=deps.clock()))
    return coupon


async def list_coupons(*, deps: Deps) -> list[Coupon]:
    """Coupons that can still be issued."""
    return await deps.store.autocommit(lambda tx: tx.coupons.available(now=deps.clock()))


async def issue_coupon(*, deps: Deps, coupon_id: str, user_id: str) -> IssuedCoupon:
    """First come, first served: returns only once the user's coupon is committed."""
    if deps.coupon_issues is not None:  # group commit (it asks the gate itself, per batch)
        return await deps.coupon_issues.issue(coupon_id, user_id)
    admission = await deps.coupon_gate.admit(coupon_id, user_id)
    if admission is Admission.DUPLICATE:
        raise CouponAlreadyIssued(f"coupon {coupon_id} was already issued to {user_id}")
    if admission is Admission.SOLD_OUT:
        raise _sold_out(coupon_id)
    try:
        return await _issue_in_mysql(deps=deps, coupon_id=coupon_id, user_id=user_id)
    except BaseException:
        if admission is Admission.ADMITTED:
            await asyncio.shield(deps.coupon_gate.refund(coupon_id, user_id))
        raise


async def _issue_in_mysql(*, deps: Deps, coupon_id: str, user_id: str) -> IssuedCoupon:
    now = deps.clock()
    return await deps.store.transaction(lambda tx: _grant(tx, coupon_id, user_id, now))


async def _grant(tx: Tx, coupon_id: str, user_id: str, now: datetime) -> IssuedCoupon:
    """One issue's transaction: the user's copy first (unique key), then the guarded take."""
    coupon = await require_coupon(tx, coupon_id)
    if coupon.is_expired(now):
        raise CouponExpired(f"coupon {coupon_id} has expired")
    # Cheap early answer for the common sold-out case; take_one below is the real guard.
    if coupon.remaining_quantity <= 0:
        raise _sold_out(coupon_id)
    await balance_of(tx, user_id)
    # The unique key rejects a second copy before the hot coupon row is touched, so the
    # row lock on it is held only from take_one to commit.
    user_coupon_id = await tx.coupons.grant(coupon_id, user_id, now=now)
    if user_coupon_id is None:
        raise CouponAlreadyIssued(f"coupon {coupon_id} was already issued to {user_id}")
    if not await tx.coupons.take_one(coupon_id, now=now):
        raise _sold_out(coupon_id)
    after = await require_coupon(tx, coupon_id)
    return IssuedCoupon(
        user_coupon_id=user_coupon_id,
        coupon_id=coupon_id,
        user_id=user_id,
        issued_at=now,
        expires_at=coupon.expires_at,
        remaining_quantity=after.remaining_quantity,
    )


async def validate_coupon(*, deps: Deps, coupon_id: str, order_amount: int) -> CouponCheck:
    """What the coupon would take off an order of `order_amount`."""
    coupon = await deps.store.autocommit(lambda tx: require_coupon(tx, coupon_id))
    try:
        applied = coupon.apply(order_amount, deps.clock())
    except ShopError as refusal:
        return CouponCheck(
            valid=False, discount_amount=0, final_amount=order_amount, message=refusal.message
        )
    return CouponCheck(
        valid=True,
        discount_amount=applied.discount,
        final_amount=applied.final_amount,
        message="coupon applies",
    )


async def user_coupons(
    *, deps: Deps, user_id: str, status: UserCouponStatus | None
) -> list[UserCoupon]:
    """The user's coupons, optionally only those in one status."""
    found = await deps.store.autocommit(lambda tx: _coupons_of(tx, user_id))
    if status is None:
        return found
    now = deps.clock()
    return [uc for uc in found if uc.status_at(now) == status]


async def _coupons_of(tx: Tx, user_id: str) -> list[UserCoupon]:
    await balance_of(tx, user_id)
    return await tx.coupons.of_user(user_id)
