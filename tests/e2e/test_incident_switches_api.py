"""The `redis` and `lock_hold_ms` incident switches over HTTP: each reproduces its failure on
every replica and flipping it back restores service without a restart."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from shop.app import Overrides, create_app
from shop.locks.local import LocalLockManager
from shop.settings import Settings

from ..conftest import REDIS_URL
from ..factories import Factory
from .conftest import problem, two_replicas


async def _switch_gauge(client: Any) -> dict[str, float]:
    text = await (await client.get("/metrics")).text()
    family = next(
        f for f in text_string_to_metric_families(text) if f.name == "shop_incident_switch"
    )
    return {s.labels["switch"]: s.value for s in family.samples}


async def _until(check: Any, what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_redis_down_fails_locks_closed_on_every_replica_and_comes_back(
    aiohttp_client, settings: Settings, factory: Factory, admin_headers
) -> None:
    one, two = await two_replicas(aiohttp_client, settings, lock_backend="redis")
    user = await factory.user(balance=0)
    coupon = await factory.coupon(quantity=5)
    charge = f"/api/users/{user}/balance/charge"
    assert (await one.post(charge, json={"amount": 5})).status == 200

    flipped = await one.put(
        "/api/admin/incidents/redis", json={"value": "down"}, headers=admin_headers
    )
    assert flipped.status == 200
    assert (await flipped.json())["on"] is True

    async def two_is_cut() -> bool:
        ready = await two.get("/readyz")  # degraded, still ready: it serves all else
        return ready.status == 200 and (await ready.json())["status"] == "degraded"

    await _until(two_is_cut, "the other replica did not take redis=down")
    for replica in (one, two):
        await problem(await replica.post(charge, json={"amount": 5}), 503, "LOCK002")
        await problem(await replica.post("/api/orders", json={"userId": user}), 503, "LOCK002")
        assert (await _switch_gauge(replica))["redis"] == 1
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 5
    # The coupon gate is bypassed: MySQL alone decides, still exactly once per user.
    issue = f"/api/coupons/{coupon}/issue"
    assert (await two.post(issue, json={"userId": user})).status == 200
    await problem(await one.post(issue, json={"userId": user}), 409, "C006")

    # Flipped back through the other replica: the switch itself never depended on the cut.
    back = await two.put("/api/admin/incidents/redis", json={"value": "up"}, headers=admin_headers)
    assert (await back.json())["on"] is False

    async def one_is_back() -> bool:
        return (await (await one.get("/readyz")).json())["status"] == "ready"

    await _until(one_is_back, "the first replica did not take redis=up")
    for replica in (one, two):
        # As after a real outage, the lock breaker stays open for its cooldown first.
        async def charged(replica: Any = replica) -> bool:
            response = await replica.post(charge, json={"amount": 5})
            if response.status != 200:
                await problem(response, 503, "LOCK002")
            return response.status == 200

        await _until(charged, "locks did not come back")
        assert (await _switch_gauge(replica))["redis"] == 0
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 15


async def test_redis_switch_refuses_other_values(
    aiohttp_client, settings: Settings, admin_headers
) -> None:
    client = await aiohttp_client(
        create_app(
            replace(
                settings,
                redis_url=REDIS_URL,
                redis_prefix=f"{settings.redis_prefix}{uuid.uuid4().hex[:12]}:",
            )
        )
    )
    response = await client.put(
        "/api/admin/incidents/redis", json={"value": "sideways"}, headers=admin_headers
    )
    await problem(response, 400, "COMMON002")


async def test_lock_hold_ms_keeps_the_lock_so_the_next_request_times_out(
    aiohttp_client, settings: Settings, factory: Factory, admin_headers
) -> None:
    locks = LocalLockManager(wait=0.2)
    client = await aiohttp_client(create_app(settings, Overrides(locks=locks)))
    user = await factory.user(balance=0)
    charge = f"/api/users/{user}/balance/charge"
    url = "/api/admin/incidents/lock_hold_ms"
    assert (await client.put(url, json={"value": 2_000}, headers=admin_headers)).status == 200
    assert (await _switch_gauge(client))["lock_hold_ms"] == 1

    first = asyncio.create_task(client.post(charge, json={"amount": 5}))

    async def held() -> bool:
        return locks.keys_count() == 1

    await _until(held, "the first charge never took the lock")
    # The first holder lingers two seconds: a second charge's 0.2 s budget runs out behind it.
    await problem(await client.post(charge, json={"amount": 5}), 409, "LOCK001")
    assert (await first).status == 200

    assert (await client.put(url, json={"value": 0}, headers=admin_headers)).status == 200
    together = await asyncio.gather(*(client.post(charge, json={"amount": 5}) for _ in range(3)))
    assert [r.status for r in together] == [200, 200, 200]
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 20
    assert (await _switch_gauge(client))["lock_hold_ms"] == 0
