"""Races the database must win alone: each test fires many concurrent requests at hot rows.

Every guarantee here is enforced by guarded updates, unique keys and locking reads; the
per-user lock only keeps contention off the database. So these tests run with a lock that does
not lock and with the CHECK constraints dropped: a read-then-write credit loses charges, an
unguarded stock, balance or coupon update oversells, and neither the lock nor a CHECK turning
the oversell into a 500 can hide it. The last test is the lock's own: with a lock that does not
lock, a charge reaches the database while another request holds the user's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from itertools import pairwise

import pytest

from shop.adapters.mysql.pool import Database
from shop.app import Overrides, create_app
from shop.locks.lease import Lease
from shop.locks.local import LocalLockManager
from shop.settings import Settings

from ..factories import Factory
from ..polling import until

pytestmark = pytest.mark.slow

# (table, constraint, its definition): the CHECKs that would turn an oversell into a 500.
CHECKS = (
    ("users", "chk_users_balance", "balance BETWEEN 0 AND 1000000000000"),
    ("products", "chk_products_stock", "stock >= 0"),
    ("coupons", "chk_coupons_issued", "issued_quantity BETWEEN 0 AND total_quantity"),
)


class NoLocks:
    """A lock manager that lets everyone in at once: the database guards stand alone."""

    backend = "none"

    def waiters(self, key: str) -> int:
        return 0

    def keys_count(self) -> int:
        return 0

    @contextlib.asynccontextmanager
    async def hold(self, key: str, *, name: str, wait: float, lease: float) -> AsyncIterator[Lease]:
        yield Lease(key, 0)


@pytest.fixture
def overrides() -> Overrides:
    return Overrides(locks=NoLocks())


@pytest.fixture(autouse=True)
async def _without_check_constraints(database: Database) -> AsyncIterator[None]:
    """Drop the CHECKs for one test of this run's own database; put them back after it."""
    async with database.session() as s:
        for table, name, _ in CHECKS:
            await s.execute("test.drop_check", f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    try:
        yield
    finally:
        async with database.session() as s:
            for table, name, check in CHECKS:
                await s.execute(
                    "test.add_check", f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})"
                )


async def test_coupon_of_100_goes_to_exactly_100_distinct_users(client, factory: Factory) -> None:
    coupon = await factory.coupon(quantity=100)
    users = await factory.users(1_000)

    async def issue(user: str) -> int:
        response = await client.post(f"/api/coupons/{coupon}/issue", json={"userId": user})
        body = await response.json(content_type=None)
        if response.status != 200:
            assert (response.status, body["code"]) == (400, "C001"), body
        return response.status

    statuses = Counter(await asyncio.gather(*(issue(u) for u in users)))
    assert statuses == {200: 100, 400: 900}
    holders = await factory.rows(
        "SELECT user_id, COUNT(*) FROM user_coupons WHERE coupon_id = %s GROUP BY user_id", coupon
    )
    assert len(holders) == 100
    assert all(count == 1 for _, count in holders)
    assert await factory.issued(coupon) == 100


async def test_one_user_racing_for_a_coupon_gets_it_once(client, factory: Factory) -> None:
    coupon = await factory.coupon(quantity=50)
    user = await factory.user()
    responses = await asyncio.gather(
        *(client.post(f"/api/coupons/{coupon}/issue", json={"userId": user}) for _ in range(50))
    )
    codes = Counter(r.status for r in responses)
    assert codes == {200: 1, 409: 49}
    assert await factory.issued(coupon) == 1


async def test_500_concurrent_charges_over_5_users_are_all_counted(
    client, factory: Factory
) -> None:
    users = await factory.users(5, balance=0)
    amounts = [(users[i % 5], 1 + i) for i in range(500)]
    responses = await asyncio.gather(
        *(client.post(f"/api/users/{u}/balance/charge", json={"amount": a}) for u, a in amounts)
    )
    assert [r.status for r in responses] == [200] * 500
    for user in users:
        expected = sum(a for u, a in amounts if u == user)
        assert (
            await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == expected
        )
        # The history is a gapless chain: each row starts where the previous one ended.
        chain = await factory.rows(
            "SELECT previous_balance, current_balance FROM balance_history"
            " WHERE user_id = %s ORDER BY id",
            user,
        )
        assert len(chain) == 100
        assert chain[0][0] == 0
        assert all(prev[1] == nxt[0] for prev, nxt in pairwise(chain))
        assert chain[-1][1] == expected


