"""Handlers: the user's cart."""

from __future__ import annotations

from ...domain.errors import CartItemNotFound
from ...use_cases import carts
from ..framework.endpoint import Call
from ..framework.paths import number
from ..types.inputs import AddCartItem, CartItemPath, ChangeCartItem, NoInput, UserQuery
from ..types.outputs import Cart, CartItem, Message


def _item_id(path: CartItemPath) -> int:
    return number(path.cart_item_id, CartItemNotFound("cart item not found"))


async def get_cart(call: Call[NoInput, UserQuery, NoInput]) -> Cart:
    return Cart.of(await carts.get_cart(deps=call.deps, user_id=call.query.user_id))


async def add_item(call: Call[NoInput, NoInput, AddCartItem]) -> CartItem:
    body = call.body
    item = await carts.add_item(
        deps=call.deps, user_id=body.user_id, product_id=body.product_id, quantity=body.quantity
    )
    return CartItem.of_item(item)


async def change_item(call: Call[CartItemPath, UserQuery, ChangeCartItem]) -> CartItem:
    item = await carts.change_item(
        deps=call.deps,
        user_id=call.query.user_id,
        cart_item_id=_item_id(call.path),
        quantity=call.body.quantity,
    )
    return CartItem.of_item(item)


async def remove_item(call: Call[CartItemPath, UserQuery, NoInput]) -> Message:
    item_id = _item_id(call.path)
    await carts.remove_item(deps=call.deps, user_id=call.query.user_id, cart_item_id=item_id)
    return Message(f"cart item {item_id} removed")
