"""Private databases of the load-test tests, named after the test database (never another's)."""

from __future__ import annotations

import asyncio

import pymysql

from shop.adapters.mysql.migrations import migrate
from shop.adapters.mysql.pool import Database, parse_db_url
from shop.adapters.mysql.seed import seed_dataset

from ..conftest import TEST_DB_URL


def derived_url(suffix: str) -> str:
    """The test database's URL with `_<suffix>` appended to its name."""
    return f"{TEST_DB_URL}_{suffix}"


def connect(url: str, *, database: bool = True) -> pymysql.connections.Connection:
    target = parse_db_url(url)
    return pymysql.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password,
        database=target.database if database else None,
        autocommit=True,
    )


def recreate(url: str) -> None:
    """Drop and create this (derived, private) database."""
    name = parse_db_url(url).database
    with connect(url, database=False) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")


def fresh_dataset(url: str, *, users: int, stock: int, coupon_quantity: int) -> None:
    """A migrated, seeded private database."""
    recreate(url)

    async def build() -> None:
        await migrate(url)
        db = await Database.connect(url, maxsize=2)
        try:
            await seed_dataset(db, users=users, stock=stock, coupon_quantity=coupon_quantity)
        finally:
            await db.close()

    asyncio.run(build())


def clone(source: str, target: str) -> None:
    """Copy every table of `source` into a recreated `target` (cheaper than seeding again)."""
    recreate(target)
    src, dst = parse_db_url(source).database, parse_db_url(target).database
    with connect(source) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        for (table,) in cur.fetchall():
            cur.execute(f"CREATE TABLE `{dst}`.`{table}` LIKE `{src}`.`{table}`")
            cur.execute(f"INSERT INTO `{dst}`.`{table}` SELECT * FROM `{src}`.`{table}`")
