"""Handlers: coupons."""

from __future__ import annotations

from datetime import UTC
from functools import partial

from ...domain import coupons as domain_coupons
from ...domain.errors import InvalidInput
from ...use_cases import coupons
from ..framework.endpoint import Call
from ..types.inputs import (
    CouponPath,
    CreateCoupon,
    IssueCoupon,
    NoInput,
    UserCouponQuery,
    UserPath,
    ValidateCoupon,
)
from ..types.outputs import Coupon, CouponCheck, IssuedCoupon, UserCoupon


async def create(call: Call[NoInput, NoInput, CreateCoupon]) -> Coupon:
    body = call.body
    deps = call.deps
    # An instant without an offset is taken as UTC.
    expires_at = body.expires_at
    try:
        expires_at = (
            expires_at.replace(tzinfo=UTC)
            if expires_at.tzinfo is None
            else expires_at.astimezone(UTC)
        )
    except OverflowError:  # past year 9999 once in UTC
        raise InvalidInput("body field 'expiresAt' is out of range") from None
    coupon = await coupons.create_coupon(
        deps=deps,
        name=body.name.strip(),
        discount_type=body.discount_type,
        discount_value=body.discount_value,
        min_order_amount=body.min_order_amount,
        total_quantity=body.total_quantity,
        expires_at=expires_at,
    )
    return Coupon.of(coupon)


async def list_coupons(call: Call[NoInput, NoInput, NoInput]) -> list[Coupon]:
    return [Coupon.of(c) for c in await coupons.list_coupons(deps=call.deps)]


async def issue(call: Call[CouponPath, NoInput, IssueCoupon]) -> IssuedCoupon:
    issue = partial(
        coupons.issue_coupon,
        deps=call.deps,
        coupon_id=call.path.coupon_id,
        user_id=call.body.user_id,
    )
    return IssuedCoupon.of(await call.once(issue, domain_coupons.IssuedCoupon))


async def validate(call: Call[NoInput, NoInput, ValidateCoupon]) -> CouponCheck:
    check = await coupons.validate_coupon(
        deps=call.deps, coupon_id=call.body.coupon_id, order_amount=call.body.order_amount
    )
    return CouponCheck.of(check)


async def of_user(call: Call[UserPath, UserCouponQuery, NoInput]) -> list[UserCoupon]:
    deps = call.deps
    found = await coupons.user_coupons(
        deps=deps, user_id=call.path.user_id, status=call.query.status
    )
    now = deps.clock()
    return [UserCoupon.of(uc, now) for uc in found]
