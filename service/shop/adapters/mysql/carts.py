"""Carts and their items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ...domain.carts import CartItem
from .session import Session, placeholders
from .times import to_db


class CartsRepository:
    __slots__ = ("_s",)

    def __init__(self, session: Session) -> None:
        self._s = session

    async def cart_id(self, user_id: str, *, lock: bool = False) -> int | None:
        sql = "SELECT cart_id FROM carts WHERE user_id = %s" + (" FOR UPDATE" if lock else "")
        row = await self._s.fetch_one("carts.by_user", sql, (user_id,))
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

    async def cart_ids(self, user_ids: Sequence[str]) -> dict[str, int]:
        ids = sorted(set(user_ids))
        rows = await self._s.fetch_all(
            "carts.by_users",
            f"SELECT user_id, cart_id FROM carts WHERE user_id IN ({placeholders(len(ids))})",
            ids,
        )
        return {r[0]: int(r[1]) for r in rows}

    async def items(self, cart_id: int) -> list[CartItem]:
        return (await self.items_of([cart_id])).get(cart_id, [])

    async def items_of(self, cart_ids: Sequence[int]) -> dict[int, list[CartItem]]:
        rows = await self._s.fetch_all(
            "cart_items.by_cart",
            "SELECT ci.cart_id, ci.cart_item_id, ci.product_id, p.name, p.price, ci.quantity"
            " FROM cart_items ci JOIN products p ON p.product_id = ci.product_id"
            f" WHERE ci.cart_id IN ({placeholders(len(cart_ids))})"
            " ORDER BY ci.cart_id, ci.cart_item_id",
            list(cart_ids),
        )
        found: dict[int, list[CartItem]] = {}
        for r in rows:
            found.setdefault(int(r[0]), []).append(
                CartItem(
                    cart_item_id=int(r[1]),
                    product_id=r[2],
                    product_name=r[3],
                    price=int(r[4]),
                    quantity=int(r[5]),
                )
            )
        return found

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

    async def clear(self, cart_id: int) -> None:
        # Nothing refuses it and nothing is read back: it travels with the next statement.
        self._s.defer("cart_items.clear", "DELETE FROM cart_items WHERE cart_id = %s", (cart_id,))
