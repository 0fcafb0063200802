"""Scoped admin credentials, each action logged with its actor; incident switches off in
production; a production balance charge needs the payment service's `charges` credential."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web

from shop.api.framework.server import ShopRunner
from shop.app import create_app
from shop.settings import Settings

from ..conftest import AiohttpClient
from ..factories import Factory
from .conftest import problem

SECRET = "test-auth-secret"
COUPONS = "marketing-coupons-secret"
PAYMENTS = "payment-service-secret!"
CREDENTIALS = f"marketing:coupons:{COUPONS} payments:charges:{PAYMENTS}"
PRIVATE = ("/api/admin/incidents", "/metrics")
COUPON = {
    "name": "scoped",
    "discountType": "FIXED",
    "discountValue": 100,
    "totalQuantity": 5,
    "expiresAt": "2099-01-01T00:00:00Z",
}


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _admin_lines(out: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if str(line.get("event", "")).startswith("admin_")]


async def test_a_credential_does_only_what_its_scopes_allow_and_is_logged(
    aiohttp_client: AiohttpClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await aiohttp_client(create_app(replace(settings, admin_credentials=CREDENTIALS)))
    capsys.readouterr()
    created = await client.post("/api/coupons", json=COUPON, headers=_bearer(COUPONS))
    assert created.status == 201, await created.text()
    for method, path, body in (
        ("POST", "/api/admin/tokens", {"userId": "u1"}),
        ("POST", "/api/admin/seed", {"users": 0}),
        ("PUT", "/api/admin/incidents/db_latency_ms", {"value": 0}),
        ("POST", "/api/admin/revocations", {"userId": "u1"}),
    ):
        refused = await client.request(method, path, json=body, headers=_bearer(COUPONS))
        assert "does not hold" in (await problem(refused, 403, "COMMON003"))["message"]
    logged = _admin_lines(capsys.readouterr().out)
    assert [(e["event"], e["actor"], e["scope"]) for e in logged] == [
        ("admin_action", "marketing", "coupons"),
        ("admin_refused", "marketing", "tokens"),
        ("admin_refused", "marketing", "seed"),
        ("admin_refused", "marketing", "incidents"),
        ("admin_refused", "marketing", "tokens"),
    ]
    assert logged[0]["status"] == 201


@pytest.mark.parametrize("blank", ["", "   "])
async def test_a_blank_admin_token_opens_nothing(
    aiohttp_client: AiohttpClient, settings: Settings, blank: str
) -> None:
    client = await aiohttp_client(create_app(replace(settings, admin_token=blank)))
    for header in ("Bearer  ", "Bearer \t", f"Bearer {blank}x"):
        answer = await client.get("/api/admin/incidents", headers={"Authorization": header})
        assert answer.status in (401, 403), header


async def test_incident_switches_are_off_in_production_unless_enabled(
    aiohttp_client: AiohttpClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    production = replace(settings, env="prod", auth_secret=SECRET, incidents="")
    assert production.incidents == "off"
    prod = await aiohttp_client(create_app(production))
    await problem(await prod.get("/api/admin/incidents", headers=admin_headers), 403, "COMMON003")
    flip = await prod.put(
        "/api/admin/incidents/db_latency_ms", json={"value": 500}, headers=admin_headers
    )
    assert "SHOP_INCIDENTS" in (await problem(flip, 403, "COMMON003"))["message"]
    enabled = await aiohttp_client(create_app(replace(production, incidents="on")))
    assert (await enabled.get("/api/admin/incidents", headers=admin_headers)).status == 200


async def test_a_production_charge_needs_the_payment_services_credential(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    factory: Factory,
    admin_headers: dict[str, str],
) -> None:
    production = replace(settings, env="prod", auth_secret=SECRET, admin_credentials=CREDENTIALS)
    prod = await aiohttp_client(create_app(production))
    user = await factory.user(balance=0)
    minted = await prod.post("/api/admin/tokens", json={"userId": user}, headers=admin_headers)
    own = _bearer((await minted.json())["token"])
    url = f"/api/users/{user}/balance/charge"
    await problem(await prod.post(url, json={"amount": 5}, headers=own), 403, "COMMON003")
    await problem(await prod.post(url, json={"amount": 5}, headers=admin_headers), 403, "COMMON003")
    paid = await prod.post(url, json={"amount": 5}, headers=_bearer(PAYMENTS))
    assert paid.status == 200, await paid.text()
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 5
    # The user still reads their own balance with their own token.
    assert (await prod.get(f"/api/users/{user}/balance", headers=own)).status == 200


async def test_the_lab_keeps_the_users_own_top_up(
    aiohttp_client: AiohttpClient, settings: Settings, factory: Factory
) -> None:
    lab = await aiohttp_client(create_app(replace(settings, auth="required", auth_secret=SECRET)))
    user = await factory.user(balance=0)
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    minted = await lab.post("/api/admin/tokens", json={"userId": user}, headers=admin)
    own = _bearer((await minted.json())["token"])
    answer = await lab.post(f"/api/users/{user}/balance/charge", json={"amount": 5}, headers=own)
    assert answer.status == 200


async def test_revocation_is_an_admin_route(
    aiohttp_client: AiohttpClient, settings: Settings, factory: Factory
) -> None:
    guarded = replace(settings, auth="required", auth_secret=SECRET, token_revocation_refresh=0.1)
    client = await aiohttp_client(create_app(guarded))
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    user = await factory.user()
    minted = await client.post("/api/admin/tokens", json={"userId": user}, headers=admin)
    own = _bearer((await minted.json())["token"])
    revoked = await client.post("/api/admin/revocations", json={"userId": user}, headers=admin)
    assert revoked.status == 200, await revoked.text()
    assert (await revoked.json())["userId"] == user
    for _ in range(50):
        if (await client.get(f"/api/users/{user}/balance", headers=own)).status == 401:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the revoked token still works")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_admin_routes_and_metrics_live_on_the_admin_listener_alone(
    settings: Settings, admin_headers: dict[str, str]
) -> None:
    public_port, admin_port = _free_port(), _free_port()
    app = create_app(replace(settings, admin_port=admin_port))
    runner = ShopRunner(app)
    await runner.setup()
    try:
        for port in (public_port, admin_port):
            await web.TCPSite(runner, "127.0.0.1", port).start()
        async with aiohttp.ClientSession(headers=admin_headers) as http:

            async def status(port: int, path: str) -> int:
                async with http.get(f"http://127.0.0.1:{port}{path}") as answer:
                    return answer.status

            assert [await status(public_port, p) for p in PRIVATE] == [404, 404]
            assert [await status(admin_port, p) for p in PRIVATE] == [200, 200]
            assert await status(public_port, "/api/products") == 200
    finally:
        await runner.cleanup()
