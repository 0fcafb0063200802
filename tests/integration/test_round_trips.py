"""Transactions send what needs no answer of its own with the next statement (session.py).

The number of round trips is what a charge costs the process most; these tests pin it, and
check that a write sent ahead of another statement can neither pass unnoticed nor pass for
that statement's own error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pymysql
import pytest

from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.session import DeferredWriteFailed, Session
from shop.adapters.mysql.store import MySqlStore
from shop.locks.local import LocalLockManager
from shop.use_cases.balance import charge_balance
from shop.use_cases.deps import Deps

from ..factories import Factory
from ..faults.link import TcpLink

COM_QUERY = 0x03


@pytest.fixture
async def linked(test_database: str) -> AsyncIterator[tuple[Database, TcpLink]]:
    """A pool whose connections go through a link that records what the client sends."""
    target = urlsplit(test_database)
    async with TcpLink(target.port or 3306, record=True) as link:
        url = target._replace(netloc=f"root:@127.0.0.1:{link.port}").geturl()
        database = await Database.connect(url, maxsize=1)
        try:
            yield database, link
        finally:
            await database.close()


def _queries(link: TcpLink) -> list[bytes]:
    """The statements' packets sent so far (a packet: 3-byte length, sequence id, command)."""
    assert link.sent is not None
    return [chunk[5:] for chunk in link.sent if len(chunk) > 4 and chunk[4] == COM_QUERY]


async def test_a_charge_is_two_round_trips(
    linked: tuple[Database, TcpLink], factory: Factory
) -> None:
    database, link = linked
    user = await factory.user(balance=10)
    deps = Deps(
        store=MySqlStore(database),
        locks=LocalLockManager(wait=5.0, lease=10.0),
        clock=lambda: datetime.now(UTC),
        order_lock_scope=lambda: "user",
    )
    assert link.sent is not None
    link.sent.clear()
    receipt = await charge_balance(deps=deps, user_id=user, amount=5)
    assert receipt.current_balance == 15
    packets = _queries(link)
    # BEGIN, the guarded update and the balance read; then the history row with the COMMIT.
    assert len(packets) == 2, packets
    assert packets[0].startswith(b"BEGIN; UPDATE users")
    assert b"; SELECT balance" in packets[0]
    assert packets[1].startswith(b"INSERT INTO balance_history")
    assert packets[1].endswith(b"; COMMIT")
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 15


@pytest.mark.parametrize("sent_with", ["next statement", "commit"])
async def test_a_deferred_write_that_fails_rolls_back_and_is_not_the_next_statements_error(
    database: Database, factory: Factory, sent_with: str
) -> None:
    user = await factory.user(balance=10)

    async def work(session: Session) -> None:
        await session.execute(
            "users.credit", "UPDATE users SET balance = 99 WHERE user_id = %s", (user,)
        )
        # A duplicate primary key: the same IntegrityError the next statement's own duplicate
        # would raise, which a repository may read as a refusal of its own.
        session.defer(
            "users.insert",
            "INSERT INTO users (user_id, name, created_at) VALUES (%s, 'x', NOW())",
            (user,),
        )
        if sent_with == "next statement":
            await session.execute(
                "users.touch", "UPDATE users SET balance = 98 WHERE user_id = %s", (user,)
            )

    with pytest.raises(DeferredWriteFailed) as failed:
        await database.run(work)
    assert isinstance(failed.value.__cause__, pymysql.err.IntegrityError)
    # The whole transaction rolled back, the write before the deferred one too.
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 10
    assert database.used == 0


async def test_the_write_sent_with_a_read_fails_as_itself(
    database: Database, factory: Factory
) -> None:
    """Unlike a deferred write, it is the caller's own statement: its error is its own."""
    user = await factory.user(balance=10)

    async def work(session: Session) -> None:
        await session.write_then_fetch_one(
            "users.insert",
            "INSERT INTO users (user_id, name, created_at) VALUES (%s, 'x', NOW())",
            (user,),
            "SELECT balance FROM users WHERE user_id = %s",
            (user,),
        )

    with pytest.raises(pymysql.err.IntegrityError):
        await database.run(work)  # the BEGIN went ahead of it, in the same packet
