"""A MySQL store with a pause point inside every transaction, to stage what happens there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.store import MySqlStore, MySqlTx
from shop.use_cases.ports import Lease

Before = Callable[[], Awaitable[None]]


class _Intercepted:
    """A repository whose `method` first awaits `before`, then does its real work."""

    def __init__(self, inner: Any, method: str, before: Before) -> None:
        self._inner = inner
        self._method = method
        self._before = before

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name != self._method:
            return found

        async def intercepted(*args: Any, **kwargs: Any) -> Any:
            await self._before()
            return await found(*args, **kwargs)

        return intercepted


class InterceptingStore(MySqlStore):
    """Every transaction's `repository.method` runs `before` first (a cancellation, a pause)."""

    def __init__(self, database: Database, repository: str, method: str, before: Before) -> None:
        super().__init__(database)
        self._where = (repository, method)
        self._before = before

    async def transaction(
        self, work: Callable[[MySqlTx], Awaitable[Any]], *, fence: Lease | None = None
    ) -> Any:
        repository, method = self._where

        async def intercepted(tx: MySqlTx) -> Any:
            setattr(tx, repository, _Intercepted(getattr(tx, repository), method, self._before))
            return await work(tx)

        return await super().transaction(intercepted, fence=fence)
