"""A connection lost during COMMIT answers 503 OUTCOME_UNKNOWN, never 500."""

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

# The COMMIT statement as aiomysql sends it: COM_QUERY (0x03) then the text.
COMMIT = b"\x03COMMIT"


@pytest.mark.parametrize("committed", [True, False], ids=["answer-lost", "commit-lost"])
async def test_commit_without_an_answer_is_503_outcome_unknown(
    aiohttp_client, settings: Settings, factory: Factory, committed: bool
) -> None:
    target = urlsplit(TEST_DB_URL)
    async with TcpLink(target.port or 3306) as link:
        url = target._replace(netloc=f"root:@127.0.0.1:{link.port}").geturl()
        client = await aiohttp_client(create_app(replace(settings, db_url=url)))
        user = await factory.user(balance=0)
        link.break_on(COMMIT, deliver=committed)
        response = await client.post(f"/api/users/{user}/balance/charge", json={"amount": 7})
        body = await problem(response, 503, "OUTCOME_UNKNOWN")
        assert "Idempotency-Key" in body["detail"]
        assert response.headers["Retry-After"]
        assert link.broken == 1
        # Either outcome really happens, which is why the answer cannot claim one.
        balance = await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user)
        assert balance == (7 if committed else 0)
        # The broken connection left the pool: the next request is served.
        again = await client.post(f"/api/users/{user}/balance/charge", json={"amount": 1})
        assert again.status == 200
