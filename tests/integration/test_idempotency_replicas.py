"""Retries with one Idempotency-Key spread over three shop processes (Redis locks and gate):
one effect per key, one answer for every retry, 409 while the first is in flight, and a
process killed mid-request neither pays nor blocks the key for longer than its claim."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp
import pytest

from ..factories import Factory
from .replicas import RUNNING, fill_carts, replicas

pytestmark = pytest.mark.slow

CLAIM_TIMEOUT = 5  # seconds: short, so the killed process's claim lapses quickly
ENV = {"SHOP_LOCK_BACKEND": "redis", "SHOP_IDEMPOTENCY_CLAIM_TIMEOUT": str(CLAIM_TIMEOUT)}
RETRIES = 20  # concurrent copies of each request
KEYS = 4  # users (one key each) per endpoint


@pytest.fixture(scope="module")
def fleet(test_database: str, redis_session: str, tmp_path_factory) -> dict[str, Any]:
    return {
        "db_url": test_database,
        "redis_prefix": redis_session,
        "log_dir": tmp_path_factory.mktemp("replicas"),
        **ENV,
    }


@pytest.fixture(scope="module")
def three(fleet: dict[str, Any]) -> list[str]:
    with replicas(3, **fleet) as urls:
        yield urls


async def _post(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], key: str
) -> tuple[int, bytes, dict[str, str]]:
    async with http.post(url, json=body, headers={"Idempotency-Key": key}) as r:
        return r.status, await r.read(), dict(r.headers)


async def test_concurrent_retries_over_three_replicas_have_one_effect_and_one_answer(
    three: list[str], factory: Factory
) -> None:
    users = await factory.users(3 * KEYS, balance=10_000)
    charging, issuing, ordering = users[:KEYS], users[KEYS : 2 * KEYS], users[2 * KEYS :]
    coupon = await factory.coupon(quantity=100)
    product = await factory.product(price=1_000, stock=100)
    targets = itertools.cycle(three)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=300)) as http:
        await fill_carts(http, three[0], ordering, product, 1)
        requests = (
            [(f"/api/users/{u}/balance/charge", {"amount": 100}) for u in charging]
            + [(f"/api/coupons/{coupon}/issue", {"userId": u}) for u in issuing]
            + [("/api/orders", {"userId": u}) for u in ordering]
        )
        keys = [f"k-{uuid.uuid4()}" for _ in requests]
        storm = [
            (n, _post(http, f"{next(targets)}{path}", body, keys[n]))
            for _ in range(RETRIES)
            for n, (path, body) in enumerate(requests)
        ]
        answers = await asyncio.gather(*(call for _, call in storm))
        # Once the storm is over, every replica answers every key with the first answer.
        replays = await asyncio.gather(
            *(
                _post(http, f"{base}{path}", body, keys[n])
                for n, (path, body) in enumerate(requests)
                for base in three
            )
        )
    for n in range(len(requests)):
        mine = [a for (m, _), a in zip(storm, answers, strict=True) if m == n]
        statuses = Counter(status for status, _, _ in mine)
        assert set(statuses) <= {200, 409}, (requests[n], statuses, mine)
        assert statuses[200] >= 1, (requests[n], statuses)
        bodies = {body for status, body, _ in mine if status == 200}
        assert len(bodies) == 1, bodies
        assert all(
            b'"IDEMPOTENCY_IN_PROGRESS"' in body for status, body, _ in mine if status == 409
        )
        again = replays[n * 3 : n * 3 + 3]
        assert {(status, body) for status, body, _ in again} == {(200, next(iter(bodies)))}
        assert all(headers.get("Idempotent-Replayed") == "true" for _, _, headers in again)

    assert await factory.rows_over(
        "SELECT balance, COUNT(*) FROM users WHERE user_id IN ({ids}) GROUP BY balance", charging
    ) == [(10_100, KEYS)]
    charged = "SELECT COUNT(*) FROM balance_history WHERE user_id IN ({ids})"
    assert await factory.scalar_over(charged, charging) == KEYS
    assert await factory.issued(coupon) == KEYS
    ordered = "SELECT COUNT(*) FROM orders WHERE user_id IN ({ids})"
    assert await factory.scalar_over(ordered, ordering) == KEYS
    assert (
        await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product)
        == 100 - KEYS
    )


async def test_a_process_killed_mid_request_neither_pays_nor_holds_the_key(
    three: list[str], fleet: dict[str, Any], factory: Factory
) -> None:
    user = await factory.user(balance=0)
    key = f"k-{uuid.uuid4()}"
    path = f"/api/users/{user}/balance/charge"
    async with aiohttp.ClientSession() as http:
        with replicas(1, **fleet) as (victim,):
            # Hold the user's row: the victim claims the key, then waits inside its transaction.
            async with factory.locked(
                "SELECT balance FROM users WHERE user_id = %s FOR UPDATE", user
            ):
                sent = time.monotonic()  # the claim is younger than this
                doomed = asyncio.create_task(_post(http, f"{victim}{path}", {"amount": 70}, key))
                await _until_waiting_on_the_row(factory, user)
                RUNNING[victim].send_signal(signal.SIGKILL)
                with pytest.raises(aiohttp.ClientError):
                    await doomed
        # The claim outlives the process until its timeout: meanwhile a retry is told to wait.
        status, body, headers = await _post(http, f"{three[0]}{path}", {"amount": 70}, key)
        if time.monotonic() - sent < CLAIM_TIMEOUT:  # (a very slow machine may be past it)
            assert (status, b"IDEMPOTENCY_IN_PROGRESS" in body) == (409, True)
        for _ in range(600):  # the claim lapses after CLAIM_TIMEOUT; a minute at most
            if status != 409:
                break
            await asyncio.sleep(0.1)
            status, body, headers = await _post(http, f"{three[1]}{path}", {"amount": 70}, key)
        # The first retry past the timeout ran the charge itself: nothing had been paid.
        assert status == 200, body
        assert headers.get("Idempotent-Replayed") is None
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 70


async def _until_waiting_on_the_row(factory: Factory, user: str) -> None:
    for _ in range(6000):  # up to a minute on a busy machine
        if await factory.scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
            " WHERE INFO LIKE 'UPDATE users SET balance%%' AND INFO LIKE %s",
            f"%{user}%",
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the victim never reached the user's row")