async def test_300_orders_for_a_product_with_stock_50(client, factory: Factory) -> None:
    product = await factory.product(price=1_000, stock=50)
    users = await factory.users(300, balance=10_000)
    for user in users:
        await client.post(
            "/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}
        )

    async def order(user: str) -> tuple[int, str | None]:
        response = await client.post("/api/orders", json={"userId": user})
        body = await response.json(content_type=None)
        return response.status, body.get("code")

    outcomes = Counter(await asyncio.gather(*(order(u) for u in users)))
    assert outcomes == {(200, None): 50, (400, "P002"): 250}
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == 0
    balances = await factory.rows_over("SELECT balance FROM users WHERE user_id IN ({ids})", users)
    spent = sum(10_000 - int(b) for (b,) in balances)
    assert spent == 50 * 1_000
    # Money is conserved: what left the balances is exactly what the orders and payments say.
    for paid in (
        "SELECT SUM(final_amount) FROM orders WHERE user_id IN ({ids})",
        "SELECT SUM(amount) FROM payments WHERE user_id IN ({ids})",
    ):
        assert await factory.scalar_over(paid, users) == spent, paid
    assert (
        await factory.scalar("SELECT SUM(quantity) FROM order_items WHERE product_id = %s", product)
        == 50
    )


async def test_same_user_ordering_concurrently_pays_once(client, factory: Factory) -> None:
    user = await factory.user(balance=100_000)
    product = await factory.product(price=7_000, stock=1_000)
    await client.post("/api/cart/items", json={"userId": user, "productId": product, "quantity": 2})
    responses = await asyncio.gather(
        *(client.post("/api/orders", json={"userId": user}) for _ in range(20))
    )
    codes = Counter(r.status for r in responses)
    assert codes == {200: 1, 400: 19}
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 86_000
    assert await factory.scalar("SELECT COUNT(*) FROM orders WHERE user_id = %s", user) == 1
    assert await factory.scalar("SELECT stock FROM products WHERE product_id = %s", product) == 998


async def test_orders_and_charges_of_the_same_users_conserve_money(
    client, factory: Factory
) -> None:
    users = await factory.users(10, balance=20_000)
    product = await factory.product(price=3_000, stock=10_000)
    for user in users:
        await client.post(
            "/api/cart/items", json={"userId": user, "productId": product, "quantity": 1}
        )

    async def order(user: str) -> int:
        return (await client.post("/api/orders", json={"userId": user})).status

    async def charge(user: str) -> int:
        return (await client.post(f"/api/users/{user}/balance/charge", json={"amount": 500})).status

    calls = [order(u) for u in users] + [charge(u) for u in users for _ in range(10)]
    statuses = await asyncio.gather(*calls)
    assert statuses == [200] * len(calls)
    total = await factory.scalar_over(
        "SELECT SUM(balance) FROM users WHERE user_id IN ({ids})", users
    )
    assert total == 10 * 20_000 + 100 * 500 - 10 * 3_000


async def test_the_user_lock_keeps_a_charge_off_the_database_while_held(
    aiohttp_client, settings: Settings, factory: Factory
) -> None:
    locks = LocalLockManager()
    client = await aiohttp_client(create_app(settings, Overrides(locks=locks)))
    user = await factory.user(balance=0)
    key = f"charge:user:{user}"
    async with locks.hold(key, name="charge", wait=1, lease=30):
        charge = asyncio.create_task(
            client.post(f"/api/users/{user}/balance/charge", json={"amount": 5})
        )
        # Event order, not time: the charge either queues behind the lock or (no lock) ends.
        await until(lambda: charge.done() or locks.waiters(key) > 0)
        assert not charge.done(), "the charge went through a lock somebody else held"
        assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 0
    assert (await charge).status == 200
    assert await factory.scalar("SELECT balance FROM users WHERE user_id = %s", user) == 5
