"""The MySQL pool: bounded, instrumented, cancellation-safe acquires; transactions with retry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
from opentelemetry.trace import Span, Status, StatusCode

from ...domain.errors import DatabaseUnavailable
from ...telemetry import Telemetry
from ...telemetry.logging import get_logger
from ...telemetry.tracing import exemplar
from .connections import Connections
from .limiter import Limiter
from .session import DEADLOCK_RETRIES, Deadlock, QuietCursor, Session
from .tls import TlsOptions, require_tls

T = TypeVar("T")
log = get_logger("shop.db")

# aiomysql cannot grow a pool after creation, so it is created this large and the Limiter in
# front sets the real size (which the db_pool_max incident switch changes at runtime).
POOL_CEILING = 256


@dataclass(frozen=True, slots=True)
class DbTarget:
    host: str
    port: int
    user: str
    password: str
    database: str
    tls: TlsOptions | None = None

    def connect_args(self) -> dict[str, Any]:
        """What every connection of the shop is opened with (no database chosen yet)."""
        tls = {} if self.tls is None else {"ssl": self.tls.context()}
        return {
            **tls,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "autocommit": True,
            "charset": "utf8mb4",
            "cursorclass": QuietCursor,
        }


def parse_db_url(url: str) -> DbTarget:
    """Read `mysql://user:password@host:port/database[?ssl-mode=...&ssl-ca=...]` (tls.py)."""
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
        tls=TlsOptions.from_query(parse_qs(parts.query, keep_blank_values=True)),
    )


def connect_failed(exc: BaseException) -> DatabaseUnavailable:
    """The error for a connection that could not be opened, with its root cause: aiomysql
    reports a refused certificate as "Can't connect" and keeps the reason in the chain."""
    cause = exc.__cause__ or exc.__context__
    reason = f"{exc} ({cause})" if isinstance(cause, OSError) else str(exc)
    return DatabaseUnavailable(f"cannot connect to the database: {reason}")


@asynccontextmanager
async def open_database(
    url: str, *, maxsize: int, acquire_timeout: float, telemetry: Telemetry
) -> AsyncIterator[Database]:
    """The app's pool, open for the block and closed after it."""
    database = await Database.connect(
        url, maxsize=maxsize, acquire_timeout=acquire_timeout, telemetry=telemetry
    )
    try:
        yield database
    finally:
        await database.close()


