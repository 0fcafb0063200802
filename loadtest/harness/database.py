"""A shop's database for a tool or a test: migrated and seeded (by the shop's own commands, in
the same process or a child), counted, grown with abandoned carts, copied and dropped."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pymysql

from shop.adapters.mysql.migrations import migrate
from shop.adapters.mysql.pool import Database, parse_db_url
from shop.adapters.mysql.seed import seed_dataset

# Shoppers who filled a cart and left: what makes `cart_items` large enough for a missing index
# to hurt (a full scan of ~800,000 rows takes ~0.2 s here, the index lookup well under 1 ms).
ABANDONED_CARTS = 80_000


def connect(url: str, *, database: bool = True, autocommit: bool = True) -> pymysql.Connection:
    target = parse_db_url(url)
    return pymysql.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password,
        database=target.database if database else None,
        autocommit=autocommit,
        charset="utf8mb4",
    )


def shop_command(db_url: str, *args: str, quiet: bool = False) -> None:
    """`python -m shop <args>` against `db_url` (migrate, seed ...); `quiet`: no progress bars."""
    env = {**os.environ, "SHOP_DB_URL": db_url, "SHOP_LOG_LEVEL": "WARNING"}
    subprocess.run(
        [sys.executable, "-m", "shop", *args],
        env=env,
        check=True,
        stderr=subprocess.DEVNULL if quiet else None,
    )


def prepare(db_url: str, *, users: int, if_empty: bool = True, stock: int | None = None) -> None:
    """Migrate, and seed `users` users (unless any are there and `if_empty`)."""
    shop_command(db_url, "migrate")
    extra = [*(["--if-empty"] if if_empty else []), *(["--stock", str(stock)] if stock else [])]
    shop_command(db_url, "seed", "--users", str(users), *extra, quiet=True)


def seeded_users(db_url: str) -> int:
    with connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM users WHERE user_id LIKE 'test-user-%'")
        (count,) = cur.fetchone() or (0,)
        return int(count)


def abandon_carts(db_url: str, shoppers: int, count: int = ABANDONED_CARTS) -> int:
    """Users test-user-(shoppers + 1) to -(shoppers + count), each with every product in the
    cart; the load's own users (the first `shoppers`) are left alone. Idempotent; returns how
    many cart items the table then holds."""
    if seeded_users(db_url) < shoppers + count:
        shop_command(db_url, "seed", "--users", str(shoppers + count), quiet=True)
    with connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT IGNORE INTO cart_items (cart_id, product_id, quantity, created_at)"
            " SELECT c.cart_id, p.product_id, 1, NOW(6) FROM carts c CROSS JOIN products p"
            " WHERE c.user_id LIKE 'test-user-%%'"
            " AND CAST(SUBSTRING(c.user_id, 11) AS UNSIGNED) BETWEEN %s AND %s",
            (shoppers + 1, shoppers + count),
        )
        cur.execute("SELECT COUNT(*) FROM cart_items")
        (rows,) = cur.fetchone() or (0,)
    print(f"harness: {count:,} abandoned carts; cart_items holds {rows:,} rows")
    return int(rows)


def recreate(url: str) -> None:
    """Drop and create this (private) database."""
    name = parse_db_url(url).database
    with connect(url, database=False) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")


def drop(url: str) -> None:
    with connect(url, database=False) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{parse_db_url(url).database}`")


def fresh_dataset(url: str, *, users: int, stock: int, coupon_quantity: int) -> None:
    """A recreated, migrated, seeded private database (in this process: no child to start)."""
    recreate(url)
    asyncio.run(seed(url, users=users, stock=stock, coupon_quantity=coupon_quantity))


async def seed(url: str, *, users: int, stock: int, coupon_quantity: int) -> None:
    """Migrate and seed an existing database from a running event loop."""
    await migrate(url)
    db = await Database.connect(url, maxsize=2)
    try:
        await seed_dataset(db, users=users, stock=stock, coupon_quantity=coupon_quantity)
    finally:
        await db.close()


def clone(source: str, target: str) -> None:
    """Copy every table of `source` into a recreated `target` (cheaper than seeding again)."""
    recreate(target)
    src, dst = parse_db_url(source).database, parse_db_url(target).database
    with connect(source) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        for (table,) in cur.fetchall():
            cur.execute(f"CREATE TABLE `{dst}`.`{table}` LIKE `{src}`.`{table}`")
            cur.execute(f"INSERT INTO `{dst}`.`{table}` SELECT * FROM `{src}`.`{table}`")
