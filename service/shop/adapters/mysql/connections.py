"""aiomysql's pool, lending a free connection and taking it back without its lock.

aiomysql runs every acquire inside one `asyncio.Condition`'s lock, and every release starts a
task that takes that lock only to notify it. Each hand-over of the lock costs a turn of the
event loop, so with more borrowers than the loop serves in a turn (150 charges in flight) they
queue on the lock, connections sit free while holders of the `Limiter`'s slots wait for it,
and every charge pays a task, a lock and loop turns more: ~20 % of the shop's CPU per charge
(docs/decisions/0056-the-charge-cpu-gap-under-concurrency.md).

Here a free connection is taken with no await between looking and taking (nothing can
interleave), and a release wakes the condition only when a task waits on it. Opening a
connection, waiting for one at the pool's ceiling and closing stay aiomysql's own code.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiomysql


class Connections(aiomysql.Pool):  # type: ignore[misc]  # aiomysql ships no types
    @classmethod
    async def open(cls, *, minsize: int, maxsize: int, pool_recycle: int, **kwargs: Any) -> Any:
        """What `aiomysql.create_pool` does, with this class."""
        pool = cls(
            minsize=minsize,
            maxsize=maxsize,
            echo=False,
            pool_recycle=pool_recycle,
            loop=asyncio.get_running_loop(),
            **kwargs,
        )
        if minsize > 0:
            async with pool._cond:
                await pool._fill_free_pool(False)
        return pool

    async def _acquire(self) -> Any:
        # While a task is inside aiomysql's acquire (opening a connection), newcomers queue
        # behind it in the order aiomysql keeps.
        if not self._closing and not self._cond.locked():
            while self._free:
                conn = self._free.popleft()
                if self._stale(conn):
                    conn.close()
                    continue
                self._used.add(conn)
                return conn
        return await super()._acquire()

    def _stale(self, conn: Any) -> bool:
        """What aiomysql's acquire drops from its free list: closed by the server, or older
        than `pool_recycle`."""
        reader = conn._reader
        return bool(
            reader.at_eof()
            or reader.exception()
            or reader.eof_received
            or (self._recycle > -1 and self._loop.time() - conn.last_usage > self._recycle)
        )

    def release(self, conn: Any) -> asyncio.Future[None]:
        """aiomysql's release, without a wake-up task when nobody waits for a connection."""
        done: asyncio.Future[None] = self._loop.create_future()
        done.set_result(None)
        if conn in self._terminated:
            self._terminated.remove(conn)
            return done
        self._used.remove(conn)
        if conn.closed:
            return done
        if conn.get_transaction_status():  # cancelled inside a transaction: never reused
            conn.close()
            return done
        if self._closing:
            conn.close()
        else:
            self._free.append(conn)
        if self._cond._waiters:  # at the pool's ceiling, or `wait_closed`
            return self._loop.create_task(self._wakeup())  # type: ignore[no-any-return]
        return done
