"""The user's cart."""

from __future__ import annotations

from datetime import datetime

from ..domain.carts import Cart, CartItem
from ..domain.errors import CartItemNotFound, EmptyCart, UserNotFound, found
from ..domain.orders import MAX_QUANTITY
from .balance import balance_of
from .deps import Deps
from .ports import Tx
from .products import require_product


async def _item(tx: Tx, cart_id: int, cart_item_id: int) -> CartItem:
    for item in await tx.carts.items(cart_id):
        if item.cart_item_id == cart_item_id:
            return item
    raise CartItemNotFound(f"cart item {cart_item_id} not found")


async def _cart_of(tx: Tx, user_id: str) -> int:
    cart_id = await tx.carts.cart_id(user_id)
    if cart_id is None:
        raise CartItemNotFound("the user has no cart")
    return cart_id


async def get_cart(*, deps: Deps, user_id: str) -> Cart:
    """The user's cart, created on first use."""
    return await deps.store.autocommit(lambda tx: _open_cart(tx, user_id, deps.clock()))


async def add_item(*, deps: Deps, user_id: str, product_id: str, quantity: int) -> CartItem:
    """Add units of a product; a product already in the cart gains quantity."""
    now = deps.clock()
    return await deps.store.transaction(lambda tx: _add(tx, user_id, product_id, quantity, now))


async def change_item(*, deps: Deps, user_id: str, cart_item_id: int, quantity: int) -> CartItem:
    """Set the quantity of one of the user's cart lines."""
    return await deps.store.transaction(lambda tx: _change(tx, user_id, cart_item_id, quantity))


async def remove_item(*, deps: Deps, user_id: str, cart_item_id: int) -> None:
    """Remove one of the user's cart lines."""
    await deps.store.transaction(lambda tx: _remove(tx, user_id, cart_item_id))


async def _hold_user(tx: Tx, user_id: str) -> int | None:
    """The user's row locked until the cart write commits (its balance); None for an unknown id.

    An order batch locks its users' rows before it reads the carts it then empties, so a cart
    write lands wholly before an order (which buys it) or wholly after it (and stays in the
    emptied cart): never between the order's read and its emptying, where it was deleted
    unpaid and the write itself answered 404 for its own line.
    """
    return (await tx.users.lock_balances([user_id])).get(user_id)


async def _open_cart(tx: Tx, user_id: str, now: datetime) -> Cart:
    await balance_of(tx, user_id)
    cart_id = await tx.carts.ensure(user_id, now=now)
    return Cart(cart_id=cart_id, user_id=user_id, items=tuple(await tx.carts.items(cart_id)))


async def _add(tx: Tx, user_id: str, product_id: str, quantity: int, now: datetime) -> CartItem:
    found(await _hold_user(tx, user_id), UserNotFound, f"user {user_id}")
    await require_product(tx, product_id)
    cart_id = await tx.carts.ensure(user_id, now=now)
    item_id = await tx.carts.add(cart_id, product_id, quantity, max_quantity=MAX_QUANTITY, now=now)
    if item_id is None:
        raise EmptyCart(f"a cart line holds at most {MAX_QUANTITY} units")
    return await _item(tx, cart_id, item_id)


async def _change(tx: Tx, user_id: str, cart_item_id: int, quantity: int) -> CartItem:
    await _hold_user(tx, user_id)  # an unknown user has no cart: the 404 below
    cart_id = await _cart_of(tx, user_id)
    if not await tx.carts.set_quantity(cart_id, cart_item_id, quantity):
        raise CartItemNotFound(f"cart item {cart_item_id} not found")
    return await _item(tx, cart_id, cart_item_id)


async def _remove(tx: Tx, user_id: str, cart_item_id: int) -> None:
    await _hold_user(tx, user_id)  # an unknown user has no cart: the 404 below
    cart_id = await _cart_of(tx, user_id)
    if not await tx.carts.remove(cart_id, cart_item_id):
        raise CartItemNotFound(f"cart item {cart_item_id} not found")
