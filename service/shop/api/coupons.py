"""Handlers: coupons."""

from __future__ import annotations

from aiohttp import web

from ..domain.coupons import MAX_PERCENT, DiscountType, UserCouponStatus
from ..domain.errors import InvalidInput
from ..domain.money import MAX_BALANCE
from ..keys import DEPS, USER_ID
from ..use_cases import coupons
from . import render
from .parsing import body_fields, path_id, query_fields
from .responses import json_response

MAX_COUPON_QUANTITY = 10_000_000


async def create(request: web.Request) -> web.Response:
    body = await body_fields(request)
    deps = request.app[DEPS]
    name = body.text("name", max_length=200)
    kind = body.choice("discountType", DiscountType)
    if kind is None:  # pragma: no cover - choice() raises for a required field
        raise InvalidInput("discountType is required")
    top = MAX_PERCENT if kind is DiscountType.PERCENT else MAX_BALANCE
    value = body.integer("discountValue", minimum=1, maximum=top)
    minimum = body.optional_integer("minOrderAmount", minimum=0, maximum=MAX_BALANCE, default=0)
    quantity = body.integer("totalQuantity", minimum=1, maximum=MAX_COUPON_QUANTITY)
    expires_at = body.timestamp("expiresAt")
    coupon = await coupons.create_coupon(
        deps=deps,
        name=name,
        discount_type=kind,
        discount_value=value,
        min_order_amount=minimum,
        total_quantity=quantity,
        expires_at=expires_at,
    )
    return json_response(render.coupon(coupon), status=201)


async def list_coupons(request: web.Request) -> web.Response:
    found = await coupons.list_coupons(deps=request.app[DEPS])
    return json_response([render.coupon(c) for c in found])


async def issue(request: web.Request) -> web.Response:
    coupon_id = path_id(request, "couponId")
    user_id = (await body_fields(request)).text("userId")
    request[USER_ID] = user_id
    issued = await coupons.issue_coupon(
        deps=request.app[DEPS], coupon_id=coupon_id, user_id=user_id
    )
    return json_response(render.issued_coupon(issued))


async def validate(request: web.Request) -> web.Response:
    body = await body_fields(request)
    check = await coupons.validate_coupon(
        deps=request.app[DEPS],
        coupon_id=body.text("couponId"),
        order_amount=body.integer("orderAmount", minimum=0, maximum=MAX_BALANCE),
    )
    return json_response(render.coupon_check(check))


async def of_user(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    status = query_fields(request).choice("status", UserCouponStatus, required=False)
    found = await coupons.user_coupons(deps=deps, user_id=path_id(request, "userId"), status=status)
    now = deps.clock()
    return json_response([render.user_coupon(uc, uc.status_at(now)) for uc in found])
