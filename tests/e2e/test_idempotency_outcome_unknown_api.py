"""The retry that 503 OUTCOME_UNKNOWN promises is safe: with the same Idempotency-Key it pays
exactly once, whether the lost COMMIT took effect or not (a real connection broken on COMMIT)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from shop.app import create_app
from shop.settings import Settings

from ..conftest import TEST_DB_URL
from ..factories import Factory
from ..faults.link import TcpLink
from .conftest import problem

COMMIT = b"\x03COMMIT"  # COM_QUERY then the text, as aiomysql sends it


@pytest.mark.parametrize("committed", [True, False], ids=["answer-lost", "commit-lost"])
async def test_a_retry_after_outcome_unknown_pays_exactly_once(
    aiohttp_client, settings: Settings, factory: Factory, committed: bool
) -> None:
    target = urlsplit(TEST_DB_URL)
    async with TcpLink(target.port or 3306) as link:
        url = target._replace(netloc=f"root:@127.0.0.1:{link.port}").geturl()
        client = await aiohttp_client(create_app(replace(settings, db_url=url)))
        user = await factory.user(balance=0)
        path, headers = f"/api/users/{user}/balance/charge", {"Idempotency-Key": f"k-{user}"}
        link.break_on(COMMIT, deliver=committed)
        await problem(
            await client.post(path, json={"amount": 7}, headers=headers), 503, "OUTCOME_UNKNOWN"
        )
        assert link.broken == 1
        retry = await client.post(path, json={"amount": 7}, headers=headers)
        assert retry.status == 200, await retry.text()
        # The answer-lost charge is replayed from its sealed key; the lost one runs now.
        assert (retry.headers.get("Idempotent-Replayed") == "true") is committed
        assert (await retry.json())["currentBalance"] == 7
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 7
    assert (
        await factory.scalar("SELECT COUNT(*) FROM balance_history WHERE user_id = %s", user) == 1
    )
