"""Rows with unique ids for one test, written straight to the database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from shop.adapters.mysql.pool import Database
from shop.adapters.mysql.times import to_db
from shop.keys import TELEMETRY


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Factory:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def user(self, *, balance: int = 1_000_000) -> str:
        user_id = unique("u")
        async with self.db.session() as s:
            await s.execute(
                "test.user",
                "INSERT INTO users (user_id, name, balance, created_at) VALUES (%s, %s, %s, %s)",
                (user_id, "Test", balance, to_db(datetime.now(UTC))),
            )
        return user_id

    async def users(self, count: int, *, balance: int = 1_000_000) -> list[str]:
        ids = [unique("u") for _ in range(count)]
        now = to_db(datetime.now(UTC))
        async with self.db.session() as s:
            await s.execute_many(
                "test.users",
                "INSERT INTO users (user_id, name, balance, created_at) VALUES (%s, %s, %s, %s)",
                [(uid, "Test", balance, now) for uid in ids],
            )
        return ids

    async def product(
        self, *, price: int = 10_000, stock: int = 100, category: str | None = None
    ) -> str:
        product_id = unique("p")
        async with self.db.session() as s:
            await s.execute(
                "test.product",
                "INSERT INTO products (product_id, name, price, stock, category, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    product_id,
                    f"Product {product_id}",
                    price,
                    stock,
                    category or unique("cat"),
                    to_db(datetime.now(UTC)),
                ),
            )
        return product_id

    async def coupon(
        self,
        *,
        quantity: int = 100,
        kind: str = "FIXED",
        value: int = 1_000,
        min_order: int = 0,
        expires_in: timedelta = timedelta(days=30),
    ) -> str:
        coupon_id = unique("c")
        now = datetime.now(UTC)
        async with self.db.session() as s:
            await s.execute(
                "test.coupon",
                "INSERT INTO coupons (coupon_id, name, discount_type, discount_value,"
                " min_order_amount, total_quantity, issued_quantity, expires_at, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, 0, %s, %s)",
                (
                    coupon_id,
                    "Test coupon",
                    kind,
                    value,
                    min_order,
                    quantity,
                    to_db(now + expires_in),
                    to_db(now),
                ),
            )
        return coupon_id

    async def cart(self, user: str, product: str, quantity: int = 1) -> int:
        """The user's new cart, holding `quantity` of `product`."""
        async with self.db.session() as s:
            cart = await s.insert(
                "test.cart", "INSERT INTO carts (user_id, created_at) VALUES (%s, NOW())", (user,)
            )
            await s.execute(
                "test.cart_item",
                "INSERT INTO cart_items (cart_id, product_id, quantity, created_at)"
                " VALUES (%s, %s, %s, NOW())",
                (cart, product, quantity),
            )
        return cart

    async def scalar(self, sql: str, *params: object) -> object:
        async with self.db.session() as s:
            row = await s.fetch_one("test.scalar", sql, params)
        return None if row is None else row[0]

    async def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        async with self.db.session() as s:
            return await s.fetch_all("test.rows", sql, params)

    @asynccontextmanager
    async def locked(self, sql: str, *params: object) -> AsyncIterator[None]:
        """The rows `sql` (a SELECT ... FOR UPDATE) reads stay locked by another session for the
        block, which writers of them wait for; then it rolls back, having written nothing."""
        async with self.db.session() as blocker:
            blocker.begin()
            await blocker.fetch_one("test.locked", sql, params)
            yield
            await blocker.rollback_quietly()

    async def running(self, pattern: str) -> bool:
        """Whether one statement like `pattern` (SQL LIKE, matched from its start) is running
        now, waiting on a lock, say."""
        found = await self.scalar(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE %s", pattern
        )
        return found == 1

    async def issued(self, coupon: str) -> object:
        """How many of `coupon` the database counts as issued."""
        return await self.scalar("SELECT issued_quantity FROM coupons WHERE coupon_id = %s", coupon)

    async def scalar_over(self, sql: str, ids: Sequence[str]) -> object:
        """`scalar` of a query over many rows: `{ids}` in `sql` stands for the list of `ids`."""
        return await self.scalar(sql.format(ids=_placeholders(ids)), *ids)

    async def rows_over(self, sql: str, ids: Sequence[str]) -> list[tuple[object, ...]]:
        """`rows` of a query over many rows: `{ids}` in `sql` stands for the list of `ids`."""
        return await self.rows(sql.format(ids=_placeholders(ids)), *ids)


def _placeholders(ids: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(ids))


def statements_run(client) -> float:
    """How many SQL statements the app behind `client` has run so far (from its metrics)."""
    registry = client.app[TELEMETRY].metrics.registry
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "db_client_operation_duration_seconds"
        for sample in metric.samples
        if sample.name.endswith("_count")
    )
