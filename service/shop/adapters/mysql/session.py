"""One borrowed connection: named statements, MySQL errors translated into domain errors.

Round trips are what a transaction costs the process most (a send, a wake-up and a parse
each), so a session sends what needs no answer of its own together with the next statement
in one multi-statement packet: the BEGIN, and writes queued with `defer`. A transaction's
last deferred writes go with its COMMIT (docs/decisions/0014-fewer-round-trips.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

import aiomysql
import pymysql
from opentelemetry.trace import SpanKind, use_span

from ...domain.errors import DatabaseUnavailable, OutcomeUnknown
from ...telemetry import Telemetry
from ...telemetry.tracing import exemplar

Row = tuple[Any, ...]
Params = Sequence[Any] | None

# Server and client error codes meaning "the database cannot serve this now": nothing was
# written (the transaction is rolled back), the client may retry.
UNAVAILABLE_CODES = frozenset({1040, 1053, 1205, 2002, 2003, 2006, 2013, 2055})
# Client error codes for a connection that broke: during COMMIT, the server may have committed.
CONNECTION_LOST = frozenset({2006, 2013, 2055})
DEADLOCK = 1213
# Deadlocks are a normal InnoDB outcome (e.g. two statements locking one row through different
# indexes in different orders); the loser is rolled back whole, so running it again is safe.
DEADLOCK_RETRIES = 3
BEGIN = "BEGIN"


class QuietCursor(aiomysql.Cursor):  # type: ignore[misc]  # aiomysql ships no types
    """A cursor that does not fetch server warnings.

    aiomysql answers every statement with warnings by a second round trip (SHOW WARNINGS) and a
    Python warning; INSERT IGNORE and "database exists" warn by design, so both are waste.
    """

    async def _show_warnings(self, conn: Any) -> None:
        return None


class Deadlock(Exception):
    """InnoDB chose this transaction as a deadlock victim; it was rolled back whole."""


class DeferredWriteFailed(RuntimeError):
    """A deferred write failed when it was sent, ahead of a later statement in its packet.

    Its own error is the cause. It is a bug (deferred writes are those no refusal comes from),
    and it must not pass for an error of the statement it travelled with: a duplicate key of
    the deferred write is not the next statement's duplicate key.
    """


_UNKNOWN = (
    "the database connection was lost during commit, so the outcome is unknown; "
    "a retry with the same Idempotency-Key is safe"
)


def _format(conn: Any, sql: str, params: Params) -> str:
    """The statement with its values in, as the driver's own execute builds it."""
    return sql if params is None else sql % tuple(map(conn.escape, params))


def _error_code(exc: pymysql.err.MySQLError) -> int:
    code = exc.args[0] if exc.args else 0
    return code if isinstance(code, int) else 0


def placeholders(count: int) -> str:
    """`%s, %s, ...`: an IN list's markers."""
    return ", ".join(["%s"] * count)


def cases(
    keys: Sequence[Any], values: Mapping[Any, Any], *, column: str = "user_id"
) -> tuple[str, list[Any]]:
    """`CASE column WHEN %s THEN %s ... END` and its parameters: one value per row of one
    statement (a guarded update of many rows by different amounts)."""
    sql = f"CASE {column} " + " ".join("WHEN %s THEN %s" for _ in keys) + " END"
    return sql, [v for key in keys for v in (key, values[key])]


