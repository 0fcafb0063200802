"""Order endpoints: one transaction from cart to payment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shop.app import Overrides, create_app

from ..factories import Factory, statements_run
from .conftest import problem


async def _fill_cart(client, user: str, *lines: tuple[str, int]) -> None:
    for product, quantity in lines:
        response = await client.post(
            "/api/cart/items", json={"userId": user, "productId": product, "quantity": quantity}
        )
        assert response.status == 200, await response.text()


async def test_order_pays_takes_stock_and_empties_cart(client, factory: Factory) -> None:
    user = await factory.user(balance=100_000)
    a = await factory.product(price=10_000, stock=10)
    b = await factory.product(price=2_500, stock=10)
    await _fill_cart(client, user, (a, 2), (b, 3))
    response = await client.post("/api/orders", json={"userId": user})
    assert response.status == 200, await response.text()
    order = await response.json()
    assert order["status"] == "PAID"
    assert order["userId"] == user
    assert order["totalAmount"] == 27_500
    assert order["discountAmount"] == 0
    assert order["finalAmount"] == 27_500
    assert order["couponId"] is None
    assert {(i["productId"], i["quantity"], i["subtotal"]) for i in order["items"]} == {
        (a, 2, 20_000),
        (b, 3, 7_500),
    }
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 72_500
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", a) == 8
    cart = await (await client.get(f"/api/cart?userId={user}")).json()
    assert cart["items"] == []
    assert (
        await factory.scalar(
            "SELECT amount FROM payments WHERE order_id = %s", int(order["orderId"])
        )
        == 27_500
    )
    history = await (await client.get(f"/api/users/{user}/balance/history")).json()
    assert history[0] == {
        **history[0],
        "amount": -27_500,
        "reason": "PAYMENT",
        "previousBalance": 100_000,
        "currentBalance": 72_500,
    }

    detail = await (await client.get(f"/api/orders/{order['orderId']}")).json()
    assert detail == order


async def test_order_with_coupon(client, factory: Factory) -> None:
    user = await factory.user(balance=50_000)
    product = await factory.product(price=10_000)
    coupon = await factory.coupon(kind="PERCENT", value=10, min_order=20_000)
    assert (await client.post(f"/api/coupons/{coupon}/issue", json={"userId": user})).status == 200
    await _fill_cart(client, user, (product, 1))
    await problem(
        await client.post("/api/orders", json={"userId": user, "couponId": coupon}), 400, "C007"
    )
    await _fill_cart(client, user, (product, 2))
    order = await (
        await client.post("/api/orders", json={"userId": user, "couponId": coupon})
    ).json()
    assert (order["totalAmount"], order["discountAmount"], order["finalAmount"]) == (
        30_000,
        3_000,
        27_000,
    )
    assert order["couponId"] == coupon
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 23_000
    used = await (await client.get(f"/api/users/{user}/coupons?status=USED")).json()
    assert len(used) == 1
    assert used[0]["usedAt"]
    await _fill_cart(client, user, (product, 1))
    await problem(
        await client.post("/api/orders", json={"userId": user, "couponId": coupon}), 400, "C004"
    )


async def test_refusals_write_nothing(client, factory: Factory) -> None:
    poor = await factory.user(balance=5_000)
    product = await factory.product(price=10_000, stock=5)
    scarce = await factory.product(price=1, stock=1)
    unissued = await factory.coupon()
    await problem(await client.post("/api/orders", json={"userId": poor}), 400, "O001")
    await _fill_cart(client, poor, (product, 1))
    refused = await problem(await client.post("/api/orders", json={"userId": poor}), 400, "PAY001")
    assert "balance" in refused["message"]
    await problem(
        await client.post("/api/orders", json={"userId": poor, "couponId": unissued}), 404, "C002"
    )
    rich = await factory.user()
    await _fill_cart(client, rich, (scarce, 2))
    short = await problem(await client.post("/api/orders", json={"userId": rich}), 400, "P002")
    assert "stock" in short["message"]
    await problem(await client.post("/api/orders", json={"userId": "nobody"}), 404, "U001")
    await problem(await client.post("/api/orders", json={}), 400, "COMMON001")
    # Nothing moved: stock, balances, carts and orders are as they were.
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == 5
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", scarce) == 1
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", poor) == 5_000
    assert (
        await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id IN (%s, %s)", poor, rich)
        == 0
    )
    cart = await (await client.get(f"/api/cart?userId={poor}")).json()
    assert len(cart["items"]) == 1


async def test_expired_coupon_is_refused_and_listed_as_expired(
    aiohttp_client, settings, factory: Factory
) -> None:
    now = datetime.now(UTC)
    clock = {"now": now}
    client = await aiohttp_client(create_app(settings, Overrides(clock=lambda: clock["now"])))
    user = await factory.user()
    product = await factory.product()
    coupon = await factory.coupon(expires_in=timedelta(hours=1))
    assert (await client.post(f"/api/coupons/{coupon}/issue", json={"userId": user})).status == 200
    clock["now"] = now + timedelta(hours=2)
    await _fill_cart(client, user, (product, 1))
    await problem(
        await client.post("/api/orders", json={"userId": user, "couponId": coupon}), 400, "C003"
    )
    expired = await (await client.get(f"/api/users/{user}/coupons?status=EXPIRED")).json()
    assert [c["couponId"] for c in expired] == [coupon]
    assert await (await client.get(f"/api/users/{user}/coupons?status=AVAILABLE")).json() == []


async def test_list_pages_newest_first(client, factory: Factory) -> None:
    user = await factory.user()
    product = await factory.product(price=100)
    ids = []
    for _ in range(3):
        await _fill_cart(client, user, (product, 1))
        ids.append(
            (await (await client.post("/api/orders", json={"userId": user})).json())["orderId"]
        )
    page1 = await (await client.get(f"/api/orders?userId={user}&page=1&limit=2")).json()
    assert [o["orderId"] for o in page1["orders"]] == [ids[2], ids[1]]
    assert (page1["currentPage"], page1["totalPages"], page1["totalCount"]) == (1, 2, 3)
    page2 = await (await client.get(f"/api/orders?userId={user}&page=2&limit=2")).json()
    assert [o["orderId"] for o in page2["orders"]] == [ids[0]]
    assert set(page2["orders"][0]) == {
        "orderId",
        "totalAmount",
        "discountAmount",
        "finalAmount",
        "status",
        "createdAt",
    }
    paid = await (await client.get(f"/api/orders?userId={user}&status=PAID")).json()
    assert paid["totalCount"] == 3
    pending = await (await client.get(f"/api/orders?userId={user}&status=PENDING")).json()
    assert pending == {"orders": [], "currentPage": 1, "totalPages": 0, "totalCount": 0}


async def test_list_and_detail_errors(client) -> None:
    await problem(await client.get("/api/orders"), 400, "COMMON001")
    await problem(await client.get("/api/orders?userId=nobody"), 404, "U001")
    await problem(await client.get("/api/orders?userId=x&page=0"), 400, "COMMON002")
    await problem(await client.get("/api/orders?userId=x&limit=101"), 400, "COMMON002")
    await problem(await client.get("/api/orders?userId=x&status=LOST"), 400, "COMMON002")
    await problem(await client.get("/api/orders/999999999999"), 404, "O002")
    await problem(await client.get("/api/orders/not-a-number"), 404, "O002")


async def test_placing_an_order_takes_the_same_statements_for_any_cart_size(
    client, factory: Factory
) -> None:
    counts = []
    for lines in (1, 8):
        user = await factory.user()
        products = [await factory.product(price=10) for _ in range(lines)]
        await _fill_cart(client, user, *((p, 1) for p in products))
        before = statements_run(client)
        assert (await client.post("/api/orders", json={"userId": user})).status == 200
        counts.append(statements_run(client) - before)
    assert counts[0] == counts[1]  # no statement per line: no N+1
    assert counts[0] <= 16
