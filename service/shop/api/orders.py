"""Handlers: orders."""

from __future__ import annotations

from aiohttp import web

from ..domain.errors import OrderNotFound
from ..domain.orders import OrderStatus
from ..keys import DEPS
from ..use_cases import orders
from . import render
from .auth import act_as
from .idempotency import respond_once
from .parsing import body_fields, path_number, query_fields
from .responses import json_response

MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 100


async def place(request: web.Request) -> web.Response:
    body = await body_fields(request)
    user_id = act_as(request, body.text("userId"))
    coupon_id = body.optional_text("couponId")
    return await respond_once(
        request,
        user_id=user_id,
        effect=lambda deps: orders.place_order(deps=deps, user_id=user_id, coupon_id=coupon_id),
        render=render.order,
    )


async def list_orders(request: web.Request) -> web.Response:
    query = query_fields(request)
    page = await orders.list_orders(
        deps=request.app[DEPS],
        user_id=act_as(request, query.text("userId")),
        status=query.choice("status", OrderStatus, required=False),
        page=query.optional_integer("page", minimum=1, maximum=MAX_PAGE, default=1),
        limit=query.optional_integer("limit", minimum=1, maximum=MAX_PAGE_SIZE, default=10),
    )
    return json_response(render.order_page(page))


async def get_order(request: web.Request) -> web.Response:
    order_id = path_number(request, "orderId", OrderNotFound("order not found"))
    order = await orders.get_order(deps=request.app[DEPS], order_id=order_id)
    act_as(request, order.user_id)  # read before the check: refused, it is never sent
    return json_response(render.order(order))
