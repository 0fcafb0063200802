"""Product endpoints."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from shop.app import Overrides, create_app

from ..factories import Factory, unique
from .conftest import problem


async def test_list_filters_by_category_and_sorts_by_price(client, factory: Factory) -> None:
    category = unique("cat")
    cheap = await factory.product(price=100, category=category)
    dear = await factory.product(price=900, category=category)
    await factory.product(price=500)  # another category
    response = await client.get(f"/api/products?category={category}&sort=price")
    assert response.status == 200
    listed = await response.json()
    assert [p["productId"] for p in listed] == [cheap, dear]
    assert set(listed[0]) == {"productId", "name", "price", "stock", "category"}


async def test_newest_first(client, factory: Factory) -> None:
    category = unique("cat")
    first = await factory.product(category=category)
    second = await factory.product(category=category)
    listed = await (await client.get(f"/api/products?category={category}&sort=newest")).json()
    assert [p["productId"] for p in listed] == [second, first]


async def test_unknown_sort_is_400(client) -> None:
    await problem(await client.get("/api/products?sort=cheapest"), 400, "COMMON002")


async def test_detail_and_stock(client, factory: Factory) -> None:
    product = await factory.product(price=1234, stock=0)
    detail = await (await client.get(f"/api/products/{product}")).json()
    assert detail["productId"] == product
    assert detail["price"] == 1234
    stock = await (await client.get(f"/api/products/{product}/stock")).json()
    assert stock == {"productId": product, "stock": 0, "available": False}
    await problem(await client.get("/api/products/missing-product"), 404, "P001")
    await problem(await client.get("/api/products/missing-product/stock"), 404, "P001")


async def test_popular_counts_units_sold_in_paid_orders(
    aiohttp_client, settings, factory: Factory
) -> None:
    # A clock of its own, years away, so that only this test's sales fall in the window.
    moment = datetime(2100, 1, 1, tzinfo=UTC) + timedelta(minutes=random.randrange(10**7))
    client = await aiohttp_client(create_app(settings, Overrides(clock=lambda: moment)))
    hot = await factory.product(price=10, stock=100)
    warm = await factory.product(price=10, stock=100)
    cold = await factory.product(price=10, stock=100)
    buyers = await factory.users(2)
    for user, lines in ((buyers[0], ((hot, 30), (warm, 20))), (buyers[1], ((hot, 5),))):
        for product, quantity in lines:
            await client.post(
                "/api/cart/items", json={"userId": user, "productId": product, "quantity": quantity}
            )
        assert (await client.post("/api/orders", json={"userId": user})).status == 200
    popular = await (await client.get("/api/products/popular?days=1&limit=5")).json()
    assert [(p["productId"], p["salesCount"]) for p in popular] == [(hot, 35), (warm, 20)]
    assert cold not in {p["productId"] for p in popular}
    assert set(popular[0]) == {"productId", "name", "price", "stock", "category", "salesCount"}
    top = await (await client.get("/api/products/popular?days=1&limit=1")).json()
    assert [p["productId"] for p in top] == [hot]


async def test_popular_bounds(client) -> None:
    for query in ("days=0", "days=31", "limit=0", "limit=101", "days=abc"):
        await problem(await client.get(f"/api/products/popular?{query}"), 400, "COMMON002")
