"""Stores that stage what happens in a transaction: a pause point inside each, a count of them."""

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


class CountingStore:
    """A store (the real one, or a staged one) counting the transactions it runs."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.transactions = 0

    async def autocommit(self, work: Callable[[MySqlTx], Awaitable[Any]]) -> Any:
        return await self.inner.autocommit(work)

    async def transaction(
        self, work: Callable[[MySqlTx], Awaitable[Any]], *, fence: Lease | None = None
    ) -> Any:
        self.transactions += 1
        return await self.inner.transaction(work, fence=fence)
