"""Cart endpoints."""

from __future__ import annotations

import asyncio

import aiomysql

from loadtest.harness.waiting import until
from shop.adapters.mysql.pool import parse_db_url

from ..conftest import TEST_DB_URL
from ..factories import Factory
from .conftest import problem


async def test_cart_is_created_on_first_use(client, factory: Factory) -> None:
    user = await factory.user()
    first = await (await client.get(f"/api/cart?userId={user}")).json()
    again = await (await client.get(f"/api/cart?userId={user}")).json()
    assert first == {"cartId": first["cartId"], "userId": user, "items": [], "totalAmount": 0}
    assert again["cartId"] == first["cartId"]
    assert isinstance(first["cartId"], str)


async def test_add_merges_quantities_and_totals(client, factory: Factory) -> None:
    user = await factory.user()
    a = await factory.product(price=300)
    b = await factory.product(price=50)
    r1 = await client.post("/api/cart/items", json={"userId": user, "productId": a, "quantity": 2})
    assert r1.status == 200
    item = await r1.json()
    assert item["productId"] == a
    assert item["quantity"] == 2
    assert item["subtotal"] == 600
    assert item["price"] == 300
    assert item["productName"]
    r2 = await client.post("/api/cart/items", json={"userId": user, "productId": a, "quantity": 3})
    merged = await r2.json()
    assert merged["cartItemId"] == item["cartItemId"]
    assert merged["quantity"] == 5
    await client.post("/api/cart/items", json={"userId": user, "productId": b, "quantity": 1})
    cart = await (await client.get(f"/api/cart?userId={user}")).json()
    assert [(i["productId"], i["quantity"]) for i in cart["items"]] == [(a, 5), (b, 1)]
    assert cart["totalAmount"] == 5 * 300 + 50


async def test_add_past_999_is_refused_and_changes_nothing(client, factory: Factory) -> None:
    user = await factory.user()
    product = await factory.product()
    body = {"userId": user, "productId": product, "quantity": 990}
    assert (await client.post("/api/cart/items", json=body)).status == 200
    await problem(await client.post("/api/cart/items", json={**body, "quantity": 10}), 400, "O001")
    cart = await (await client.get(f"/api/cart?userId={user}")).json()
    assert cart["items"][0]["quantity"] == 990


async def test_add_validates_input(client, factory: Factory) -> None:
    user = await factory.user()
    product = await factory.product()
    for body, status, code in [
        ({"productId": product, "quantity": 1}, 400, "COMMON001"),
        ({"userId": user, "quantity": 1}, 400, "COMMON001"),
        ({"userId": user, "productId": product}, 400, "COMMON001"),
        ({"userId": user, "productId": product, "quantity": 0}, 400, "COMMON002"),
        ({"userId": user, "productId": product, "quantity": 1000}, 400, "COMMON002"),
        ({"userId": 7, "productId": product, "quantity": 1}, 400, "COMMON002"),
        ({"userId": user, "productId": "nope", "quantity": 1}, 404, "P001"),
        ({"userId": "nobody", "productId": product, "quantity": 1}, 404, "U001"),
    ]:
        await problem(await client.post("/api/cart/items", json=body), status, code)
    assert (
        await factory.scalar(
            "SELECT COUNT(*) FROM cart_items ci JOIN carts c ON c.cart_id = ci.cart_id"
            " WHERE c.user_id = %s",
            user,
        )
        == 0
    )


async def test_change_and_remove(client, factory: Factory) -> None:
    user = await factory.user()
    product = await factory.product(price=10)
    item = await (
        await client.post(
            "/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}
        )
    ).json()
    url = f"/api/cart/items/{item['cartItemId']}?userId={user}"
    changed = await client.patch(url, json={"quantity": 7})
    assert changed.status == 200
    assert (await changed.json())["subtotal"] == 70
    same = await client.patch(url, json={"quantity": 7})
    assert same.status == 200
    await problem(await client.patch(url, json={"quantity": 0}), 400, "COMMON002")
    removed = await client.delete(url)
    assert removed.status == 200
    assert (await removed.json())["message"]
    await problem(await client.delete(url), 404, "CART001")
    cart = await (await client.get(f"/api/cart?userId={user}")).json()
    assert cart["items"] == []


async def test_another_users_item_is_404_and_untouched(client, factory: Factory) -> None:
    owner, other = await factory.users(2)
    product = await factory.product()
    item = await (
        await client.post(
            "/api/cart/items", json={"userId": owner, "productId": product, "quantity": 2}
        )
    ).json()
    await client.get(f"/api/cart?userId={other}")  # the other user has a cart too
    url = f"/api/cart/items/{item['cartItemId']}?userId={other}"
    await problem(await client.patch(url, json={"quantity": 5}), 404, "CART001")
    await problem(await client.delete(url), 404, "CART001")
    await problem(
        await client.delete(f"/api/cart/items/{item['cartItemId']}?userId=nobody"), 404, "CART001"
    )
    await problem(await client.delete(f"/api/cart/items/abc?userId={owner}"), 404, "CART001")
    cart = await (await client.get(f"/api/cart?userId={owner}")).json()
    assert cart["items"][0]["quantity"] == 2


async def test_cart_needs_a_known_user(client) -> None:
    await problem(await client.get("/api/cart"), 400, "COMMON001")
    await problem(await client.get("/api/cart?userId=nobody"), 404, "U001")


async def test_a_line_added_while_an_order_holds_the_user_lands_after_it_and_stays(
    client, factory: Factory
) -> None:
    """An order batch locks its users' rows, reads their carts, then empties them. A line added
    between that read and the emptying was deleted unpaid (or its own add answered 404): the
    add waits for the user's row, so it lands after the order and stays in the emptied cart.
    The order is played by hand on a connection of its own, its steps in that order."""
    user = await factory.user(balance=50_000)
    bought, added = await factory.product(price=1_000), await factory.product(price=2_000)
    cart_id = await factory.cart(user, bought)
    target = parse_db_url(TEST_DB_URL)
    order = await aiomysql.connect(**target.connect_args(), db=target.database)
    try:
        async with order.cursor() as cur:
            await cur.execute("BEGIN")
            await cur.execute("SELECT balance FROM users WHERE user_id = %s FOR UPDATE", (user,))
            await cur.execute("SELECT cart_item_id FROM cart_items WHERE cart_id = %s", (cart_id,))
            assert len(await cur.fetchall()) == 1  # what the order buys
            answer = asyncio.ensure_future(
                client.post(
                    "/api/cart/items", json={"userId": user, "productId": added, "quantity": 2}
                )
            )

            async def waiting_or_done() -> bool:
                return answer.done() or await factory.running(
                    "SELECT user_id, balance FROM users WHERE user_id IN (%) ORDER BY user_id"
                    " FOR UPDATE"
                )

            await until(waiting_or_done)
            await cur.execute("DELETE FROM cart_items WHERE cart_id = %s", (cart_id,))
            await cur.execute("COMMIT")
    finally:
        order.close()
    response = await answer
    assert response.status in (200, 201), await response.text()
    assert (await response.json())["productId"] == added
    lines = await factory.scalar(
        "SELECT GROUP_CONCAT(product_id) FROM cart_items WHERE cart_id = %s", cart_id
    )
    assert lines == added  # the order's line emptied, the new one kept
