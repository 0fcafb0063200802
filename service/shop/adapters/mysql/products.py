"""The catalogue, stock and sales."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...domain.products import PopularProduct, Product, ProductSort
from .session import Repository, cases, placeholders
from .times import to_db

_COLUMNS = "product_id, name, price, stock, category"
_ORDER_BY = {
    ProductSort.PRICE: "price ASC, product_id ASC",
    ProductSort.POPULARITY: "sales_count DESC, product_id ASC",
    ProductSort.NEWEST: "created_at DESC, product_id DESC",
}


def _product(row: Sequence[Any]) -> Product:
    return Product(
        product_id=row[0], name=row[1], price=int(row[2]), stock=int(row[3]), category=row[4]
    )


class ProductsRepository(Repository):
    __slots__ = ()

    async def listing(self, *, category: str | None, sort: ProductSort) -> list[Product]:
        where, params = ("WHERE category = %s", (category,)) if category else ("", ())
        rows = await self._s.fetch_all(
            "products.list",
            f"SELECT {_COLUMNS} FROM products {where} ORDER BY {_ORDER_BY[sort]}",
            params,
        )
        return [_product(r) for r in rows]

    async def get(self, product_id: str) -> Product | None:
        row = await self._s.fetch_one(
            "products.get", f"SELECT {_COLUMNS} FROM products WHERE product_id = %s", (product_id,)
        )
        return None if row is None else _product(row)

    async def lock(self, product_ids: Sequence[str]) -> dict[str, Product]:
        rows = await self._s.fetch_locked(
            "products.lock", f"SELECT {_COLUMNS} FROM products", "product_id", product_ids
        )
        return {r[0]: _product(r) for r in rows}

    async def take_stock(self, quantities: dict[str, int]) -> bool:
        ids = sorted(quantities)
        case, per_id = cases(ids, quantities, column="product_id")
        # One guarded statement: a row only changes where its stock covers its quantity.
        changed = await self._s.execute(
            "products.take_stock",
            f"UPDATE products SET stock = stock - ({case}),"
            f" sales_count = sales_count + ({case})"
            f" WHERE product_id IN ({placeholders(len(ids))})"
            f" AND stock >= ({case})",
            [*per_id, *per_id, *ids, *per_id],
        )
        return changed == len(ids)

    async def popular(
        self, *, since: datetime, until: datetime, limit: int
    ) -> list[PopularProduct]:
        rows = await self._s.fetch_all(
            "products.popular",
            f"SELECT p.{_COLUMNS.replace(', ', ', p.')}, s.units FROM"
            " (SELECT product_id, SUM(quantity) AS units FROM order_items"
            "  WHERE created_at BETWEEN %s AND %s"
            "  GROUP BY product_id ORDER BY units DESC, product_id"
            "  LIMIT %s) AS s"
            " JOIN products p ON p.product_id = s.product_id"
            " ORDER BY s.units DESC, p.product_id",
            (to_db(since), to_db(until), limit),
        )
        return [PopularProduct(product=_product(r), sales_count=int(r[5])) for r in rows]
