"""Creating, issuing and checking coupons."""

from __future__ import annotations

import uuid
from datetime import datetime

from ..domain.coupons import (
    Coupon,
    CouponCheck,
    DiscountType,
    IssuedCoupon,
    UserCoupon,
    UserCouponStatus,
)
from ..domain.errors import CouponNotFound, InvalidInput, ShopError, found
from .balance import balance_of
from .deps import Deps
from .ports import Tx
from .seals import Seal


async def require_coupon(tx: Tx, coupon_id: str) -> Coupon:
    """The coupon; CouponNotFound for an unknown id."""
    return found(await tx.coupons.get(coupon_id), CouponNotFound, f"coupon {coupon_id}")


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


async def issue_coupon(
    *, deps: Deps, coupon_id: str, user_id: str, seal: Seal | None = None
) -> IssuedCoupon:
    """First come, first served: returns only once the user's coupon is committed."""
    return await deps.coupon_issues.issue(coupon_id, user_id, seal=seal)


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
