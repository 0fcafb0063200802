"""A connection lost during COMMIT answers 503 OUTCOME_UNKNOWN, at BEGIN 503 DB001: never 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from shop.app import create_app
from shop.settings import Settings

from ..conftest import TEST_DB_URL
from ..factories import Factory
from ..faults.link import TcpLink
from .conftest import problem

# The COMMIT statement, last in its packet (a charge's history row travels with it).
COMMIT = b"; COMMIT"


@pytest.fixture
async def link() -> AsyncIterator[TcpLink]:
    """A link between the app and the test database, to break connections on."""
    async with TcpLink(urlsplit(TEST_DB_URL).port or 3306) as made:
        yield made


@pytest.fixture
async def linked(aiohttp_client, settings: Settings, link: TcpLink):
    """An app whose database connections all go through `link`."""
    url = urlsplit(TEST_DB_URL)._replace(netloc=f"root:@127.0.0.1:{link.port}").geturl()
    return await aiohttp_client(create_app(replace(settings, db_url=url)))


@pytest.mark.parametrize("committed", [True, False], ids=["answer-lost", "commit-lost"])
async def test_commit_without_an_answer_is_503_outcome_unknown(
    linked, link: TcpLink, factory: Factory, committed: bool
) -> None:
    client = linked
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


async def test_connection_lost_at_begin_is_503_db001_and_writes_nothing(
    linked, link: TcpLink, factory: Factory
) -> None:
    client = linked
    user = await factory.user(balance=0)
    # COM_QUERY (0x03), BEGIN first: it travels with the transaction's first statement.
    link.break_on(b"\x03BEGIN;", deliver=False)
    response = await client.post(f"/api/users/{user}/balance/charge", json={"amount": 7})
    await problem(response, 503, "DB001")
    assert link.broken == 1
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 0
