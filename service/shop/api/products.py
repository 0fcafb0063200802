"""Handlers: the catalogue."""

from __future__ import annotations

from aiohttp import web

from ..domain.products import (
    MAX_POPULAR_DAYS,
    MAX_POPULAR_LIMIT,
    MIN_POPULAR_DAYS,
    MIN_POPULAR_LIMIT,
    ProductSort,
)
from ..keys import DEPS
from ..use_cases import products
from . import render
from .parsing import path_id, query_fields
from .responses import json_response


async def list_products(request: web.Request) -> web.Response:
    query = query_fields(request)
    category = query.optional_text("category")
    sort = query.choice("sort", ProductSort, required=False) or ProductSort.NEWEST
    found = await products.list_products(deps=request.app[DEPS], category=category, sort=sort)
    return json_response([render.product(p) for p in found])


async def get_product(request: web.Request) -> web.Response:
    product = await products.get_product(
        deps=request.app[DEPS], product_id=path_id(request, "productId")
    )
    return json_response(render.product(product))


async def get_stock(request: web.Request) -> web.Response:
    product = await products.get_product(
        deps=request.app[DEPS], product_id=path_id(request, "productId")
    )
    return json_response(
        {"productId": product.product_id, "stock": product.stock, "available": product.stock > 0}
    )


async def popular(request: web.Request) -> web.Response:
    query = query_fields(request)
    days = query.optional_integer(
        "days", minimum=MIN_POPULAR_DAYS, maximum=MAX_POPULAR_DAYS, default=3
    )
    limit = query.optional_integer(
        "limit", minimum=MIN_POPULAR_LIMIT, maximum=MAX_POPULAR_LIMIT, default=5
    )
    found = await products.popular_products(deps=request.app[DEPS], days=days, limit=limit)
    return json_response([render.popular(p) for p in found])
