"""Handlers: orders."""

from __future__ import annotations

from functools import partial

from ...domain import orders as domain_orders
from ...domain.errors import NotYourResource, OrderNotFound
from ...use_cases import orders
from ..framework.auth import act_as
from ..framework.endpoint import Call
from ..framework.paths import number
from ..types.inputs import NoInput, OrderPath, OrderQuery, PlaceOrder
from ..types.outputs import Order, OrderPage


async def place(call: Call[NoInput, NoInput, PlaceOrder]) -> Order:
    place = partial(
        orders.place_order,
        deps=call.deps,
        user_id=call.body.user_id,
        coupon_id=call.body.coupon_id or None,
    )
    return Order.of(await call.once(place, domain_orders.Order))


async def list_orders(call: Call[NoInput, OrderQuery, NoInput]) -> OrderPage:
    query = call.query
    page = await orders.list_orders(
        deps=call.deps,
        user_id=query.user_id,
        status=query.status,
        page=query.page,
        limit=query.limit,
    )
    return OrderPage.of(page)


async def get_order(call: Call[OrderPath, NoInput, NoInput]) -> Order:
    order_id = number(call.path.order_id, OrderNotFound("order not found"))
    order = await orders.get_order(deps=call.deps, order_id=order_id)
    try:
        act_as(call.request, order.user_id)  # read before the check: refused, it is never sent
    except NotYourResource:
        # What a missing order gets, word for word: a 403 would say that this one exists.
        raise OrderNotFound(f"order {order_id} not found") from None
    return Order.of(order)
