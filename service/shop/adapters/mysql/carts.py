"""Carts and their items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...domain.carts import Cart, CartItem
from .session import Repository, placeholders
from .times import to_db


def _item(row: Sequence[Any]) -> CartItem:
    return CartItem(
        cart_item_id=int(row[0]),
        product_id=row[1],
        product_name=row[2],
        price=int(row[3]),
        quantity=int(row[4]),
    )


class CartsRepository(Repository):
    __slots__ = ()

    async def cart_id(self, user_id: str) -> int | None:
        row = await self._s.fetch_one(
            "carts.by_user", "SELECT cart_id FROM carts WHERE user_id = %s", (user_id,)
        )
        return None if row is None else int(row[0])

    async def ensure(self, user_id: str, *, now: datetime) -> int:
        found = await self.cart_id(user_id)
        if found is not None:
            return found
        # Two first uses may race: the unique key keeps one cart, both read its id.
        await self._s.execute(
            "carts.insert",
            "INSERT IGNORE INTO carts (user_id, created_at) VALUES (%s, %s)",
            (user_id, to_db(now)),
        )
        created = await self.cart_id(user_id)
        if created is None:  # pragma: no cover - the row was just written
            raise LookupError(f"cart of {user_id} vanished")
        return created

    async def items(self, cart_id: int) -> list[CartItem]:
        rows = await self._s.fetch_all(
            "cart_items.by_cart",
            "SELECT ci.cart_item_id, ci.product_id, p.name, p.price, ci.quantity"
            " FROM cart_items ci JOIN products p ON p.product_id = ci.product_id"
            " WHERE ci.cart_id = %s ORDER BY ci.cart_item_id",
            (cart_id,),
        )
        return [_item(r) for r in rows]

    async def of_users(self, user_ids: Sequence[str]) -> dict[str, Cart]:
        ids = sorted(set(user_ids))
        rows = await self._s.fetch_all(
            "carts.by_users",
            "SELECT c.user_id, c.cart_id, ci.cart_item_id, ci.product_id, p.name, p.price,"
            " ci.quantity FROM carts c"
            " LEFT JOIN cart_items ci ON ci.cart_id = c.cart_id"
            " LEFT JOIN products p ON p.product_id = ci.product_id"
            f" WHERE c.user_id IN ({placeholders(len(ids))})"
            " ORDER BY c.user_id, ci.cart_item_id",
            ids,
        )
        items: dict[str, list[CartItem]] = {}
        carts: dict[str, int] = {}
        for r in rows:
            carts[r[0]] = int(r[1])
            found = items.setdefault(r[0], [])
            if r[2] is not None:  # a cart without items joins one row of NULLs
                found.append(_item(r[2:]))
        return {
            user: Cart(cart_id=cart_id, user_id=user, items=tuple(items[user]))
            for user, cart_id in carts.items()
        }

    async def add(
        self, cart_id: int, product_id: str, quantity: int, *, max_quantity: int, now: datetime
    ) -> int | None:
        # One statement merges with an existing line; a merge that would pass the max leaves
        # the row as it was, which MySQL reports as 0 rows affected.
        changed = await self._s.execute(
            "cart_items.upsert",
            "INSERT INTO cart_items (cart_id, product_id, quantity, created_at)"
            " VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE quantity ="
            " IF(quantity + VALUES(quantity) <= %s, quantity + VALUES(quantity), quantity)",
            (cart_id, product_id, quantity, to_db(now), max_quantity),
        )
        if changed == 0:
            return None
        row = await self._s.fetch_one(
            "cart_items.find",
            "SELECT cart_item_id FROM cart_items WHERE product_id = %s AND cart_id = %s",
            (product_id, cart_id),
        )
        return None if row is None else int(row[0])

    async def set_quantity(self, cart_id: int, cart_item_id: int, quantity: int) -> bool:
        await self._s.execute(
            "cart_items.update",
            "UPDATE cart_items SET quantity = %s WHERE cart_item_id = %s AND cart_id = %s",
            (quantity, cart_item_id, cart_id),
        )
        # rowcount is 0 for "same value" too, so ownership is read back, not inferred.
        row = await self._s.fetch_one(
            "cart_items.owned",
            "SELECT 1 FROM cart_items WHERE cart_item_id = %s AND cart_id = %s",
            (cart_item_id, cart_id),
        )
        return row is not None

    async def remove(self, cart_id: int, cart_item_id: int) -> bool:
        changed = await self._s.execute(
            "cart_items.delete",
            "DELETE FROM cart_items WHERE cart_item_id = %s AND cart_id = %s",
            (cart_item_id, cart_id),
        )
        return changed == 1

    async def clear(self, cart_ids: Sequence[int]) -> None:
        # A statement of its own, not deferred: a missing cart index (`cart_index=off`) then
        # shows under its name, not under the statement it would travel with (0014).
        await self._s.execute(
            "cart_items.clear",
            f"DELETE FROM cart_items WHERE cart_id IN ({placeholders(len(cart_ids))})",
            list(cart_ids),
        )
