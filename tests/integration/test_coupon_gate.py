"""The Redis coupon gate in front of MySQL: fast answers, never an over-issue."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from shop.app import create_app
from shop.settings import Settings

from ..conftest import REDIS_URL
from ..factories import Factory, statements_run


class GateKeys:
    """A coupon's state in the Redis gate under the run's prefix (one hash slot per coupon), for
    the tests that take it away or make it lie."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client, self.prefix = client, prefix

    def key(self, coupon: str, part: str) -> str:
        return f"{self.prefix}coupon:{{{coupon}}}:{part}"

    async def forget(self, coupon: str) -> None:
        """Every key of the coupon gone, as after Redis restarted empty."""
        for key in await self.client.keys(self.key(coupon, "*")):
            await self.client.delete(key)

    async def set_left(self, coupon: str, units: int) -> None:
        await self.client.set(self.key(coupon, "left"), units)


@pytest.fixture
async def gate_keys(redis_prefix: str):
    client = aioredis.Redis.from_url(REDIS_URL)
    yield GateKeys(client, redis_prefix)
    await client.aclose()


@pytest.fixture
async def gated(aiohttp_client, settings: Settings):
    return await aiohttp_client(create_app(replace(settings, redis_url=REDIS_URL)))


async def _issue_all(client, coupon: str, users: list[str]) -> Counter[int]:
    responses = await asyncio.gather(
        *(client.post(f"/api/coupons/{coupon}/issue", json={"userId": u}) for u in users)
    )
    return Counter(r.status for r in responses)


async def test_exactly_n_through_the_gate(gated, factory: Factory) -> None:
    coupon = await factory.coupon(quantity=100)
    users = await factory.users(1_000)
    assert await _issue_all(gated, coupon, users) == {200: 100, 400: 900}
    holders = await factory.rows(
        "SELECT COUNT(DISTINCT user_id), COUNT(*) FROM user_coupons WHERE coupon_id = %s", coupon
    )
    assert holders == [(100, 100)]


async def test_sold_out_and_duplicates_never_reach_mysql(gated, factory: Factory) -> None:
    coupon = await factory.coupon(quantity=5)
    users = await factory.users(5)
    assert await _issue_all(gated, coupon, users) == {200: 5}
    late = await factory.users(50)
    before = statements_run(gated)
    assert await _issue_all(gated, coupon, late) == {400: 50}
    assert await _issue_all(gated, coupon, users) == {409: 5}
    assert statements_run(gated) == before


async def test_gate_rebuilds_after_redis_loses_its_data(gated, factory: Factory, gate_keys) -> None:
    coupon = await factory.coupon(quantity=60)
    users = await factory.users(300)
    assert await _issue_all(gated, coupon, users[:40]) == {200: 40}
    await gate_keys.forget(coupon)
    outcomes = await _issue_all(gated, coupon, users)  # the first 40 again, then 260 new
    assert outcomes == {409: 40, 200: 20, 400: 240}
    assert (
        await factory.scalar("SELECT COUNT(*) FROM user_coupons WHERE coupon_id = %s", coupon) == 60
    )


async def test_a_wrong_gate_cannot_over_issue(gated, factory: Factory, gate_keys) -> None:
    coupon = await factory.coupon(quantity=10)
    users = await factory.users(100)
    assert await _issue_all(gated, coupon, users[:1]) == {200: 1}
    await gate_keys.set_left(coupon, 1_000)  # the gate now lies
    outcomes = await _issue_all(gated, coupon, users[1:])
    assert outcomes == {200: 9, 400: 90}
    assert await factory.issued(coupon) == 10


async def test_unreachable_redis_leaves_mysql_to_decide(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    client = await aiohttp_client(create_app(replace(settings, redis_url="redis://127.0.0.1:1/0")))
    coupon = await factory.coupon(quantity=3)
    users = await factory.users(10)
    assert await _issue_all(client, coupon, users) == {200: 3, 400: 7}


async def test_a_unit_mysql_refuses_goes_back_to_the_gate(gated, factory: Factory) -> None:
    coupon = await factory.coupon(quantity=1)
    user = await factory.user()
    # The gate admits the unknown user; MySQL refuses them (U001): the unit must come back.
    refused = await gated.post(f"/api/coupons/{coupon}/issue", json={"userId": "nobody-at-all"})
    assert refused.status == 404
    assert (await gated.post(f"/api/coupons/{coupon}/issue", json={"userId": user})).status == 200
