"""Operations endpoints and the generic error contract."""

from __future__ import annotations

from shop.app import create_app
from shop.settings import Settings

from .conftest import problem


async def test_healthz_and_readyz(client) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"mysql": "ok"}


async def test_readyz_reports_redis_when_configured(aiohttp_client, settings: Settings) -> None:
    from dataclasses import replace

    client = await aiohttp_client(
        create_app(replace(settings, redis_url="redis://127.0.0.1:6379/0"))
    )
    body = await (await client.get("/readyz")).json()
    assert body["checks"] == {"mysql": "ok", "redis": "ok"}


async def test_readyz_is_503_naming_what_failed(aiohttp_client, settings: Settings) -> None:
    from dataclasses import replace

    # Nothing listens on port 1: Redis is unreachable, MySQL is fine.
    client = await aiohttp_client(create_app(replace(settings, redis_url="redis://127.0.0.1:1/0")))
    response = await client.get("/readyz")
    assert response.status == 503
    checks = (await response.json())["checks"]
    assert checks["mysql"] == "ok"
    assert checks["redis"].startswith("error")


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
