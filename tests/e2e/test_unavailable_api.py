"""Waiting budgets: a held user lock answers 409 LOCK001, a drained pool 503 DB001."""

from __future__ import annotations

from dataclasses import replace

from shop.app import Overrides, create_app
from shop.keys import DATABASE
from shop.locks.local import LocalLockManager
from shop.settings import Settings

from ..factories import Factory
from .conftest import carted, problem


async def test_lock_still_held_is_409_with_retry_after(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    locks = LocalLockManager(wait=0.1)
    client = await aiohttp_client(create_app(settings, Overrides(locks=locks)))
    user, _ = await carted(client, factory, price=100, balance=50_000)
    async with locks.hold(f"order:user:{user}", name="order", wait=1, lease=10):
        response = await client.post("/api/orders", json={"userId": user})
        await problem(response, 409, "LOCK001")
        assert response.headers["Retry-After"] == "1"
    assert await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user) == 0
    assert (await client.post("/api/orders", json={"userId": user})).status == 200


async def test_drained_pool_is_503_and_writes_nothing(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    client = await aiohttp_client(
        create_app(replace(settings, db_pool_max=1, db_acquire_timeout=0.1))
    )
    user = await factory.user(balance=0)
    async with client.app[DATABASE].session():
        response = await client.post(f"/api/users/{user}/balance/charge", json={"amount": 5})
        await problem(response, 503, "DB001")
        assert "Retry-After" in response.headers
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 0
    assert (
        await client.post(f"/api/users/{user}/balance/charge", json={"amount": 5})
    ).status == 200
