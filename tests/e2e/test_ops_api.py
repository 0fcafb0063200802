"""Operations endpoints and the generic error contract."""

from __future__ import annotations

import time
from dataclasses import replace

from shop.app import create_app
from shop.keys import DATABASE, MYSQL_PROBE
from shop.settings import Settings

from .conftest import problem


async def test_healthz_and_readyz(client) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    body = await ready.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"mysql": "ok", "pool": "0/20 in use, 0 waiting"}


async def test_readyz_reports_redis_when_configured(aiohttp_client, settings: Settings) -> None:
    client = await aiohttp_client(
        create_app(replace(settings, redis_url="redis://127.0.0.1:6379/0"))
    )
    body = await (await client.get("/readyz")).json()
    assert body["status"] == "ready"
    assert (body["checks"]["mysql"], body["checks"]["redis"]) == ("ok", "ok")


async def test_redis_down_degrades_readiness_without_failing_it(
    aiohttp_client, settings: Settings
) -> None:
    # Nothing listens on port 1: Redis is unreachable, MySQL is fine. The replica still serves
    # everything but the Redis-backed features, so the load balancer must keep it.
    client = await aiohttp_client(create_app(replace(settings, redis_url="redis://127.0.0.1:1/0")))
    response = await client.get("/readyz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["mysql"] == "ok"
    assert body["checks"]["redis"].startswith("error")


async def test_readyz_does_not_queue_behind_a_drained_or_slow_pool(
    aiohttp_client, settings: Settings
) -> None:
    client = await aiohttp_client(
        create_app(replace(settings, db_pool_max=1, db_acquire_timeout=5.0))
    )
    async with client.app[DATABASE].session():  # the pool's only connection, held
        started = time.monotonic()
        response = await client.get("/readyz")
        assert response.status == 200
        assert time.monotonic() - started < 1.0
        assert (await response.json())["checks"]["pool"] == "1/1 in use, 0 waiting"
    client.app[DATABASE].statement_delay = 3.0  # what `db_latency_ms=3000` does to requests
    response = await client.get("/readyz")
    assert response.status == 200


async def test_readyz_is_503_when_mysql_does_not_answer(aiohttp_client, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    # Started against the real database; then its probe is pointed where nothing listens.
    probe = client.app[MYSQL_PROBE]
    probe.target = replace(probe.target, port=1)
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["mysql"].startswith("error")


async def test_unknown_route_and_method_are_problems(client) -> None:
    await problem(await client.get("/api/nothing-here"), 404, "COMMON005")
    await problem(await client.put("/api/products"), 405, "COMMON006")


async def test_admin_seed_endpoint(client, admin_headers) -> None:
    response = await client.post(
        "/api/admin/seed",
        json={"users": 20, "stock": 100, "couponQuantity": 5},
        headers=admin_headers,
    )
    assert response.status == 200
    assert (await response.json())["users"] == 20
    await problem(await client.post("/api/admin/seed", json={}), 401, "COMMON003")
    await problem(
        await client.post("/api/admin/seed", json={"users": -1}, headers=admin_headers),
        400,
        "COMMON002",
    )
