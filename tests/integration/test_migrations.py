"""Schema migrations: on an empty server, from every older version, by three replicas at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiomysql
import pytest

from shop.adapters.mysql.migrations import MigrationLockTimeout, available, lock_name, migrate
from shop.adapters.mysql.pool import parse_db_url

from ..conftest import TEST_DB_URL

VERSIONS = [version for version, _ in available()]


async def _query(sql: str, *params: object) -> list[tuple[object, ...]]:
    target = parse_db_url(TEST_DB_URL)
    conn = await aiomysql.connect(**target.connect_args())
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql, params)
            return list(await cur.fetchall())
    finally:
        conn.close()


@pytest.fixture
async def scratch() -> AsyncIterator[str]:
    """The URL of a database that does not exist yet (dropped afterwards)."""
    name = f"{parse_db_url(TEST_DB_URL).database}_m{uuid.uuid4().hex[:8]}"
    yield urlsplit(TEST_DB_URL)._replace(path=f"/{name}").geturl()
    await _query(f"DROP DATABASE IF EXISTS `{name}`")


async def _schema(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Everything a migration can change: columns, indexes, checks (names and definitions)."""
    db = parse_db_url(url).database
    return {
        "columns": await _query(
            "SELECT table_name, column_name, ordinal_position, column_type, is_nullable,"
            " column_default, extra, collation_name FROM information_schema.columns"
            " WHERE table_schema = %s"
            " ORDER BY table_name, ordinal_position",
            db,
        ),
        "indexes": await _query(
            "SELECT table_name, index_name, seq_in_index, column_name, non_unique"
            " FROM information_schema.statistics WHERE table_schema = %s"
            " ORDER BY table_name, index_name, seq_in_index",
            db,
        ),
        "checks": await _query(
            "SELECT table_name, constraint_name, check_clause"
            " FROM information_schema.check_constraints WHERE constraint_schema = %s"
            " ORDER BY table_name, constraint_name",
            db,
        ),
    }


async def _applied(url: str) -> list[str]:
    db = parse_db_url(url).database
    rows = await _query(f"SELECT version FROM `{db}`.schema_migrations ORDER BY version")
    return [str(r[0]) for r in rows]


async def test_an_empty_server_gets_the_whole_schema(scratch: str) -> None:
    assert await migrate(scratch) == VERSIONS
    assert await _applied(scratch) == VERSIONS
    tables = {row[0] for row in (await _schema(scratch))["columns"]}
    assert {"users", "products", "coupons", "user_coupons", "orders", "payments"} <= tables
    assert await migrate(scratch) == []


async def test_every_id_column_compares_byte_for_byte(scratch: str) -> None:
    """An id column collated case- or pad-insensitively makes `TEST-USER-1` and `test-user-1 `
    the row of `test-user-1` (docs/decisions/0032-exact-ids.md); this finds any, present or new."""
    await migrate(scratch)
    loose = await _query(
        "SELECT table_name, column_name, collation_name FROM information_schema.columns"
        " WHERE table_schema = %s AND data_type IN ('char', 'varchar')"
        " AND (column_name LIKE '%%\\_id' OR column_name = 'idem_key')"
        " AND collation_name NOT IN ('utf8mb4_nopad_bin', 'ascii_nopad_bin')",
        parse_db_url(scratch).database,
    )
    assert loose == []
    ids = await _query(
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = %s"
        " AND collation_name IN ('utf8mb4_nopad_bin', 'ascii_nopad_bin')",
        parse_db_url(scratch).database,
    )
    assert ids == [(15,)]


# Every schema a deployed database can be at: none yet, then each version but the newest.
@pytest.mark.parametrize("start", [None, *VERSIONS[:-1]], ids=lambda v: f"from-{v or 'empty'}")
async def test_every_older_schema_upgrades_to_the_same_schema(
    scratch: str, start: str | None
) -> None:
    reference = f"{scratch}_ref"
    done = 0 if start is None else VERSIONS.index(start) + 1
    try:
        await migrate(reference)
        if start is not None:
            await migrate(scratch, upto=start)
            assert await _applied(scratch) == VERSIONS[:done]
        assert await migrate(scratch) == VERSIONS[done:]
        assert await _applied(scratch) == VERSIONS
        # The upgraded schema and a fresh one differ only by their database name.
        assert await _schema(scratch) == await _schema(reference)
    finally:
        await _query(f"DROP DATABASE IF EXISTS `{parse_db_url(reference).database}`")


async def test_upto_builds_each_older_version(scratch: str) -> None:
    for count, version in enumerate(VERSIONS, start=1):
        await migrate(scratch, upto=version)
        assert await _applied(scratch) == VERSIONS[:count]


async def test_three_replicas_migrating_at_once_apply_each_version_once(scratch: str) -> None:
    def run() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "shop", "migrate"],
            env={"SHOP_DB_URL": scratch, "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    procs = [run() for _ in range(3)]
    outputs = [await asyncio.to_thread(p.communicate, timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    said = Counter(out for out, _ in outputs)
    # One replica applied everything; the other two waited on the lock and found it done.
    assert said == {
        f"migrations applied: {', '.join(VERSIONS)}\n": 1,
        "migrations applied: none (schema up to date)\n": 2,
    }
    assert await _applied(scratch) == VERSIONS


async def test_a_migration_that_cannot_get_the_lock_applies_nothing(scratch: str) -> None:
    target = parse_db_url(TEST_DB_URL)
    holder = await aiomysql.connect(**target.connect_args())
    try:
        async with holder.cursor() as cur:
            await cur.execute(
                "SELECT GET_LOCK(%s, 5)", (lock_name(parse_db_url(scratch).database),)
            )
            assert (await cur.fetchone()) == (1,)
            with pytest.raises(MigrationLockTimeout):
                await migrate(scratch, lock_timeout=0.2)
    finally:
        holder.close()
    tables = await _query(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s",
        parse_db_url(scratch).database,
    )
    assert tables == [(0,)]
