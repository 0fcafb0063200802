"""Token lifecycle over HTTP: revocation on every replica, environments, production lifetimes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient

from shop.app import create_app
from shop.auth.tokens import TokenSigner, bearer_headers
from shop.settings import Settings

from ..conftest import ADMIN_TOKEN, AiohttpClient
from ..factories import Factory
from .conftest import problem

SECRET = "test-auth-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _mint(client: TestClient, user: str, **extra: int) -> dict[str, str]:
    minted = await client.post("/api/admin/tokens", json={"userId": user, **extra}, headers=ADMIN)
    assert minted.status == 201, await minted.text()
    return {"Authorization": f"Bearer {(await minted.json())['token']}"}


async def test_a_revoked_user_is_refused_on_every_replica(
    aiohttp_client: AiohttpClient, settings: Settings, factory: Factory
) -> None:
    """Two replicas on one database, no Redis (the MySQL-only mode): `shop revoke` reaches
    both within the refresh interval; the user's other tokens die too, other users' live."""
    guarded = replace(settings, auth="required", auth_secret=SECRET, token_revocation_refresh=0.1)
    replicas = [await aiohttp_client(create_app(guarded)) for _ in range(2)]
    user, bystander = await factory.users(2)
    tokens = [await _mint(replicas[0], user), await _mint(replicas[1], user)]
    theirs = await _mint(replicas[0], bystander)
    for replica in replicas:
        for token in tokens:
            assert (await replica.get(f"/api/users/{user}/balance", headers=token)).status == 200

    revoked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shop", "revoke", user],
        env={"SHOP_DB_URL": settings.db_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert revoked.returncode == 0, revoked.stderr

    async def refused_everywhere() -> bool:
        for replica in replicas:
            for token in tokens:
                answer = await replica.get(f"/api/users/{user}/balance", headers=token)
                if answer.status != 401:
                    return False
                assert "revoked" in (await answer.json())["detail"]
        return True

    for _ in range(100):  # 5 s; the refresh interval is 0.1 s
        if await refused_everywhere():
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("a replica still accepts the revoked tokens")
    url = f"/api/users/{bystander}/balance"
    assert (await replicas[1].get(url, headers=theirs)).status == 200
    # A token minted after the revocation's moment works again.
    await asyncio.sleep(max(0.0, int(revoked.stdout.split(" before ")[1].split()[0]) - time.time()))
    fresh = await _mint(replicas[1], user)
    assert (await replicas[0].get(f"/api/users/{user}/balance", headers=fresh)).status == 200


async def test_a_token_of_another_environment_is_401(
    aiohttp_client: AiohttpClient, settings: Settings, factory: Factory
) -> None:
    client = await aiohttp_client(
        create_app(replace(settings, auth="required", auth_secret=SECRET))
    )
    user = await factory.user()
    now = int(time.time())
    dev = TokenSigner.from_secret(SECRET).mint(user, expires_at=now + 60, env="dev", issued_at=now)
    answer = await client.get(
        f"/api/users/{user}/balance", headers={"Authorization": f"Bearer {dev}"}
    )
    body = await problem(answer, 401, "COMMON003")
    assert "dev environment" in body["detail"]


async def test_load_test_tokens_work_in_a_lab_and_never_in_production(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOP_ENV", "test")
    user = await factory.user()
    lab = await aiohttp_client(create_app(replace(settings, auth="required", auth_secret=SECRET)))
    tools = bearer_headers(user)  # SHOP_LOADTEST_SECRET unset on both sides: the lab default
    assert (await lab.get(f"/api/users/{user}/balance", headers=tools)).status == 200
    production = replace(settings, env="prod", auth="required", auth_secret=SECRET)
    prod = await aiohttp_client(create_app(production))
    monkeypatch.setenv("SHOP_ENV", "prod")
    answer = await prod.get(f"/api/users/{user}/balance", headers=bearer_headers(user))
    body = await problem(answer, 401, "COMMON003")
    assert "unknown signing key" in body["detail"]


async def test_production_mints_a_day_at_most(
    aiohttp_client: AiohttpClient, settings: Settings, factory: Factory
) -> None:
    production = replace(settings, env="prod", auth="required", auth_secret=SECRET)
    prod = await aiohttp_client(create_app(production))
    user = await factory.user()
    too_long = await prod.post(
        "/api/admin/tokens", json={"userId": user, "ttlSeconds": 86_401}, headers=ADMIN
    )
    body = await problem(too_long, 400, "COMMON002")
    assert "86400" in body["detail"]
    day = await _mint(prod, user, ttlSeconds=86_400)
    assert (await prod.get(f"/api/users/{user}/balance", headers=day)).status == 200
