"""Versioned schema migrations: every `migrations/NNNN_*.sql` applied once, in order."""

from __future__ import annotations

import re
from importlib import resources

import aiomysql
import pymysql

from ...domain.errors import DatabaseUnavailable
from .pool import connect_failed, parse_db_url
from .tls import require_tls

_LOCK_NAME = "shop_schema_migrations"
LOCK_TIMEOUT = 60


class MigrationLockTimeout(DatabaseUnavailable):
    """Another migration kept the schema lock past the timeout; nothing was applied."""


def lock_name(database: str) -> str:
    """The named lock migrations of `database` take (MySQL allows 64 characters)."""
    return f"{_LOCK_NAME}:{database}"[:64]


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (the files use `;` only at line ends)."""
    without_comments = re.sub(r"^\s*--.*$", "", sql, flags=re.MULTILINE)
    return [part.strip() for part in without_comments.split(";\n") if part.strip().strip(";")]


def available() -> list[tuple[str, str]]:
    """Every migration shipped with the package as (version, sql), oldest first."""
    folder = resources.files("shop.adapters.mysql") / "migrations"
    found = [
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found)


async def migrate(
    url: str, *, upto: str | None = None, lock_timeout: float = LOCK_TIMEOUT
) -> list[str]:
    """Create the database if needed and apply what is missing; returns the versions applied.

    `upto` stops after that version (to build an older schema, as a test of upgrades does).
    """
    target = parse_db_url(url)
    lock = lock_name(target.database)
    try:
        conn = await aiomysql.connect(**target.connect_args())
    except (pymysql.err.OperationalError, OSError) as exc:
        raise connect_failed(exc) from exc
    if target.tls is not None:
        require_tls(conn)
    applied: list[str] = []
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                f"CREATE DATABASE IF NOT EXISTS `{target.database}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            await cur.execute(f"USE `{target.database}`")
            # Several replicas may start at once: one migrates, the others wait and find it done.
            await cur.execute("SELECT GET_LOCK(%s, %s)", (lock, lock_timeout))
            (got,) = await cur.fetchone()
            # 0 = timed out, NULL = error: migrating without the lock could apply a version
            # twice, so stop instead.
            if got != 1:
                raise MigrationLockTimeout(
                    f"another migration held the schema lock for {lock_timeout:g}s"
                )
            try:
                await cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version VARCHAR(100) NOT NULL PRIMARY KEY,"
                    " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
                )
                await cur.execute("SELECT version FROM schema_migrations")
                done = {row[0] for row in await cur.fetchall()}
                for version, sql in available():
                    if upto is not None and version > upto:
                        break
                    if version in done:
                        continue
                    for statement in _statements(sql):
                        await cur.execute(statement)
                    await cur.execute(
                        "INSERT INTO schema_migrations (version) VALUES (%s)", (version,)
                    )
                    applied.append(version)
            finally:
                await cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
    finally:
        conn.close()
    return applied
