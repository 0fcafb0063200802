"""Per-client limits over HTTP: 429 with Retry-After and the RateLimit fields, per user and per
address, exempt probes and admins, off in a lab unless asked for."""

from __future__ import annotations

from dataclasses import replace

from shop.app import create_app
from shop.settings import Settings

from ..factories import Factory
from ..metrics_text import metric_sum
from .conftest import problem


def _limited(settings: Settings, **rates: float) -> Settings:
    return replace(settings, rate_limits="on", rate_limit_burst_seconds=1.0, **rates)


async def _statuses(client, path: str, count: int, **options) -> list[int]:
    return [(await client.get(path, **options)).status for _ in range(count)]


async def test_a_lab_has_no_limits_unless_asked(client) -> None:
    statuses = await _statuses(client, "/api/products", 120)
    assert set(statuses) == {200}
    response = await client.get("/api/products")
    assert "RateLimit" not in response.headers


async def test_an_address_over_its_limit_gets_429_with_retry_after_and_the_fields(
    aiohttp_client, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(_limited(settings, rate_limit_address=5)))
    first = await client.get("/api/products/popular")
    assert first.status == 200
    assert first.headers["RateLimit-Policy"] == '"address";q=5;w=1'
    assert first.headers["RateLimit"] == '"address";r=4;t=1'
    assert await _statuses(client, "/api/products/popular", 4) == [200] * 4
    refused = await client.get("/api/products")  # the same budget on every anonymous route
    body = await problem(refused, 429, "COMMON007")
    assert "address" in body["message"]
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["RateLimit"] == '"address";r=0;t=1'
    # Probes and the scraper always get through, and the refusal was counted.
    assert await _statuses(client, "/healthz", 3) == [200] * 3
    metrics = await (await client.get("/metrics")).text()
    assert metric_sum(metrics, "shop_rate_limited_total", policy="address") == 1


async def test_each_user_has_a_budget_of_their_own(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    client = await aiohttp_client(create_app(_limited(settings, rate_limit_user=3)))
    flooder, other = await factory.user(), await factory.user()
    assert await _statuses(client, f"/api/users/{flooder}/balance", 4) == [200] * 3 + [429]
    assert await _statuses(client, f"/api/users/{other}/balance", 3) == [200] * 3
    response = await client.get(f"/api/users/{flooder}/balance")
    assert response.headers["RateLimit-Policy"] == '"user";q=3;w=1'


async def test_admins_are_not_limited(
    aiohttp_client, settings: Settings, admin_headers: dict[str, str]
) -> None:
    client = await aiohttp_client(create_app(_limited(settings, rate_limit_address=1)))
    statuses = await _statuses(client, "/api/admin/incidents", 5, headers=admin_headers)
    assert statuses == [200] * 5


async def test_forwarded_addresses_count_only_from_a_trusted_proxy(
    aiohttp_client, settings: Settings
) -> None:
    untrusted = await aiohttp_client(create_app(_limited(settings, rate_limit_address=2)))
    spoofed = [{"X-Forwarded-For": f"10.0.0.{n}"} for n in range(3)]
    assert [(await untrusted.get("/api/products", headers=h)).status for h in spoofed] == [
        200,
        200,
        429,
    ]
    trusted = await aiohttp_client(
        create_app(replace(_limited(settings, rate_limit_address=2), trusted_proxies="127.0.0.1"))
    )
    assert [(await trusted.get("/api/products", headers=h)).status for h in spoofed] == [200] * 3
    hop = {"X-Forwarded-For": "203.0.113.9, 10.0.0.1"}  # the proxy appended the last entry
    assert [(await trusted.get("/api/products", headers=hop)).status for _ in "ab"] == [200, 429]
