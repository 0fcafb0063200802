"""The MySQL pool: bounded, cancellation-safe acquires and transactions with deadlock retry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import aiomysql
import pymysql

from ...domain.errors import DatabaseUnavailable
from .session import Deadlock, QuietCursor, Session

T = TypeVar("T")

# Deadlocks are a normal InnoDB outcome (e.g. three inserts racing on one unique key); the loser
# is rolled back whole, so running it again is safe.
DEADLOCK_RETRIES = 3


@dataclass(frozen=True, slots=True)
class DbTarget:
    host: str
    port: int
    user: str
    password: str
    database: str


def parse_db_url(url: str) -> DbTarget:
    """Read `mysql://user:password@host:port/database`."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb", "mysql+aiomysql"):
        raise ValueError(f"unsupported database URL scheme {parts.scheme!r}")
    database = parts.path.lstrip("/")
    if not database:
        raise ValueError("the database URL names no database")
    return DbTarget(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=database,
    )


class Database:
    """An aiomysql pool whose acquires wait at most `acquire_timeout` and never leak."""

    def __init__(self, pool: Any, *, name: str, acquire_timeout: float) -> None:
        self._pool = pool
        self.name = name
        self.acquire_timeout = acquire_timeout
        self.pending = 0

    @classmethod
    async def connect(
        cls, url: str, *, maxsize: int, acquire_timeout: float = 5.0, name: str = "main"
    ) -> Database:
        """Open a pool; connections are autocommit so reads never leave a transaction open."""
        target = parse_db_url(url)
        try:
            pool = await aiomysql.create_pool(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password,
                db=target.database,
                minsize=min(4, maxsize),
                maxsize=maxsize,
                autocommit=True,
                charset="utf8mb4",
                pool_recycle=3600,
                cursorclass=QuietCursor,
                # READ COMMITTED: every guarantee rests on guarded updates, unique keys and
                # locking reads, and it avoids the gap locks that make REPEATABLE READ deadlock.
                init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            )
        except (pymysql.err.OperationalError, OSError) as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
        return cls(pool, name=name, acquire_timeout=acquire_timeout)

    @property
    def maxsize(self) -> int:
        return int(self._pool.maxsize)

    @property
    def size(self) -> int:
        return int(self._pool.size)

    @property
    def idle(self) -> int:
        return int(self._pool.freesize)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """Borrow a connection for autocommit statements."""
        conn = await self._acquire()
        try:
            yield Session(conn)
        finally:
            # A connection still inside a transaction (cancelled mid-way) is closed, not reused.
            self._pool.release(conn)

    async def run(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run `work` in one transaction: all of it commits or none of it does."""
        for _ in range(DEADLOCK_RETRIES):
            try:
                return await self._run_once(work)
            except Deadlock:
                continue
        try:
            return await self._run_once(work)
        except Deadlock as exc:
            raise DatabaseUnavailable("the transaction kept deadlocking; try again") from exc

    async def _run_once(self, work: Callable[[Session], Awaitable[T]]) -> T:
        async with self.session() as session:
            await session.begin()
            try:
                result = await work(session)
                await session.commit()
            except BaseException:
                await session.rollback_quietly()
                raise
            return result

    async def _acquire(self) -> Any:
        self.pending += 1
        try:
            async with asyncio.timeout(self.acquire_timeout):
                # aiomysql moves the connection to its used set and returns it with no await
                # in between, so a cancellation here can never strand a connection.
                return await self._pool.acquire()
        except TimeoutError as exc:
            raise DatabaseUnavailable(
                f"no database connection free within {self.acquire_timeout:g}s"
            ) from exc
        except (pymysql.err.OperationalError, OSError) as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
        finally:
            self.pending -= 1

    async def ping(self) -> None:
        """Answer only when the database does."""
        async with self.session() as session:
            await session.fetch_one("health.ping", "SELECT 1")

    async def close(self) -> None:
        """Close every connection, waiting for borrowed ones to come back."""
        self._pool.close()
        await self._pool.wait_closed()
