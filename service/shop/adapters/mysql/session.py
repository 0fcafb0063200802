"""One borrowed connection: named statements, MySQL errors translated into domain errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
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


class QuietCursor(aiomysql.Cursor):  # type: ignore[misc]  # aiomysql ships no types
    """A cursor that does not fetch server warnings.

    aiomysql answers every statement with warnings by a second round trip (SHOW WARNINGS) and a
    Python warning; INSERT IGNORE and "database exists" warn by design, so both are waste.
    """

    async def _show_warnings(self, conn: Any) -> None:
        return None


class Deadlock(Exception):
    """InnoDB chose this transaction as a deadlock victim; it was rolled back whole."""


_UNKNOWN = (
    "the database connection was lost during commit, so the outcome is unknown; "
    "a retry with the same Idempotency-Key is safe"
)


def _error_code(exc: pymysql.err.MySQLError) -> int:
    code = exc.args[0] if exc.args else 0
    return code if isinstance(code, int) else 0


class Session:
    """Statements carry a static name (`noun.verb`) for traces and metrics."""

    __slots__ = ("_conn", "_delay", "_telemetry")

    def __init__(self, conn: Any, telemetry: Telemetry, delay: float = 0.0) -> None:
        self._conn = conn
        self._telemetry = telemetry
        self._delay = delay  # seconds added before each statement: the db_latency_ms switch

    async def _execute(self, name: str, sql: str, params: Params, *, many: bool = False) -> Any:
        telemetry = self._telemetry
        if not telemetry.enabled:
            return await self._run(name, sql, params, many)
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
                return await self._run(name, sql, params, many)
            with use_span(span, end_on_exit=True):
                return await self._run(name, sql, params, many)
        except pymysql.err.MySQLError as exc:
            code = str(_error_code(exc))
            if span is not None:
                span.set_attribute("db.response.status_code", code)
            raise
        except (Deadlock, DatabaseUnavailable) as exc:
            cause = exc.__cause__  # the MySQL error _run translated
            code = str(_error_code(cause)) if isinstance(cause, pymysql.err.MySQLError) else ""
            raise
        finally:
            metrics = telemetry.metrics
            metrics.child(metrics.db_operation, "mysql", name, code).observe(
                time.perf_counter() - started, exemplar() if span is not None else None
            )

    async def _run(self, name: str, sql: str, params: Params, many: bool) -> Any:
        if self._delay:
            await asyncio.sleep(self._delay)
        cursor = await self._conn.cursor()
        try:
            if many:
                await cursor.executemany(sql, params)
            else:
                await cursor.execute(sql, params)
        except (pymysql.err.OperationalError, pymysql.err.InternalError) as exc:
            await cursor.close()
            code = _error_code(exc)
            if code == DEADLOCK:
                raise Deadlock(name) from exc
            if code in UNAVAILABLE_CODES:
                raise DatabaseUnavailable(f"database error {code} in {name}") from exc
            raise
        except (pymysql.err.InterfaceError, OSError) as exc:
            # The connection was already closed, or broke outside the protocol's error codes.
            await cursor.close()
            raise DatabaseUnavailable(f"the database connection broke in {name}") from exc
        except BaseException:
            await cursor.close()
            raise
        return cursor

    async def fetch_all(self, name: str, sql: str, params: Params = None) -> list[Row]:
        """Run a query and return every row."""
        cursor = await self._execute(name, sql, params)
        rows: list[Row] = list(await cursor.fetchall())
        await cursor.close()
        return rows

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

    async def begin(self) -> None:
        """Start a transaction; DatabaseUnavailable if the connection is gone (nothing written)."""
        try:
            await self._conn.begin()
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError) as exc:
            raise DatabaseUnavailable("the database connection broke at BEGIN") from exc

    async def commit(self) -> None:
        """Commit the transaction; OutcomeUnknown if the connection breaks before the answer."""
        try:
            await self._conn.commit()
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as exc:
            if isinstance(exc, pymysql.err.InterfaceError) or _error_code(exc) in CONNECTION_LOST:
                raise OutcomeUnknown(_UNKNOWN) from exc
            raise
        except OSError as exc:
            raise OutcomeUnknown(_UNKNOWN) from exc

    async def rollback_quietly(self) -> None:
        """Roll back; a broken connection is closed instead (the pool then drops it)."""
        try:
            await self._conn.rollback()
        except BaseException:
            self._conn.close()