class Database:
    """An aiomysql pool whose acquires wait at most `acquire_timeout` and never leak."""

    def __init__(
        self,
        pool: Any,
        *,
        name: str,
        maxsize: int,
        acquire_timeout: float,
        telemetry: Telemetry,
        tls: bool = False,
    ) -> None:
        self._pool = pool
        self._tls = tls
        self.name = name
        self.acquire_timeout = acquire_timeout
        self._limiter = Limiter(maxsize)
        # Injected before every statement by the db_latency_ms incident switch (a slow DB).
        self.statement_delay = 0.0
        self._telemetry = telemetry
        metrics = telemetry.metrics
        self._wait = metrics.child(metrics.pool_wait, name)
        self._use = metrics.child(metrics.pool_use, name)
        self._timeouts = metrics.child(metrics.pool_timeouts, name)
        metrics.read("db_client_connection_count", self._connections)
        metrics.read("db_client_connection_max", lambda: [((name,), self.maxsize)])
        metrics.read("db_client_connection_pending_requests", lambda: [((name,), self.pending)])

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        maxsize: int,
        acquire_timeout: float = 5.0,
        name: str = "main",
        telemetry: Telemetry | None = None,
    ) -> Database:
        """Open a pool; connections are autocommit so reads never leave a transaction open."""
        target = parse_db_url(url)
        try:
            pool = await Connections.open(
                **target.connect_args(),
                db=target.database,
                minsize=min(4, maxsize),
                maxsize=max(maxsize, POOL_CEILING),
                pool_recycle=3600,
                # READ COMMITTED: every guarantee rests on guarded updates, unique keys and
                # locking reads, and it avoids the gap locks that make REPEATABLE READ deadlock.
                init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            )
        except (pymysql.err.OperationalError, OSError) as exc:
            raise connect_failed(exc) from exc
        database = cls(
            pool,
            name=name,
            maxsize=maxsize,
            acquire_timeout=acquire_timeout,
            telemetry=telemetry or Telemetry.disabled(),
            tls=target.tls is not None,
        )
        if target.tls is not None:
            try:  # at start, not at the first request: a server without TLS is refused now
                async with database.session():
                    pass
            except BaseException:
                await database.close()
                raise
        return database

    @property
    def maxsize(self) -> int:
        return self._limiter.limit

    @property
    def used(self) -> int:
        return self._limiter.in_use

    @property
    def idle(self) -> int:
        return int(self._pool.freesize)

    @property
    def pending(self) -> int:
        return self._limiter.pending

    def resize(self, maxsize: int) -> None:
        """Change how many connections may be lent at once (at most the pool's ceiling)."""
        if not 1 <= maxsize <= max(POOL_CEILING, int(self._pool.maxsize)):
            raise ValueError(f"pool size must be between 1 and {POOL_CEILING}")
        self._limiter.resize(maxsize)

    def _connections(self) -> list[tuple[tuple[str, str], float]]:
        return [((self.name, "idle"), self.idle), ((self.name, "used"), self.used)]

    def session(self) -> _Borrowed:
        """Borrow a connection for autocommit statements (`async with db.session() as s`)."""
        return _Borrowed(self)

    async def run(
        self, work: Callable[[Session], Awaitable[T]], *, fence: Callable[[], None] | None = None
    ) -> T:
        """Run `work` in one transaction: all of it commits or none of it does.

        `fence` is called just before the COMMIT is sent; what it raises rolls everything back.
        """
        for _ in range(DEADLOCK_RETRIES):
            try:
                return await self._run_once(work, fence)
            except Deadlock:
                continue
        try:
            return await self._run_once(work, fence)
        except Deadlock as exc:
            raise DatabaseUnavailable("the transaction kept deadlocking; try again") from exc

    async def _run_once(
        self, work: Callable[[Session], Awaitable[T]], fence: Callable[[], None] | None
    ) -> T:
        async with self.session() as session:
            session.begin()
            try:
                result = await work(session)
                await session.commit(fence)
            except BaseException:
                await session.rollback_quietly()
                raise
            return result

    async def _acquire(self) -> Any:
        telemetry = self._telemetry
        if not telemetry.tracing:
            return await self._acquire_measured(None)
        with telemetry.tracer.start_as_current_span(
            "mysql.pool.acquire",
            attributes={
                "db.client.connection.pool.name": self.name,
                "db.client.connection.max": self.maxsize,
                "db.client.connection.idle": self.idle,
                "db.client.connection.used": self.used,
                "db.client.connection.pending_requests": self.pending,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            return await self._acquire_measured(span)

    async def _acquire_measured(self, span: Span | None) -> Any:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.acquire_timeout):
                await self._limiter.acquire()
                try:
                    # aiomysql moves the connection to its used set and returns it with no
                    # await in between, so a cancellation here cannot strand a connection.
                    conn = await self._pool.acquire()
                    if self._tls:
                        try:
                            require_tls(conn)
                        except DatabaseUnavailable:
                            self._pool.release(conn)
                            raise
                    return conn
                except BaseException:
                    self._limiter.release()
                    raise
        except TimeoutError as exc:
            self._timeouts.inc()
            if span is not None:
                span.set_status(Status(StatusCode.ERROR, "pool acquire timed out"))
            log.warning(
                "pool_exhausted",
                pool=self.name,
                max=self.maxsize,
                pending=self.pending,
                timeout_s=self.acquire_timeout,
            )
            raise DatabaseUnavailable(
                f"no database connection free within {self.acquire_timeout:g}s"
            ) from exc
        except (pymysql.err.OperationalError, OSError) as exc:
            if span is not None:
                span.set_status(Status(StatusCode.ERROR, "connect failed"))
            raise connect_failed(exc) from exc
        finally:
            self._wait.observe(
                time.perf_counter() - started, exemplar() if span is not None else None
            )

    async def ping(self) -> None:
        """Answer only when the database does."""
        async with self.session() as session:
            await session.fetch_one("health.ping", "SELECT 1")

    async def close(self) -> None:
        """Close every connection, waiting for borrowed ones to come back."""
        self._pool.close()
        await self._pool.wait_closed()


class _Borrowed:
    """One borrowed connection, as a session: a plain class, not an async generator (every
    transaction goes through it; docs/decisions/0054-the-request-path-cost.md)."""

    __slots__ = ("_borrowed", "_conn", "_database")

    def __init__(self, database: Database) -> None:
        self._database = database

    async def __aenter__(self) -> Session:
        database = self._database
        self._conn = conn = await database._acquire()
        self._borrowed = time.perf_counter()
        return Session(conn, database._telemetry, database.statement_delay)

    async def __aexit__(self, *_: object) -> None:
        database = self._database
        # A connection still inside a transaction (cancelled mid-way) is closed, not reused.
        database._pool.release(self._conn)
        database._limiter.release()
        database._use.observe(time.perf_counter() - self._borrowed)
