"""The coupon gate gives back units whose request never committed: a coupon of N goes to N."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from dataclasses import replace

import aiohttp
import pytest
import redis.asyncio as aioredis

from loadtest.harness.waiting import until
from shop.app import create_app
from shop.settings import Settings

from ..conftest import ADMIN_TOKEN, REDIS_PREFIX
from ..factories import Factory
from .replicas import REDIS_URL, RUNNING, replicas


@pytest.fixture
async def redis_client():
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def _left(prefix: str, coupon: str) -> str:
    return f"{prefix}coupon:{{{coupon}}}:left"


async def _left_is(client: aioredis.Redis, prefix: str, coupon: str, units: int) -> bool:
    return await client.get(_left(prefix, coupon)) == str(units).encode()


async def test_a_unit_mysql_refused_is_refunded_at_once(
    aiohttp_client, settings: Settings, factory: Factory, redis_client
) -> None:
    prefix = f"{REDIS_PREFIX}{uuid.uuid4().hex[:12]}:"
    client = await aiohttp_client(
        create_app(replace(settings, redis_url=REDIS_URL, redis_prefix=prefix))
    )
    coupon = await factory.coupon(quantity=1)
    # Admitted by the gate, refused by MySQL (no such user): the unit goes straight back.
    response = await client.post(f"/api/coupons/{coupon}/issue", json={"userId": "u-nobody"})
    assert response.status == 404
    assert int(await redis_client.get(_left(prefix, coupon))) == 1
    user = await factory.user()
    assert (await client.post(f"/api/coupons/{coupon}/issue", json={"userId": user})).status == 200


async def test_units_of_a_killed_replica_come_back(
    aiohttp_client, settings: Settings, factory: Factory, redis_client, test_database, tmp_path
) -> None:
    prefix = f"{REDIS_PREFIX}{uuid.uuid4().hex[:12]}:"
    coupon = await factory.coupon(quantity=3)
    doomed, later = await factory.users(3), await factory.users(3)
    with replicas(1, db_url=test_database, redis_prefix=prefix, log_dir=tmp_path) as (url,):
        async with aiohttp.ClientSession() as http:
            # Load the gate while the database is fast (an unknown user: admitted, refunded).
            warm = await http.post(f"{url}/api/coupons/{coupon}/issue", json={"userId": "u-no"})
            assert warm.status == 404
            slow = await http.put(
                f"{url}/api/admin/incidents/db_latency_ms",
                json={"value": 10_000},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert slow.status == 200
            posts = [
                asyncio.ensure_future(
                    http.post(f"{url}/api/coupons/{coupon}/issue", json={"userId": u})
                )
                for u in doomed
            ]
            # Every unit admitted by the gate, none committed: then the replica dies.
            await until(lambda: _left_is(redis_client, prefix, coupon, 0))
            replica = RUNNING[url]
            replica.send_signal(signal.SIGKILL)
            replica.wait()
            answers = await asyncio.gather(*posts, return_exceptions=True)
            assert all(isinstance(a, aiohttp.ClientError) for a in answers), answers
    await redis_client.delete(f"{prefix}incidents")  # the slow database was that replica's
    assert await factory.issued(coupon) == 0

    survivor = await aiohttp_client(
        create_app(
            replace(
                settings,
                redis_url=REDIS_URL,
                redis_prefix=prefix,
                coupon_gate_grace=0.5,
                coupon_gate_interval=0.2,
            )
        )
    )
    issue = f"/api/coupons/{coupon}/issue"
    # The gate first answers from its stale count; the reconciler then gives the units back.
    assert (await survivor.post(issue, json={"userId": later[0]})).status == 400
    await until(lambda: _left_is(redis_client, prefix, coupon, 3))
    statuses = Counter(
        r.status
        for r in await asyncio.gather(*(survivor.post(issue, json={"userId": u}) for u in later))
    )
    assert statuses == {200: 3}
    holders = await factory.rows(
        "SELECT COUNT(DISTINCT user_id), COUNT(*) FROM user_coupons WHERE coupon_id = %s", coupon
    )
    assert holders == [(3, 3)]
