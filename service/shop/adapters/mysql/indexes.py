"""The `cart_items(cart_id)` index, dropped and recreated at runtime by the `cart_index` incident
switch (the original's full-table-scan incident: 60 ms cart reads instead of 2 ms)."""

from __future__ import annotations

import pymysql

from .pool import Database

CART_INDEX = "idx_cart_items_cart"
# Another replica applying the same flip got there first: the index is already as wanted.
ALREADY_EXISTS, ALREADY_GONE = 1061, 1091


async def set_cart_index(database: Database, on: bool) -> None:
    """Create (`on`) or drop the index; a no-op when it is already so."""
    async with database.session() as s:
        present = await s.fetch_one(
            "indexes.cart_index",
            "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE()"
            " AND table_name = 'cart_items' AND index_name = %s LIMIT 1",
            (CART_INDEX,),
        )
        if on == (present is not None):
            return
        # Online DDL: orders keep reading and writing carts while the index is built.
        sql = (
            f"ALTER TABLE cart_items ADD INDEX {CART_INDEX} (cart_id), ALGORITHM=INPLACE, LOCK=NONE"
            if on
            else f"ALTER TABLE cart_items DROP INDEX {CART_INDEX}, ALGORITHM=INPLACE, LOCK=NONE"
        )
        try:
            await s.execute("indexes.cart_index_ddl", sql)
        except pymysql.err.MySQLError as exc:
            if not exc.args or exc.args[0] not in (ALREADY_EXISTS, ALREADY_GONE):
                raise
