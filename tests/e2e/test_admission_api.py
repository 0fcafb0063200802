"""Past its capacity the shop admits what it can serve and answers the rest at once with 503.

A real overload: the database made slow (`db_latency_ms`), a crowd of concurrent balance
charges far larger than the gate's limit. Without admission control every one of them waits
for a pool connection and all of them are slow; with it, the admitted keep the latency of a
lone request, the rest get a fast `503 OVERLOADED` with `Retry-After`, and health, readiness,
metrics and the admin API are served throughout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from shop.app import create_app
from shop.settings import Settings

from ..factories import Factory
from ..metrics_text import metric_sum
from .conftest import problem

CROWD = 60
LIMIT = 6


async def _timed(client: Any, method: str, path: str, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = await client.request(method, path, **kwargs)
    await response.read()
    return response, time.monotonic() - started


async def test_a_crowd_past_the_limit_is_shed_fast_and_the_admitted_stay_fast(
    aiohttp_client: Any, settings: Settings, factory: Factory, admin_headers: dict[str, str]
) -> None:
    shop = replace(
        settings,
        admission="on",
        admission_initial_limit=LIMIT,
        admission_min_limit=LIMIT,
        admission_max_limit=LIMIT,
        db_pool_max=2 * LIMIT,  # the bottleneck: without the gate the crowd queues here
    )
    client = await aiohttp_client(create_app(shop))
    users = await factory.users(CROWD + 1)
    slow = {"value": 100}
    assert (
        await client.put("/api/admin/incidents/db_latency_ms", json=slow, headers=admin_headers)
    ).status == 200
    _, alone = await _timed(
        client, "POST", f"/api/users/{users[-1]}/balance/charge", json={"amount": 1}
    )

    crowd = [
        asyncio.ensure_future(
            _timed(client, "POST", f"/api/users/{user}/balance/charge", json={"amount": 1})
        )
        for user in users[:CROWD]
    ]
    await asyncio.sleep(0.05)
    for path, headers in (
        ("/healthz", {}),
        ("/readyz", {}),
        ("/metrics", {}),
        ("/api/admin/incidents", admin_headers),
    ):
        response, _ = await _timed(client, "GET", path, headers=headers)
        assert response.status == 200, path
    answers = await asyncio.gather(*crowd)

    served = [took for response, took in answers if response.status == 200]
    shed = [(response, took) for response, took in answers if response.status == 503]
    assert len(served) + len(shed) == CROWD
    # The admitted wait at most a turn behind the others admitted (the gate, not the pool,
    # holds the crowd back): without the gate the crowd queues for the pool, five turns deep.
    assert max(served) < 2.5 * alone + 0.2, (alone, sorted(served))
    assert LIMIT <= len(served) < CROWD / 2
    for response, _ in shed[:3]:
        await problem(response, 503, "OVERLOADED")
        assert response.headers["Retry-After"] == "1"
    # Refused within the queue deadline (0.1 s) plus the event loop's own delay on a busy
    # machine: before a second turn at the database, never queued behind the crowd's turns.
    refusals = sorted(took for _, took in shed)
    assert refusals[len(refusals) // 2] < 1.5 * alone, (alone, refusals)
    assert refusals[-1] < 0.5, refusals
    metrics = await (await client.get("/metrics")).text()
    route = "/api/users/{userId}/balance/charge"
    assert metric_sum(metrics, "shop_admission_refusals_total", http_route=route) == len(shed)
    assert metric_sum(metrics, "shop_admission_limit") == LIMIT
