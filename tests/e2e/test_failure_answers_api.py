"""What a client sees when something fails: 503 LOCK002 / LOCK003 with nothing written, a 500
that carries its trace id, and a deadlock retried until the order (or the cart line) goes
through."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiomysql
import pytest
import redis.asyncio as aioredis
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from loadtest.harness.ports import free_port
from loadtest.harness.waiting import until
from shop.adapters.mysql.pool import parse_db_url
from shop.app import Overrides, create_app
from shop.keys import TELEMETRY
from shop.locks.local import LocalLockManager
from shop.settings import Settings

from ..conftest import TEST_DB_URL
from ..factories import Factory
from .conftest import problem

REDIS_URL = "redis://127.0.0.1:6379/0"


async def _with_cart(client, factory: Factory, *, stock: int = 10) -> tuple[str, str]:
    user = await factory.user(balance=50_000)
    product = await factory.product(price=1_000, stock=stock)
    added = await client.post(
        "/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}
    )
    assert added.status in (200, 201), await added.text()
    return user, product


async def _nothing_written(factory: Factory, user: str, balance: int) -> None:
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == balance
    for table in ("balance_history", "orders", "payments"):
        count = await factory.scalar(f"SELECT COUNT(*) FROM {table} WHERE user_id = %s", user)
        assert count == 0, table


async def test_unreachable_lock_backend_is_503_lock002(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    client = await aiohttp_client(
        create_app(replace(settings, redis_url=nowhere, lock_backend="redis"))
    )
    user, _ = await _with_cart(client, factory)
    charge = await client.post(f"/api/users/{user}/balance/charge", json={"amount": 5})
    await problem(charge, 503, "LOCK002")
    assert charge.headers["Retry-After"]
    order = await client.post("/api/orders", json={"userId": user})
    await problem(order, 503, "LOCK002")
    await _nothing_written(factory, user, 50_000)


@pytest.mark.parametrize("route", ["charge", "order"])
async def test_lease_taken_over_mid_hold_is_503_lock003_and_writes_nothing(
    aiohttp_client, settings: Settings, admin_headers, factory: Factory, route: str
) -> None:
    prefix = f"{settings.redis_prefix}{uuid.uuid4().hex[:12]}:"
    client = await aiohttp_client(
        create_app(
            replace(
                settings,
                redis_url=REDIS_URL,
                redis_prefix=prefix,
                lock_backend="redis",
                lock_lease=0.6,
            )
        )
    )
    user, product = await _with_cart(client, factory)
    slow = await client.put(
        "/api/admin/incidents/db_latency_ms", json={"value": 400}, headers=admin_headers
    )
    assert slow.status == 200
    raw = aioredis.Redis.from_url(REDIS_URL)
    key = f"{prefix}lock:{route}:user:{user}"
    try:
        if route == "charge":
            sent = client.post(f"/api/users/{user}/balance/charge", json={"amount": 5})
        else:
            sent = client.post("/api/orders", json={"userId": user})
        answer = asyncio.ensure_future(sent)
        await until(lambda: raw.exists(key))
        # Another replica takes the key, as after an expiry: the holder must not commit.
        await raw.set(key, "another-holder", px=10_000)
        await problem(await answer, 503, "LOCK003")
        assert await raw.get(key) == b"another-holder"  # its release left the new key alone
    finally:
        await raw.delete(key, f"{prefix}incidents")
        await raw.aclose()
    await _nothing_written(factory, user, 50_000)
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == 10


class _BuggyLocks(LocalLockManager):
    """A lock manager with a bug: every hold raises what no handler expects."""

    def hold(self, key: str, *, name: str, wait: float, lease: float) -> Any:
        raise RuntimeError("a bug")


async def test_a_bug_is_500_with_the_trace_id_of_its_span(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    exporter = InMemorySpanExporter()
    client = await aiohttp_client(
        create_app(settings, Overrides(locks=_BuggyLocks(), span_exporter=exporter))
    )
    user = await factory.user(balance=0)
    response = await client.post(f"/api/users/{user}/balance/charge", json={"amount": 5})
    body = await problem(response, 500, "COMMON004")
    [span] = [s for s in exporter.get_finished_spans() if s.name.startswith("POST ")]
    trace_id = format(span.context.trace_id, "032x")
    assert body["traceId"] == trace_id
    assert trace_id in body["detail"]
    assert "a bug" not in await response.text()  # no internals leak
    await _nothing_written(factory, user, 0)


def _deadlocks(client) -> float:
    """Statements of this app that InnoDB ended as deadlock victims (error 1213)."""
    return sum(
        sample.value
        for metric in client.app[TELEMETRY].metrics.registry.collect()
        if metric.name == "db_client_operation_duration_seconds"
        for sample in metric.samples
        if sample.name.endswith("_count") and sample.labels.get("error_code") == "1213"
    )


async def _deadlock_victim(
    factory: Factory,
    request: Awaitable[Any],
    *,
    hold: tuple[str, tuple[Any, ...]],
    waiting: str,
    close: tuple[str, tuple[Any, ...]],
) -> Any:
    """Make `request` a deadlock's victim once, and return its answer.

    A transaction heavier than the request (InnoDB rolls back the lighter side of a deadlock)
    runs `hold`; once a statement like `waiting` (a LIKE pattern) waits on it, it runs `close`,
    which waits for what that statement holds: a cycle. It then rolls back, so a statement
    sent again goes through.
    """
    target = parse_db_url(TEST_DB_URL)
    other = await aiomysql.connect(**target.connect_args(), db=target.database)
    try:
        async with other.cursor() as cur:
            await cur.execute("BEGIN")
            ballast = f"ballast-{uuid.uuid4().hex[:12]}"
            await cur.executemany(
                "INSERT INTO balance_history (user_id, amount, previous_balance,"
                " current_balance, reason, created_at) VALUES (%s, 0, 0, 0, 'CHARGE', %s)",
                [(ballast, datetime.now(UTC).replace(tzinfo=None))] * 200,
            )
            await cur.execute(*hold)
            answer = asyncio.ensure_future(request)

            await until(lambda: factory.running(waiting))
            await cur.execute(*close)
            await cur.execute("ROLLBACK")
    finally:
        other.close()
    return await answer


async def test_an_order_chosen_as_deadlock_victim_is_retried_and_succeeds(
    client, factory: Factory
) -> None:
    user, product = await _with_cart(client, factory)
    # The order holds the user's row and waits for the product; then the user's row is waited
    # for: a cycle, and the order's transaction is the victim.
    response = await _deadlock_victim(
        factory,
        client.post("/api/orders", json={"userId": user}),
        hold=("SELECT stock FROM products WHERE product_id = %s FOR UPDATE", (product,)),
        waiting=f"UPDATE products SET stock%{product}%",
        close=("UPDATE users SET balance = balance WHERE user_id = %s", (user,)),
    )
    assert response.status == 200, await response.text()
    assert _deadlocks(client) >= 1
    assert await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user) == 1
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == 9


async def test_a_cart_line_upsert_chosen_as_deadlock_victim_is_sent_again(
    client, factory: Factory
) -> None:
    user, product = await _with_cart(client, factory)
    line = await factory.scalar(
        "SELECT cart_item_id FROM cart_items i JOIN carts c USING (cart_id) WHERE c.user_id = %s",
        user,
    )
    # The upsert holds the line's unique-key entry and waits for its row (held through the
    # primary key only); then that entry is waited for, the way an order batch reaches a cart's
    # lines through another index: a cycle, and the add's transaction is the victim, run again.
    response = await _deadlock_victim(
        factory,
        client.post("/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}),
        hold=("SELECT 1 FROM cart_items WHERE cart_item_id = %s FOR UPDATE", (line,)),
        waiting=f"INSERT INTO cart_items%{product}%",
        close=(
            "SELECT 1 FROM cart_items FORCE INDEX (uq_cart_items_product_cart)"
            " WHERE product_id = %s AND cart_id = (SELECT cart_id FROM carts WHERE user_id = %s)"
            " FOR UPDATE",
            (product, user),
        ),
    )
    assert response.status in (200, 201), await response.text()
    assert _deadlocks(client) >= 1
    quantity = await factory.scalar("SELECT quantity FROM cart_items WHERE cart_item_id = %s", line)
    assert quantity == 2


async def test_a_lone_autocommitted_statement_chosen_as_deadlock_victim_is_sent_again(
    factory: Factory,
) -> None:
    """Outside a transaction the session sends a deadlock's victim again: InnoDB rolled back
    that statement alone, so nothing it did has stayed (the idempotency claims and seals are
    written so)."""
    first, second = sorted(await factory.users(2, balance=0))

    async def credit_both() -> int:
        async with factory.db.session() as session:
            return await session.execute(
                "test.credit_both",
                "UPDATE users SET balance = balance + 1 WHERE user_id IN (%s, %s) ORDER BY user_id",
                (first, second),
            )

    # The update holds the first user's row and waits for the second's; then the first is
    # waited for: a cycle, and the lone update is the victim.
    changed = await _deadlock_victim(
        factory,
        credit_both(),
        hold=("SELECT 1 FROM users WHERE user_id = %s FOR UPDATE", (second,)),
        waiting="UPDATE users SET balance = balance + 1 WHERE user_id IN%",
        close=("SELECT 1 FROM users WHERE user_id = %s FOR UPDATE", (first,)),
    )
    assert changed == 2
    for user in (first, second):
        assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 1
