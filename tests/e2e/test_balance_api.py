"""Users and balance endpoints."""

from __future__ import annotations

from shop.domain.money import MAX_BALANCE

from ..factories import Factory
from .conftest import problem


async def test_balance_of_a_user(client, factory: Factory) -> None:
    user = await factory.user(balance=5_000)
    response = await client.get(f"/api/users/{user}/balance")
    assert response.status == 200
    assert await response.json() == {"userId": user, "balance": 5_000}


async def test_balance_of_unknown_user_is_404(client) -> None:
    await problem(await client.get("/api/users/nobody-here/balance"), 404, "U001")


async def test_charge_adds_and_records_history(client, factory: Factory) -> None:
    user = await factory.user(balance=1_000)
    response = await client.post(f"/api/users/{user}/balance/charge", json={"amount": 2_500})
    assert response.status == 200
    body = await response.json()
    assert body.pop("chargedAt").endswith("+00:00")
    # The whole answer: a field renamed or added would break the contract's clients.
    assert body == {
        "userId": user,
        "previousBalance": 1_000,
        "chargedAmount": 2_500,
        "currentBalance": 3_500,
    }
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 3_500

    history = await (await client.get(f"/api/users/{user}/balance/history")).json()
    assert len(history) == 1
    assert history[0]["amount"] == 2_500
    assert history[0]["previousBalance"] == 1_000
    assert history[0]["currentBalance"] == 3_500
    assert history[0]["reason"] == "CHARGE"


async def test_history_is_newest_first_and_limited(client, factory: Factory) -> None:
    user = await factory.user(balance=0)
    for amount in (1, 2, 3):
        assert (
            await client.post(f"/api/users/{user}/balance/charge", json={"amount": amount})
        ).status == 200
    history = await (await client.get(f"/api/users/{user}/balance/history?limit=2")).json()
    assert [h["amount"] for h in history] == [3, 2]
    await problem(await client.get(f"/api/users/{user}/balance/history?limit=0"), 400, "COMMON002")
    await problem(await client.get(f"/api/users/{user}/balance/history?limit=x"), 400, "COMMON002")
    await problem(await client.get("/api/users/nobody/balance/history"), 404, "U001")


async def test_charge_rejects_bad_amounts_and_writes_nothing(client, factory: Factory) -> None:
    user = await factory.user(balance=1_000)
    url = f"/api/users/{user}/balance/charge"
    for body, code in [
        ({}, "COMMON001"),
        ({"amount": None}, "COMMON001"),
        ({"amount": 0}, "COMMON002"),
        ({"amount": -5}, "COMMON002"),
        ({"amount": 10_000_001}, "COMMON002"),
        ({"amount": 10**30}, "COMMON002"),
        ({"amount": "100"}, "COMMON002"),
        ({"amount": 1.5}, "COMMON002"),
        ({"amount": True}, "COMMON002"),
        ([1, 2], "COMMON002"),
    ]:
        await problem(await client.post(url, json=body), 400, code)
    json_type = {"Content-Type": "application/json"}
    await problem(await client.post(url, data=b"{not json", headers=json_type), 400, "COMMON002")
    await problem(await client.post(url, data=b"", headers=json_type), 400, "COMMON001")
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 1_000
    assert (
        await factory.scalar("SELECT COUNT(*) FROM balance_history WHERE user_id = %s", user) == 0
    )


async def test_charge_unknown_user_is_404(client) -> None:
    await problem(
        await client.post("/api/users/nobody/balance/charge", json={"amount": 1}), 404, "U001"
    )


async def test_charge_past_the_maximum_is_b002(client, factory: Factory) -> None:
    user = await factory.user(balance=MAX_BALANCE - 10)
    url = f"/api/users/{user}/balance/charge"
    await problem(await client.post(url, json={"amount": 11}), 400, "B002")
    assert (await client.post(url, json={"amount": 10})).status == 200
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == MAX_BALANCE


async def test_oversized_body_is_a_4xx_problem(client, factory: Factory) -> None:
    user = await factory.user()
    response = await client.post(
        f"/api/users/{user}/balance/charge",
        data=b'{"amount": 1, "pad": "' + b"x" * 200_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    await problem(response, 413, "COMMON002")
