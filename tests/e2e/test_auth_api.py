"""SHOP_AUTH=required: a user token for a user's own balance, cart, coupons and orders."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from shop.app import create_app
from shop.auth.tokens import TokenSigner
from shop.settings import Settings

from ..conftest import AiohttpClient
from ..factories import Factory
from .conftest import problem

SECRET = "test-auth-secret"


@pytest.fixture
async def guarded(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(replace(settings, auth="required", auth_secret=SECRET)))


def _bearer(user: str, *, secret: str = SECRET, ttl: int = 600) -> dict[str, str]:
    now = int(time.time())
    signer = TokenSigner.from_secret(secret)
    token = signer.mint(user, expires_at=now + ttl, env="test", issued_at=min(now, now + ttl - 1))
    return {"Authorization": f"Bearer {token}"}


def _user_routes(
    user: str, product: str, coupon: str, item: str, order: str
) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/api/users/{user}/balance", None),
        ("POST", f"/api/users/{user}/balance/charge", {"amount": 10}),
        ("GET", f"/api/users/{user}/balance/history", None),
        ("GET", f"/api/cart?userId={user}", None),
        ("POST", "/api/cart/items", {"userId": user, "productId": product, "quantity": 1}),
        ("PATCH", f"/api/cart/items/{item}?userId={user}", {"quantity": 2}),
        ("DELETE", f"/api/cart/items/{item}?userId={user}", None),
        ("POST", f"/api/coupons/{coupon}/issue", {"userId": user}),
        ("GET", f"/api/users/{user}/coupons", None),
        ("POST", "/api/orders", {"userId": user}),
        ("GET", f"/api/orders?userId={user}", None),
        ("GET", f"/api/orders/{order}", None),
    ]


async def _setup(guarded: TestClient, factory: Factory) -> tuple[str, str, str, str, str]:
    user = await factory.user(balance=100_000)
    product = await factory.product(price=1_000, stock=10)
    coupon = await factory.coupon(quantity=10)
    me = _bearer(user)
    added = await guarded.post(
        "/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}, headers=me
    )
    assert added.status == 200, await added.text()
    placed = await guarded.post("/api/orders", json={"userId": user}, headers=me)
    assert placed.status == 200, await placed.text()
    order = (await placed.json())["orderId"]
    again = await guarded.post(
        "/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}, headers=me
    )
    item = (await again.json())["cartItemId"]
    return user, product, coupon, item, order


async def test_every_user_route_needs_a_token(guarded: TestClient, factory: Factory) -> None:
    user, product, coupon, item, order = await _setup(guarded, factory)
    for method, path, body in _user_routes(user, product, coupon, item, order):
        response = await guarded.request(method, path, json=body)
        await problem(response, 401, "COMMON003")
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), path
    # The token comes before anything is read: a malformed body without one is still 401.
    garbled = await guarded.post(f"/api/users/{user}/balance/charge", data=b"{not json")
    await problem(garbled, 401, "COMMON003")
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 99_000


async def test_another_users_token_is_403_and_changes_nothing(
    guarded: TestClient, factory: Factory
) -> None:
    user, product, coupon, item, order = await _setup(guarded, factory)
    intruder = _bearer(await factory.user())
    for method, path, body in _user_routes(user, product, coupon, item, order):
        response = await guarded.request(method, path, json=body, headers=intruder)
        if path == f"/api/orders/{order}":
            # Exactly what an order that does not exist gets: no existence oracle.
            theirs = await problem(response, 404, "O002")
            none = await problem(await guarded.get(path + "0", headers=intruder), 404, "O002")
            assert (theirs["message"], none["message"]) == (
                f"order {order} not found",
                f"order {order}0 not found",
            )
        else:
            await problem(response, 403, "COMMON003")
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 99_000
    assert await factory.issued(coupon) == 0
    assert await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user) == 1


async def test_the_owners_token_opens_every_user_route(
    guarded: TestClient, factory: Factory
) -> None:
    user, product, coupon, item, order = await _setup(guarded, factory)
    me = _bearer(user)
    for method, path, body in _user_routes(user, product, coupon, item, order):
        response = await guarded.request(method, path, json=body, headers=me)
        # The order fails only for want of a cart line: the DELETE just removed it.
        expected = 400 if path == "/api/orders" and method == "POST" else 200
        assert response.status == expected, (path, await response.text())


async def test_public_routes_need_no_token(guarded: TestClient, factory: Factory) -> None:
    product = await factory.product()
    for path in ("/healthz", "/api/products", f"/api/products/{product}", "/api/coupons"):
        assert (await guarded.get(path)).status == 200, path
    validate = await guarded.post(
        "/api/coupons/validate", json={"couponId": await factory.coupon(), "orderAmount": 5_000}
    )
    assert validate.status == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
        "Bearer v1.x.y.z",
        "Bearer " + "v1." + "a" * 600,
    ],
)
async def test_malformed_tokens_are_401(
    guarded: TestClient, factory: Factory, authorization: str
) -> None:
    user = await factory.user()
    response = await guarded.get(
        f"/api/users/{user}/balance", headers={"Authorization": authorization}
    )
    await problem(response, 401, "COMMON003")


async def test_forged_expired_and_admin_tokens_are_401(
    guarded: TestClient, factory: Factory, admin_headers: dict[str, str]
) -> None:
    user = await factory.user()
    url = f"/api/users/{user}/balance"
    for headers in (
        _bearer(user, secret="someone-elses-secret"),
        _bearer(user, ttl=-1),
        admin_headers,  # the admin token is not a user token
    ):
        await problem(await guarded.get(url, headers=headers), 401, "COMMON003")
    genuine = _bearer(user)["Authorization"]
    mac = genuine.rsplit(".", 1)[1]
    other = _bearer("u-somebody-else")["Authorization"].rsplit(".", 1)[0]
    await problem(
        await guarded.get(url, headers={"Authorization": f"{other}.{mac}"}), 401, "COMMON003"
    )
    assert (await guarded.get(url, headers={"Authorization": genuine})).status == 200


async def test_admin_mints_tokens_that_work(
    guarded: TestClient, factory: Factory, admin_headers: dict[str, str]
) -> None:
    user = await factory.user(balance=7)
    await problem(await guarded.post("/api/admin/tokens", json={"userId": user}), 401, "COMMON003")
    await problem(
        await guarded.post("/api/admin/tokens", json={"userId": user}, headers=_bearer(user)),
        403,
        "COMMON003",
    )
    await problem(
        await guarded.post(
            "/api/admin/tokens", json={"userId": user, "ttlSeconds": 0}, headers=admin_headers
        ),
        400,
        "COMMON002",
    )
    minted = await guarded.post(
        "/api/admin/tokens", json={"userId": user, "ttlSeconds": 60}, headers=admin_headers
    )
    assert minted.status == 201
    body = await minted.json()
    assert body["userId"] == user
    assert body["expiresAt"].endswith("+00:00")
    balance = await guarded.get(
        f"/api/users/{user}/balance", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert await balance.json() == {"userId": user, "balance": 7}


async def test_idempotency_keys_are_checked_after_the_token(
    guarded: TestClient, factory: Factory
) -> None:
    user, intruder = await factory.users(2, balance=0)
    url = f"/api/users/{user}/balance/charge"
    key = {"Idempotency-Key": "shared-key"}
    await problem(
        await guarded.post(url, json={"amount": 5}, headers={**key, **_bearer(intruder)}),
        403,
        "COMMON003",
    )
    first = await guarded.post(url, json={"amount": 5}, headers={**key, **_bearer(user)})
    assert first.status == 200
    assert first.headers.get("Idempotent-Replayed") is None


async def test_the_document_declares_user_security_only_when_required(
    guarded: TestClient, client: TestClient
) -> None:
    on = await (await guarded.get("/api/openapi.json")).json()
    off = await (await client.get("/api/openapi.json")).json()
    charge = "/api/users/{userId}/balance/charge"
    assert on["paths"][charge]["post"]["security"] == [{"user": []}]
    assert {"401", "403"} <= set(on["paths"][charge]["post"]["responses"])
    assert "security" not in off["paths"][charge]["post"]
    assert "security" not in on["paths"]["/api/products"]["get"]
    assert on["paths"]["/api/admin/tokens"]["post"]["security"] == [{"admin": []}]
    for document in (on, off):
        parameters = document["paths"][charge]["post"]["parameters"]
        assert {"$ref": "#/components/parameters/Idempotency-Key"} in parameters
        assert document["components"]["parameters"]["Idempotency-Key"]["in"] == "header"
        assert "422" in document["paths"]["/api/orders"]["post"]["responses"]


def test_auth_off_is_announced_at_start(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    create_app(replace(settings, auth="off"))
    assert '"auth_off"' in capsys.readouterr().out
    create_app(replace(settings, auth="required", auth_secret=SECRET))
    assert '"auth_off"' not in capsys.readouterr().out
