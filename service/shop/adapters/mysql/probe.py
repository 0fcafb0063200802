"""The readiness probe of MySQL: a connection of its own, never one of the request pool.

A probe that borrowed from the pool would queue behind the requests it exists to protect: a
saturated or slow pool (or the `db_latency_ms` switch) would fail readiness and have the load
balancer take out a replica that still serves. So the probe opens one short connection per check
and runs `SELECT 1` on it, and reports the pool's occupancy beside it without waiting on it.
"""

from __future__ import annotations

import aiomysql

from .pool import Database, parse_db_url

CONNECT_TIMEOUT = 2


class MySqlProbe:
    """`ping`: MySQL answers a fresh connection; `pool`: how busy the request pool is."""

    def __init__(self, url: str, database: Database) -> None:
        self.target = parse_db_url(url)
        self.database = database

    async def ping(self) -> object:
        """Connect, `SELECT 1`, close: raises when MySQL does not answer."""
        connection = await aiomysql.connect(
            **self.target.connect_args(), db=self.target.database, connect_timeout=CONNECT_TIMEOUT
        )
        try:
            async with connection.cursor() as cursor:
                await cursor.execute("SELECT 1")
                row = await cursor.fetchone()
        except BaseException:
            connection.close()
            raise
        # A polite quit: a connection dropped without one is an "aborted connection" to the
        # server, logged and counted, three times a second for a compose stack.
        await connection.ensure_closed()
        return row

    def pool(self) -> str:
        """The request pool's state, for people: reported, never a reason to be unready."""
        d = self.database
        return f"{d.used}/{d.maxsize} in use, {d.pending} waiting"
