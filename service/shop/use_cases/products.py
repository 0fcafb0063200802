"""Reading the catalogue."""

from __future__ import annotations

from datetime import timedelta

from ..domain.errors import ProductNotFound, found
from ..domain.products import PopularProduct, Product, ProductSort
from .deps import Deps
from .ports import Tx


async def list_products(*, deps: Deps, category: str | None, sort: ProductSort) -> list[Product]:
    """The catalogue, optionally one category."""
    return await deps.store.autocommit(lambda tx: tx.products.listing(category=category, sort=sort))


async def require_product(tx: Tx, product_id: str) -> Product:
    """The product; ProductNotFound for an unknown id."""
    return found(await tx.products.get(product_id), ProductNotFound, f"product {product_id}")


async def get_product(*, deps: Deps, product_id: str) -> Product:
    """One product."""
    return await deps.store.autocommit(lambda tx: require_product(tx, product_id))


async def popular_products(*, deps: Deps, days: int, limit: int) -> list[PopularProduct]:
    """Best sellers by units sold in paid orders of the last `days` days."""
    now = deps.clock()
    since = now - timedelta(days=days)
    return await deps.store.autocommit(
        lambda tx: tx.products.popular(since=since, until=now, limit=limit)
    )
