"""Handlers: the catalogue."""

from __future__ import annotations

from ...use_cases import products
from ..framework.endpoint import Call
from ..types.inputs import NoInput, PopularQuery, ProductPath, ProductQuery
from ..types.outputs import PopularProduct, Product, Stock


async def list_products(call: Call[NoInput, ProductQuery, NoInput]) -> list[Product]:
    found = await products.list_products(
        deps=call.deps, category=call.query.category, sort=call.query.sort
    )
    return [Product.of(p) for p in found]


async def get_product(call: Call[ProductPath, NoInput, NoInput]) -> Product:
    return Product.of(await products.get_product(deps=call.deps, product_id=call.path.product_id))


async def get_stock(call: Call[ProductPath, NoInput, NoInput]) -> Stock:
    return Stock.of(await products.get_product(deps=call.deps, product_id=call.path.product_id))


async def popular(call: Call[NoInput, PopularQuery, NoInput]) -> list[PopularProduct]:
    found = await products.popular_products(
        deps=call.deps, days=call.query.days, limit=call.query.limit
    )
    return [PopularProduct.of_popular(p) for p in found]
