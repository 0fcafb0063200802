"""Handlers: the user's cart."""

from __future__ import annotations

from aiohttp import web

from ..domain.errors import CartItemNotFound
from ..domain.orders import MAX_QUANTITY, MIN_QUANTITY
from ..keys import DEPS
from ..use_cases import carts
from . import render
from .auth import act_as
from .parsing import body_fields, path_number, query_fields
from .responses import json_response


def _user(request: web.Request) -> str:
    return act_as(request, query_fields(request).text("userId"))


def _item_id(request: web.Request) -> int:
    return path_number(request, "cartItemId", CartItemNotFound("cart item not found"))


async def get_cart(request: web.Request) -> web.Response:
    cart = await carts.get_cart(deps=request.app[DEPS], user_id=_user(request))
    return json_response(render.cart(cart))


async def add_item(request: web.Request) -> web.Response:
    body = await body_fields(request)
    user_id = act_as(request, body.text("userId"))
    item = await carts.add_item(
        deps=request.app[DEPS],
        user_id=user_id,
        product_id=body.text("productId"),
        quantity=body.integer("quantity", minimum=MIN_QUANTITY, maximum=MAX_QUANTITY),
    )
    return json_response(render.cart_item(item))


async def change_item(request: web.Request) -> web.Response:
    user_id = _user(request)
    item_id = _item_id(request)
    quantity = (await body_fields(request)).integer(
        "quantity", minimum=MIN_QUANTITY, maximum=MAX_QUANTITY
    )
    item = await carts.change_item(
        deps=request.app[DEPS], user_id=user_id, cart_item_id=item_id, quantity=quantity
    )
    return json_response(render.cart_item(item))


async def remove_item(request: web.Request) -> web.Response:
    user_id = _user(request)
    item_id = _item_id(request)
    await carts.remove_item(deps=request.app[DEPS], user_id=user_id, cart_item_id=item_id)
    return json_response({"message": f"cart item {item_id} removed"})
