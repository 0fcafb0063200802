"""Three shop processes behind no load balancer but the test itself: every guarantee holds
across replicas, with the Redis lock backend and the Redis coupon gate."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import aiohttp
import pytest

from ..factories import Factory
from .replicas import fill_carts, replicas

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def three(test_database: str, redis_session: str, tmp_path_factory) -> list[str]:
    with replicas(
        3,
        db_url=test_database,
        redis_prefix=redis_session,
        log_dir=tmp_path_factory.mktemp("replicas"),
        SHOP_LOCK_BACKEND="redis",
    ) as urls:
        yield urls


async def test_coupon_of_100_over_three_replicas(three: list[str], factory: Factory) -> None:
    coupon = await factory.coupon(quantity=100)
    users = await factory.users(1_000)
    targets = itertools.cycle(three)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=300)) as http:

        async def issue(user: str, base: str) -> int:
            async with http.post(f"{base}/api/coupons/{coupon}/issue", json={"userId": user}) as r:
                return r.status

        statuses = Counter(await asyncio.gather(*(issue(u, next(targets)) for u in users)))
    assert statuses == {200: 100, 400: 900}
    assert await factory.rows(
        "SELECT COUNT(DISTINCT user_id), COUNT(*) FROM user_coupons WHERE coupon_id = %s", coupon
    ) == [(100, 100)]


async def test_orders_and_charges_of_the_same_users_across_replicas(
    three: list[str], factory: Factory
) -> None:
    users = await factory.users(20, balance=10_000)
    product = await factory.product(price=1_000, stock=30)
    targets = itertools.cycle(three)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=300)) as http:
        await fill_carts(http, three[0], users, product, 2)

        async def call(method: str, path: str, body: dict[str, object]) -> tuple[str, int, str]:
            async with http.request(method, f"{next(targets)}{path}", json=body) as r:
                answer = await r.json(content_type=None)
                return path, r.status, answer.get("code", "") if r.status >= 400 else ""

        calls = [call("POST", "/api/orders", {"userId": u}) for u in users for _ in range(3)]
        calls += [
            call("POST", f"/api/users/{u}/balance/charge", {"amount": 100})
            for u in users
            for _ in range(5)
        ]
        results = await asyncio.gather(*calls)
    charges = [s for p, s, _ in results if p.endswith("/charge")]
    orders = Counter((s, code) for p, s, code in results if p == "/api/orders")
    assert charges == [200] * 100
    # Stock 30 covers 15 carts of 2 and nobody pays twice: every other attempt finds the cart
    # empty (paid already) or the stock short, and nothing else happens.
    assert orders[(200, "")] == 15
    assert set(orders) <= {(200, ""), (400, "O001"), (400, "P002")}, orders
    assert sum(orders.values()) == 60
    paid = await factory.rows_over(
        "SELECT user_id, COUNT(*) FROM orders WHERE user_id IN ({ids}) GROUP BY user_id", users
    )
    assert len(paid) == 15
    assert all(count == 1 for _, count in paid)
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == 0
    total = await factory.scalar_over(
        "SELECT SUM(balance) FROM users WHERE user_id IN ({ids})", users
    )
    assert total == 20 * 10_000 + 100 * 100 - 15 * 2_000