class Session:
    """Statements carry a static name (`noun.verb`) for traces and metrics."""

    __slots__ = (
        "_before_last",
        "_conn",
        "_deferred",
        "_delay",
        "_in_transaction",
        "_queued",
        "_telemetry",
    )

    def __init__(self, conn: Any, telemetry: Telemetry, delay: float = 0.0) -> None:
        self._conn = conn
        self._telemetry = telemetry
        self._delay = delay  # seconds added before each round trip: the db_latency_ms switch
        # Statements (SQL with their values in) that go ahead of the next one sent.
        self._queued: list[str] = []
        self._deferred = ""  # the last deferred write's name: the COMMIT packet is measured as it
        self._before_last = 0  # rows changed by the statement before the last one of a packet
        self._in_transaction = False

    async def _execute(
        self,
        name: str,
        sql: str,
        params: Params,
        *,
        many: bool = False,
        fence: Callable[[], None] | None = None,
        lead: str | None = None,
    ) -> Any:
        # A lone statement outside a transaction that loses a deadlock was rolled back alone, and
        # nothing else went with it: it is sent again. (A transaction is run again whole, by
        # Database.run; a packet of several statements may have committed its first ones.)
        alone = not (self._in_transaction or self._queued or many or lead)
        send = partial(self._run, name, sql, params, many, fence, lead)
        for _ in range(DEADLOCK_RETRIES if alone else 0):
            try:
                return await self._measured(name, send)
            except Deadlock:
                continue
        return await self._measured(name, send)

    async def _measured(self, name: str, send: Callable[[], Awaitable[Any]]) -> Any:
        """`send`, timed under `name` (and traced when tracing is on)."""
        telemetry = self._telemetry
        if not telemetry.enabled:
            return await send()
        started = time.perf_counter()
        code = ""
        span = (
            telemetry.tracer.start_span(
                name,
                kind=SpanKind.CLIENT,
                attributes={"db.system": "mysql", "db.operation.name": name},
            )
            if telemetry.tracing
            else None
        )
        try:
            if span is None:
                return await send()
            with use_span(span, end_on_exit=True):
                return await send()
        except pymysql.err.MySQLError as exc:
            code = str(_error_code(exc))
            if span is not None:
                span.set_attribute("db.response.status_code", code)
            raise
        except (Deadlock, DatabaseUnavailable, DeferredWriteFailed) as exc:
            cause = exc.__cause__  # the MySQL error _run translated
            code = str(_error_code(cause)) if isinstance(cause, pymysql.err.MySQLError) else ""
            raise
        finally:
            metrics = telemetry.metrics
            metrics.child(metrics.db_operation, "mysql", name, code).observe(
                time.perf_counter() - started, exemplar() if span is not None else None
            )

    async def _run(
        self,
        name: str,
        sql: str,
        params: Params,
        many: bool,
        fence: Callable[[], None] | None,
        lead: str | None,
    ) -> Any:
        """One round trip: what is queued, then `lead` (the caller's own statement, sent just
        before this one, its errors its own), then the statement itself."""
        if self._delay:
            await asyncio.sleep(self._delay)
        if fence is not None:
            fence()
        queued, self._queued = self._queued, []
        # A multi-row insert is built by the driver itself: the queue goes before it.
        packet = queued if many or lead is None else [*queued, lead]
        cursor = await self._conn.cursor()
        ahead = len(queued)  # > 0 while the result being read is a queued statement's
        try:
            if packet:
                if not many:
                    packet.append(_format(self._conn, sql, params))
                await cursor.execute("; ".join(packet))  # the cursor is on the first result
                ahead -= 1
                for _ in packet[1:]:
                    self._before_last = cursor.rowcount
                    await cursor.nextset()
                    ahead -= 1
            if many:
                await cursor.executemany(sql, params)
            elif not packet:
                await cursor.execute(sql, params)
        except (pymysql.err.InterfaceError, OSError) as exc:
            # The connection was already closed, or broke outside the protocol's error codes.
            await cursor.close()
            raise DatabaseUnavailable(f"the database connection broke in {name}") from exc
        except pymysql.err.MySQLError as exc:
            await cursor.close()
            code = _error_code(exc)
            if isinstance(exc, (pymysql.err.OperationalError, pymysql.err.InternalError)):
                if code == DEADLOCK:
                    raise Deadlock(name) from exc
                if code in UNAVAILABLE_CODES:
                    raise DatabaseUnavailable(f"database error {code} in {name}") from exc
            if ahead > 0:
                raise DeferredWriteFailed(f"a statement sent ahead of {name} failed") from exc
            raise
        except BaseException:
            await cursor.close()
            raise
        return cursor

    def defer(self, name: str, sql: str, params: Params = None) -> None:
        """Queue a write whose answer nobody reads; it goes with the next statement or COMMIT.

        Only for writes no refusal comes from: a failure surfaces later, as
        DeferredWriteFailed (or the transaction's DatabaseUnavailable / Deadlock), and the
        whole transaction rolls back.
        """
        self._queued.append(_format(self._conn, sql, params))
        self._deferred = name

    async def fetch_all(self, name: str, sql: str, params: Params = None) -> list[Row]:
        """Run a query and return every row."""
        cursor = await self._execute(name, sql, params)
        rows: list[Row] = list(await cursor.fetchall())
        await cursor.close()
        return rows

    async def fetch_locked(
        self, name: str, select: str, key: str, values: Sequence[str]
    ) -> list[Row]:
        """`select` (`SELECT ... FROM table`) of the rows whose primary `key` is one of `values`,
        locked. An IN list over the primary key is read, and so locked, in ascending key order:
        every batch takes the rows in the same order, so two batches cannot deadlock on them."""
        ids = sorted(set(values))
        return await self.fetch_all(
            name,
            f"{select} WHERE {key} IN ({placeholders(len(ids))}) ORDER BY {key} FOR UPDATE",
            ids,
        )

    async def fetch_one(self, name: str, sql: str, params: Params = None) -> Row | None:
        """Run a query and return its first row, or None."""
        cursor = await self._execute(name, sql, params)
        row: Row | None = await cursor.fetchone()
        await cursor.close()
        return row

    async def execute(self, name: str, sql: str, params: Params = None) -> int:
        """Run a write and return the number of rows it changed."""
        cursor = await self._execute(name, sql, params)
        count = int(cursor.rowcount)
        await cursor.close()
        return count

    async def insert(self, name: str, sql: str, params: Params = None) -> int:
        """Run an insert and return the id it generated."""
        cursor = await self._execute(name, sql, params)
        row_id = int(cursor.lastrowid)
        await cursor.close()
        return row_id

    async def execute_many(self, name: str, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement for many rows (an INSERT goes as one multi-row round trip)."""
        cursor = await self._execute(name, sql, rows, many=True)
        count = int(cursor.rowcount)
        await cursor.close()
        return count

    async def write_then_fetch_one(
        self, name: str, write: str, write_params: Params, sql: str, params: Params = None
    ) -> tuple[int, Row | None]:
        """Run a write and a query in one round trip: the rows the write changed, the first row."""
        cursor = await self._execute(
            name, sql, params, lead=_format(self._conn, write, write_params)
        )
        changed = int(self._before_last)
        row: Row | None = await cursor.fetchone()
        await cursor.close()
        return changed, row

    def begin(self) -> None:
        """Start a transaction: its BEGIN goes out with the first statement."""
        self._queued = [BEGIN]
        self._in_transaction = True

    async def commit(self, fence: Callable[[], None] | None = None) -> None:
        """Commit the transaction; OutcomeUnknown if the connection breaks before the answer.

        `fence` is called just before the COMMIT is sent (after any injected latency): what it
        raises leaves the transaction uncommitted, for the caller to roll back.
        """
        if self._queued == [BEGIN]:  # no statement was ever sent: there is nothing to commit
            self._queued = []
            self._in_transaction = False
            return
        # The last deferred writes go in the COMMIT's packet, measured under their name.
        name = self._deferred if self._queued else "transaction.commit"
        self._deferred = ""
        try:
            cursor = await self._execute(name, "COMMIT", None, fence=fence)
        except DatabaseUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, (pymysql.err.InterfaceError, OSError)) or (
                isinstance(cause, pymysql.err.OperationalError)
                and _error_code(cause) in CONNECTION_LOST
            ):
                raise OutcomeUnknown(_UNKNOWN) from cause
            raise
        self._in_transaction = False
        await cursor.close()

    async def rollback_quietly(self) -> None:
        """Roll back; a broken connection is closed instead (the pool then drops it)."""
        began = self._queued[:1] != [BEGIN]  # a BEGIN still queued never reached the server
        self._queued = []
        self._in_transaction = False
        if not began:
            return
        try:
            await self._conn.rollback()
        except BaseException:
            self._conn.close()


class Repository:
    """Base of the per-noun repositories: each runs its statements on one Session."""

    __slots__ = ("_s",)

    def __init__(self, session: Session) -> None:
        self._s = session
