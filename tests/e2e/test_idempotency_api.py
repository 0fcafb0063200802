"""Idempotency-Key on charge, coupon issue and order: one effect, one answer, every retry."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from shop.adapters.mysql.times import to_db
from shop.domain.idempotency import fingerprint

from ..factories import Factory
from ..metrics_text import metric_sum
from .conftest import carted, problem


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"k-{uuid.uuid4()}"}


async def _same_answer(first, again) -> bytes:
    body = await first.read()
    assert again.status == first.status
    assert await again.read() == body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") is None
    return body


async def test_charge_retried_charges_once_and_replays_the_first_answer(
    client: TestClient, factory: Factory
) -> None:
    user = await factory.user(balance=1_000)
    url, headers = f"/api/users/{user}/balance/charge", _key()
    first = await client.post(url, json={"amount": 500}, headers=headers)
    assert first.status == 200, await first.text()
    await asyncio.sleep(0.01)  # a replay must not carry a new chargedAt
    again = await client.post(url, json={"amount": 500}, headers=headers)
    await _same_answer(first, again)
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 1_500
    assert (
        await factory.scalar("SELECT COUNT(*) FROM balance_history WHERE user_id = %s", user) == 1
    )


async def test_a_replay_is_counted_as_replayed_not_as_another_charge(
    client: TestClient, factory: Factory
) -> None:
    user = await factory.user(balance=1_000)
    url, headers = f"/api/users/{user}/balance/charge", _key()
    before = await (await client.get("/metrics")).text()
    for _ in range(3):
        assert (await client.post(url, json={"amount": 5}, headers=headers)).status == 200
    after = await (await client.get("/metrics")).text()

    def charges(text: str, outcome: str) -> float:
        return metric_sum(text, "shop_balance_charges_total", outcome=outcome)

    assert charges(after, "success") - charges(before, "success") == 1
    assert charges(after, "replayed") - charges(before, "replayed") == 2


async def test_a_body_encoded_differently_is_the_same_request(
    client: TestClient, factory: Factory
) -> None:
    user, product = await carted(client, factory, price=100, stock=5, balance=1_000)
    headers = {**_key(), "Content-Type": "application/json"}
    first = await client.post(
        "/api/orders", data=f'{{"userId":"{user}","couponId":null}}', headers=headers
    )
    assert first.status == 200, await first.text()
    again = await client.post(
        "/api/orders", data=f'{{ "couponId" : null,\n "userId" : "{user}" }}', headers=headers
    )
    await _same_answer(first, again)
    assert await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user) == 1
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == 4


async def test_same_key_with_another_body_or_endpoint_is_422_and_changes_nothing(
    client: TestClient, factory: Factory
) -> None:
    user = await factory.user(balance=1_000)
    coupon = await factory.coupon(quantity=5)
    url, headers = f"/api/users/{user}/balance/charge", _key()
    assert (await client.post(url, json={"amount": 500}, headers=headers)).status == 200
    await problem(
        await client.post(url, json={"amount": 501}, headers=headers), 422, "IDEMPOTENCY_MISMATCH"
    )
    await problem(
        await client.post(f"/api/coupons/{coupon}/issue", json={"userId": user}, headers=headers),
        422,
        "IDEMPOTENCY_MISMATCH",
    )
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 1_500
    assert await factory.issued(coupon) == 0


async def test_keys_belong_to_their_user(client: TestClient, factory: Factory) -> None:
    a, b = await factory.users(2, balance=0)
    headers = _key()
    for user in (a, b):
        response = await client.post(
            f"/api/users/{user}/balance/charge", json={"amount": 7}, headers=headers
        )
        assert response.status == 200
        assert response.headers.get("Idempotent-Replayed") is None
        assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 7


async def test_coupon_issue_retried_issues_once(client: TestClient, factory: Factory) -> None:
    user = await factory.user()
    coupon = await factory.coupon(quantity=3)
    url, headers = f"/api/coupons/{coupon}/issue", _key()
    first = await client.post(url, json={"userId": user}, headers=headers)
    assert first.status == 200, await first.text()
    again = await client.post(url, json={"userId": user}, headers=headers)
    body = await _same_answer(first, again)
    assert b'"remainingQuantity":2' in body
    # Without the key, a second issue is the business duplicate.
    await problem(await client.post(url, json={"userId": user}), 409, "C006")
    assert await factory.issued(coupon) == 1


async def test_a_refusal_decided_in_the_transaction_is_replayed(
    client: TestClient, factory: Factory
) -> None:
    user, _ = await carted(client, factory, price=1_000, stock=5, balance=10)
    headers = _key()
    first = await client.post("/api/orders", json={"userId": user}, headers=headers)
    await problem(first, 400, "PAY001")
    # The state changes, but the key's answer does not: a retry is the same request.
    await client.post(f"/api/users/{user}/balance/charge", json={"amount": 5_000})
    again = await client.post("/api/orders", json={"userId": user}, headers=headers)
    await _same_answer(first, again)
    assert await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user) == 0
    # A new key is a new request.
    assert (await client.post("/api/orders", json={"userId": user}, headers=_key())).status == 200


async def test_bad_input_and_bad_keys_write_no_key(client: TestClient, factory: Factory) -> None:
    user = await factory.user(balance=0)
    url = f"/api/users/{user}/balance/charge"
    key = f"k-{uuid.uuid4()}"
    await problem(
        await client.post(url, json={"amount": 0}, headers={"Idempotency-Key": key}),
        400,
        "COMMON002",
    )
    for bad in ("", "x" * 256, "with space", "ünïcode"):
        await problem(
            await client.post(url, json={"amount": 1}, headers={"Idempotency-Key": bad}),
            400,
            "COMMON002",
        )
    assert (
        await factory.scalar("SELECT COUNT(*) FROM idempotency_keys WHERE user_id = %s", user) == 0
    )
    # The key refused with bad input is still free for the corrected request.
    ok = await client.post(url, json={"amount": 1}, headers={"Idempotency-Key": key})
    assert ok.status == 200


async def test_unknown_user_is_replayed_too(client: TestClient) -> None:
    headers = _key()
    url = f"/api/users/nobody-{uuid.uuid4().hex[:8]}/balance/charge"
    first = await client.post(url, json={"amount": 1}, headers=headers)
    await problem(first, 404, "U001")
    await _same_answer(first, await client.post(url, json={"amount": 1}, headers=headers))


async def test_retry_while_the_first_is_in_flight_gets_409_never_a_second_charge(
    client: TestClient, factory: Factory
) -> None:
    user = await factory.user(balance=0)
    url, headers = f"/api/users/{user}/balance/charge", _key()
    # Hold the user's row so the first request stops inside its transaction.
    async with factory.locked("SELECT balance FROM users WHERE user_id = %s FOR UPDATE", user):
        first = asyncio.create_task(client.post(url, json={"amount": 100}, headers=headers))
        for _ in range(6000):  # the claim is committed before the effect starts
            if await factory.scalar(
                "SELECT COUNT(*) FROM idempotency_keys WHERE user_id = %s", user
            ):
                break
            await asyncio.sleep(0.01)
        second = await client.post(url, json={"amount": 100}, headers=headers)
        body = await problem(second, 409, "IDEMPOTENCY_IN_PROGRESS")
        assert second.headers["Retry-After"] == "1"
        assert "retry" in body["message"]
        assert not first.done()
    done = await first
    assert done.status == 200, await done.text()
    await _same_answer(done, await client.post(url, json={"amount": 100}, headers=headers))
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 100


async def _store_key(
    factory: Factory,
    user: str,
    key: str,
    *,
    body: bytes,
    path: str,
    age: timedelta,
    outcome: bytes | None = None,
) -> None:
    """A claim made `age` ago, answered with the result `outcome` when given."""
    created = to_db(datetime.now(UTC) - age)
    async with factory.db.session() as s:
        await s.execute(
            "test.key",
            "INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, claim_token,"
            " claimed_at, refused, outcome, completed_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                user,
                key,
                fingerprint("POST", path, body).hex(),
                uuid.uuid4().hex,
                created,
                None if outcome is None else False,
                None if outcome is None else outcome.decode(),
                None if outcome is None else created,
                created,
            ),
        )


async def test_a_claim_left_by_a_dead_request_is_taken_over_after_its_timeout(
    client: TestClient, factory: Factory
) -> None:
    user = await factory.user(balance=0)
    path, key = f"/api/users/{user}/balance/charge", f"k-{uuid.uuid4()}"
    await _store_key(factory, user, key, body=b'{"amount":5}', path=path, age=timedelta(minutes=5))
    response = await client.post(path, json={"amount": 5}, headers={"Idempotency-Key": key})
    assert response.status == 200, await response.text()
    await _same_answer(
        response, await client.post(path, json={"amount": 5}, headers={"Idempotency-Key": key})
    )
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 5


async def test_a_fresh_claim_is_not_taken_over(client: TestClient, factory: Factory) -> None:
    user = await factory.user(balance=0)
    path, key = f"/api/users/{user}/balance/charge", f"k-{uuid.uuid4()}"
    await _store_key(factory, user, key, body=b'{"amount":5}', path=path, age=timedelta(0))
    await problem(
        await client.post(path, json={"amount": 5}, headers={"Idempotency-Key": key}),
        409,
        "IDEMPOTENCY_IN_PROGRESS",
    )
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 0


@pytest.mark.parametrize("same_body", [True, False])
async def test_a_key_older_than_24_hours_is_a_new_request(
    client: TestClient, factory: Factory, same_body: bool
) -> None:
    user = await factory.user(balance=0)
    path, key = f"/api/users/{user}/balance/charge", f"k-{uuid.uuid4()}"
    await _store_key(
        factory,
        user,
        key,
        body=b'{"amount":5}' if same_body else b'{"amount":6}',
        path=path,
        age=timedelta(hours=24, seconds=1),
        outcome=b'{"old":true}',
    )
    response = await client.post(path, json={"amount": 5}, headers={"Idempotency-Key": key})
    assert response.status == 200
    assert response.headers.get("Idempotent-Replayed") is None
    assert (await response.json())["currentBalance"] == 5
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 5


def test_fingerprint_separates_its_parts() -> None:
    assert fingerprint("POST", "/a", b"bc") != fingerprint("POST", "/ab", b"c")
    assert fingerprint("post", "/a", b"") == fingerprint("POST", "/a", b"")
