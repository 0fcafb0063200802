"""The pool's lending and taking back, against the real MariaDB (connections.py)."""

from __future__ import annotations

import asyncio

from shop.adapters.mysql.connections import Connections
from shop.adapters.mysql.pool import Database, parse_db_url


async def test_a_free_connection_is_lent_and_taken_back_without_a_task(
    test_database: str,
) -> None:
    db = await Database.connect(test_database, maxsize=4)
    try:
        async with db.session():
            pass  # one connection opened, now free
        before = asyncio.all_tasks()
        async with db.session() as s:
            assert await s.fetch_one("t", "SELECT 1") == (1,)
        # aiomysql's own release starts a task per connection returned, to notify nobody.
        assert asyncio.all_tasks() == before
    finally:
        await db.close()


async def test_a_connection_the_server_closed_is_never_lent(test_database: str) -> None:
    db = await Database.connect(test_database, maxsize=2)
    try:
        async with db.session() as s:
            row = await s.fetch_one("t", "SELECT CONNECTION_ID()")
        assert row is not None
        async with db.session() as killer:  # a second connection: the first is free
            await killer.execute("t", f"KILL {int(row[0])}")
        await asyncio.sleep(0.2)  # the server's close reaches the free connection's reader
        for _ in range(2):
            async with db.session() as s:
                assert await s.fetch_one("t", "SELECT 1") == (1,)
    finally:
        await db.close()


async def test_a_borrower_waiting_at_the_ceiling_gets_the_returned_connection(
    test_database: str,
) -> None:
    target = parse_db_url(test_database)
    pool = await Connections.open(
        **target.connect_args(), db=target.database, minsize=1, maxsize=1, pool_recycle=3600
    )
    try:
        held = await pool.acquire()
        waiting = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        pool.release(held)
        assert await asyncio.wait_for(waiting, 2) is held
        pool.release(held)
    finally:
        pool.close()
        await pool.wait_closed()
