"""Helpers for the HTTP tests, and the check that every answer matches the OpenAPI document."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestServer

from shop.api.framework.responses import SECURITY_HEADERS
from shop.api.framework.server import ShopRunner
from shop.app import create_app
from shop.keys import OPENAPI, SETTINGS
from shop.settings import Settings

from ..conftest import REDIS_URL
from ..factories import Factory
from .contract import Contract


class ShopTestServer(TestServer):
    """pytest-aiohttp's server, run by the shop's own runner (its limits, its refusals)."""

    async def _make_runner(self, **kwargs: Any) -> ShopRunner:
        timeout = self.app[SETTINGS].client_timeout
        return ShopRunner(self.app, header_timeout=timeout, **kwargs)


@pytest.fixture
def aiohttp_client(aiohttp_client: Any) -> Any:
    """pytest-aiohttp's client factory: every answer is validated against the served document
    and must carry the security headers (no-store, nosniff)."""

    async def make(app: web.Application, **kwargs: Any) -> Any:
        client = await aiohttp_client(ShopTestServer(app), **kwargs)
        contract = Contract(app[OPENAPI])
        request = client._request

        async def checked(method: str, path: Any, **options: Any) -> ClientResponse:
            response: ClientResponse = await request(method, path, **options)
            body = await response.read()
            contract.check(method, response.url.path, response.status, response.headers, body)
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (method, path, name)
            return response

        client._request = checked
        return client

    return make


async def two_replicas(aiohttp_client: Any, settings: Settings, **changes: Any) -> tuple[Any, Any]:
    """Two apps on one database and one Redis, under a key prefix of their own, as two
    replicas of the shop are; `changes` alter both apps' settings alike."""
    shared = replace(
        settings,
        redis_url=REDIS_URL,
        redis_prefix=f"{settings.redis_prefix}{uuid.uuid4().hex[:12]}:",
        **changes,
    )
    return await aiohttp_client(create_app(shared)), await aiohttp_client(create_app(shared))


async def carted(
    client: Any, factory: Factory, *, price: int, stock: int = 100, balance: int = 1_000_000
) -> tuple[str, str]:
    """A new user with `balance` and one unit of a new product at `price` in their cart, put
    there over HTTP: the (user, product) an order is then placed for."""
    user = await factory.user(balance=balance)
    product = await factory.product(price=price, stock=stock)
    await client.post("/api/cart/items", json={"userId": user, "productId": product, "quantity": 1})
    return user, product


async def problem(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """Assert a problem+json answer with the given status and code; return its body."""
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["code"] == code, body
    assert body["status"] == status
    for key in ("type", "title", "detail", "message", "timestamp"):
        assert body[key], key
    return body
