"""One identity per user: a variant spelling of an id reaches nothing of the real user's."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient

from shop.adapters.mysql.times import to_db
from shop.app import create_app
from shop.settings import Settings

from ..conftest import ADMIN_TOKEN, AiohttpClient
from ..factories import Factory
from .conftest import problem

# The first five compare equal to the real id under utf8mb4_unicode_ci (which ignores case,
# trailing spaces, width and zero-width spaces); the last only looks the same to a person.
VARIANTS = {
    "upper case": str.upper,
    "trailing space": lambda u: u + " ",
    "full-width letter": lambda u: "ｔ" + u[1:],
    "long s": lambda u: u.replace("s", "ſ", 1),
    "zero-width space": lambda u: u[:4] + "\u200b" + u[4:],
    "cyrillic e": lambda u: u.replace("e", "е", 1),
}


async def _user(factory: Factory) -> str:
    user_id = f"test-user-{uuid.uuid4().hex[:10]}"
    async with factory.db.session() as s:
        await s.execute(
            "test.user",
            "INSERT INTO users (user_id, name, balance, created_at) VALUES (%s, %s, %s, %s)",
            (user_id, "Test", 100_000, to_db(datetime.now(UTC))),
        )
    return user_id


@pytest.mark.parametrize("spell", VARIANTS.values(), ids=VARIANTS.keys())
async def test_a_variant_spelling_reaches_nothing_of_the_users(
    client: TestClient, factory: Factory, spell: Any
) -> None:
    user = await _user(factory)
    variant = spell(user)
    assert variant != user
    path = quote(variant, safe="")
    product = await factory.product(price=1_000, stock=10)
    coupon = await factory.coupon(quantity=10)
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    charge = f"/api/users/{user}/balance/charge"
    charged = await client.post(charge, json={"amount": 7}, headers=key)
    assert charged.status == 200, await charged.text()
    added = await client.post(
        "/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}
    )
    assert added.status == 200, await added.text()
    issued = await client.post(f"/api/coupons/{coupon}/issue", json={"userId": user})
    assert issued.status == 200, await issued.text()

    await problem(await client.get(f"/api/users/{path}/balance"), 404, "U001")
    # The same idempotency key under the variant is not the real user's key: no replayed 200.
    again = await client.post(f"/api/users/{path}/balance/charge", json={"amount": 7}, headers=key)
    await problem(again, 404, "U001")
    reads = [f"/api/users/{path}/balance/history", f"/api/users/{path}/coupons"]
    for url in [*reads, f"/api/cart?userId={path}", f"/api/orders?userId={path}"]:
        await problem(await client.get(url), 404, "U001")
    for url, body in [
        (f"/api/coupons/{coupon}/issue", {"userId": variant}),
        ("/api/cart/items", {"userId": variant, "productId": product, "quantity": 1}),
        ("/api/orders", {"userId": variant}),
    ]:
        await problem(await client.post(url, json=body), 404, "U001")

    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 100_007
    cart = await (await client.get("/api/cart", params={"userId": user})).json()
    assert [item["quantity"] for item in cart["items"]] == [1]
    issued_to = await factory.rows("SELECT user_id FROM user_coupons WHERE coupon_id = %s", coupon)
    assert issued_to == [(user,)]


@pytest.mark.parametrize("spell", VARIANTS.values(), ids=VARIANTS.keys())
async def test_a_token_minted_for_a_look_alike_cannot_act_on_the_real_user(
    aiohttp_client: AiohttpClient, settings: Settings, factory: Factory, spell: Any
) -> None:
    guarded = await aiohttp_client(create_app(replace(settings, auth="required")))
    user = await _user(factory)
    variant = spell(user)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    minted = await guarded.post("/api/admin/tokens", json={"userId": variant}, headers=admin)
    assert minted.status == 201, await minted.text()
    bearer = {"Authorization": f"Bearer {(await minted.json())['token']}"}
    charge = {"amount": 10}
    await problem(
        await guarded.post(f"/api/users/{user}/balance/charge", json=charge, headers=bearer),
        403,
        "COMMON003",
    )
    path = quote(variant, safe="")
    own = await guarded.post(f"/api/users/{path}/balance/charge", json=charge, headers=bearer)
    await problem(own, 404, "U001")
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 100_000
