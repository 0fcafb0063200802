"""Coupon endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..factories import Factory
from .conftest import problem


def _future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _coupon(**changes: Any) -> dict[str, Any]:
    """The body of a valid coupon creation, but for `changes`."""
    return {
        "name": "x",
        "discountType": "FIXED",
        "discountValue": 1,
        "totalQuantity": 1,
        "expiresAt": _future(),
        **changes,
    }


async def test_admin_creates_a_coupon(client, admin_headers) -> None:
    body = _coupon(
        name="Ten percent",
        discountType="PERCENT",
        discountValue=10,
        minOrderAmount=5_000,
        totalQuantity=3,
    )
    response = await client.post("/api/coupons", json=body, headers=admin_headers)
    assert response.status == 201
    coupon = await response.json()
    assert coupon["couponId"]
    assert coupon["remainingQuantity"] == 3
    assert coupon["discountType"] == "PERCENT"
    assert coupon["minOrderAmount"] == 5_000
    listed = await (await client.get("/api/coupons")).json()
    assert coupon["couponId"] in {c["couponId"] for c in listed}


async def test_creation_needs_the_admin_token(client) -> None:
    body = _coupon()
    await problem(await client.post("/api/coupons", json=body), 401, "COMMON003")
    await problem(
        await client.post("/api/coupons", json=body, headers={"Authorization": "Bearer wrong"}),
        403,
        "COMMON003",
    )


async def test_creation_validates(client, admin_headers) -> None:
    good = _coupon()
    for change, code in [
        ({"discountType": "HALF"}, "COMMON002"),
        ({"discountType": "PERCENT", "discountValue": 101}, "COMMON002"),
        ({"discountValue": 0}, "COMMON002"),
        ({"totalQuantity": -1}, "COMMON002"),
        ({"expiresAt": "yesterday"}, "COMMON002"),
        ({"expiresAt": (datetime.now(UTC) - timedelta(days=1)).isoformat()}, "COMMON002"),
        ({"name": None}, "COMMON001"),
    ]:
        await problem(
            await client.post("/api/coupons", json={**good, **change}, headers=admin_headers),
            400,
            code,
        )


async def test_issue_once_per_user_until_sold_out(client, factory: Factory) -> None:
    coupon = await factory.coupon(quantity=2)
    a, b, c = await factory.users(3)
    url = f"/api/coupons/{coupon}/issue"
    first = await client.post(url, json={"userId": a})
    assert first.status == 200
    issued = await first.json()
    assert issued["couponId"] == coupon
    assert issued["userId"] == a
    assert issued["remainingQuantity"] == 1
    assert issued["userCouponId"]
    assert issued["issuedAt"]
    assert issued["expiresAt"]
    await problem(await client.post(url, json={"userId": a}), 409, "C006")
    assert (await client.post(url, json={"userId": b})).status == 200
    sold_out = await problem(await client.post(url, json={"userId": c}), 400, "C001")
    assert "sold out" in sold_out["message"]
    assert (
        await factory.scalar("SELECT COUNT(*) FROM user_coupons WHERE coupon_id = %s", coupon) == 2
    )
    listed = {x["couponId"] for x in await (await client.get("/api/coupons")).json()}
    assert coupon not in listed


async def test_issue_errors(client, factory: Factory) -> None:
    coupon = await factory.coupon()
    expired = await factory.coupon(expires_in=timedelta(seconds=-1))
    user = await factory.user()
    await problem(await client.post("/api/coupons/nope/issue", json={"userId": user}), 404, "C002")
    await problem(
        await client.post(f"/api/coupons/{coupon}/issue", json={"userId": "nobody"}), 404, "U001"
    )
    await problem(await client.post(f"/api/coupons/{coupon}/issue", json={}), 400, "COMMON001")
    await problem(
        await client.post(f"/api/coupons/{expired}/issue", json={"userId": user}), 400, "C003"
    )
    assert await factory.issued(coupon) == 0


async def test_validate(client, factory: Factory) -> None:
    percent = await factory.coupon(kind="PERCENT", value=15, min_order=1_000)
    fixed = await factory.coupon(kind="FIXED", value=5_000)
    ok = await (
        await client.post("/api/coupons/validate", json={"couponId": percent, "orderAmount": 1_999})
    ).json()
    assert ok == {
        "valid": True,
        "discountAmount": 299,
        "finalAmount": 1_700,
        "message": ok["message"],
    }
    low = await (
        await client.post("/api/coupons/validate", json={"couponId": percent, "orderAmount": 999})
    ).json()
    assert low["valid"] is False
    assert low["finalAmount"] == 999
    capped = await (
        await client.post("/api/coupons/validate", json={"couponId": fixed, "orderAmount": 3_000})
    ).json()
    assert capped["discountAmount"] == 3_000
    assert capped["finalAmount"] == 0
    await problem(
        await client.post("/api/coupons/validate", json={"couponId": "nope", "orderAmount": 1}),
        404,
        "C002",
    )
    await problem(
        await client.post("/api/coupons/validate", json={"couponId": fixed, "orderAmount": -1}),
        400,
        "COMMON002",
    )


async def test_user_coupons_by_status(client, factory: Factory) -> None:
    live = await factory.coupon()
    user = await factory.user()
    await client.post(f"/api/coupons/{live}/issue", json={"userId": user})
    listed = await (await client.get(f"/api/users/{user}/coupons")).json()
    assert len(listed) == 1
    assert listed[0]["status"] == "AVAILABLE"
    assert listed[0]["usedAt"] is None
    assert set(listed[0]) == {
        "userCouponId",
        "userId",
        "couponId",
        "name",
        "discountType",
        "discountValue",
        "status",
        "issuedAt",
        "usedAt",
        "expiresAt",
    }
    assert await (await client.get(f"/api/users/{user}/coupons?status=USED")).json() == []
    await problem(await client.get(f"/api/users/{user}/coupons?status=GONE"), 400, "COMMON002")
    await problem(await client.get("/api/users/nobody/coupons"), 404, "U001")
