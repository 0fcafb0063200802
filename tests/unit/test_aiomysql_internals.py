"""The aiomysql internals the pool relies on are still there (docs/decisions/0056).

`adapters/mysql/connections.py` lends and takes back connections with aiomysql's own free
list, used set and condition, outside aiomysql's lock. An upgrade that renames one of them
fails here, by name, instead of as a pool that lends a closed connection.
"""

from __future__ import annotations

import asyncio
import collections
import inspect

import aiomysql
from aiomysql.connection import Connection, _StreamReader

from shop.adapters.mysql.connections import Connections

WHY = f"aiomysql {aiomysql.__version__} moved an internal that adapters/mysql/connections.py uses"


async def test_the_pool_internals_are_there() -> None:
    pool = Connections(
        minsize=0, maxsize=2, echo=False, pool_recycle=3600, loop=asyncio.get_running_loop()
    )
    assert isinstance(pool._free, collections.deque), WHY
    assert isinstance(pool._used, set), WHY
    assert isinstance(pool._terminated, set), WHY
    assert isinstance(pool._cond, asyncio.Condition), WHY
    assert isinstance(pool._cond._waiters, collections.deque), WHY
    assert pool._closing is False, WHY
    assert pool._recycle == 3600, WHY
    assert inspect.iscoroutinefunction(aiomysql.Pool._wakeup), WHY
    assert inspect.iscoroutinefunction(aiomysql.Pool._fill_free_pool), WHY
    assert inspect.iscoroutinefunction(aiomysql.Pool._acquire), WHY


def test_the_connection_internals_are_there() -> None:
    for name in ("last_usage", "closed"):
        assert isinstance(inspect.getattr_static(Connection, name), property), WHY
    assert callable(Connection.get_transaction_status), WHY
    assert isinstance(inspect.getattr_static(_StreamReader, "eof_received"), property), WHY
    assert "_reader" in inspect.getsource(Connection.__init__), WHY
