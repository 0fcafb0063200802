"""The consistency audit, over a seeded prefix and over explicit users and products: clean after
real traffic, and each kind of planted inconsistency is caught and named."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pymysql
import pytest
from aiohttp.test_utils import TestClient, TestServer

from loadtest.audit import Discrepancy, Scope, audit, main
from loadtest.harness.database import clone, connect, fresh_dataset
from shop.app import create_app
from shop.settings import Settings

from ..conftest import TEST_DB_URL
from ..factories import Factory
from .databases import derived_url

SOURCE = derived_url("audit_src")
TARGET = derived_url("audit")
STOCK = 1_000
SCOPE = Scope(initial_stock=STOCK)


async def _traffic() -> None:
    """Charges, coupon issues and paid orders (one with a coupon) through the real service."""
    settings = Settings(db_url=SOURCE, env="test", log_level="WARNING", db_pool_max=5)
    async with TestClient(TestServer(create_app(settings))) as client:
        for n in (1, 2, 3):
            r = await client.post(f"/api/users/test-user-{n}/balance/charge", json={"amount": 500})
            assert r.status == 200, await r.text()
        r = await client.post("/api/coupons/test-coupon-1/issue", json={"userId": "test-user-1"})
        assert r.status == 200, await r.text()
        for user, coupon in (("test-user-1", "test-coupon-1"), ("test-user-2", None)):
            r = await client.post(
                "/api/cart/items",
                json={"userId": user, "productId": "test-product-2", "quantity": 2},
            )
            assert r.status == 200, await r.text()
            body = {"userId": user, **({"couponId": coupon} if coupon else {})}
            r = await client.post("/api/orders", json=body)
            assert r.status == 200, await r.text()


@pytest.fixture(scope="module")
def _source() -> None:
    fresh_dataset(SOURCE, users=10, stock=STOCK, coupon_quantity=5)
    asyncio.run(_traffic())


@pytest.fixture
def db(_source: None) -> Iterator[Callable[[str], None]]:
    """A fresh copy of the source; call it with SQL to plant an inconsistency."""
    clone(SOURCE, TARGET)
    conn = connect(TARGET)

    def plant(sql: str) -> None:
        with conn.cursor() as cur:
            cur.execute(sql)

    yield plant
    conn.close()


def _found() -> list[Discrepancy]:
    return audit(TARGET, SCOPE).discrepancies


def _kinds() -> set[str]:
    return {d.kind for d in _found()}


def test_real_traffic_audits_clean(db: Callable[[str], None]) -> None:
    report = audit(TARGET, SCOPE)
    assert report.ok, report.describe()
    assert report.describe().startswith("consistency audit: clean")
    assert main(["--db-url", TARGET, "--initial-stock", str(STOCK)]) == 0


def test_issued_count_differs_from_rows(db: Callable[[str], None]) -> None:
    db("UPDATE coupons SET issued_quantity = issued_quantity + 1 WHERE coupon_id = 'test-coupon-1'")
    found = _found()
    assert [(d.kind, d.row) for d in found] == [("coupon_count", "test-coupon-1")]
    assert main(["--db-url", TARGET, "--initial-stock", str(STOCK)]) == 1


def test_coupon_issued_past_its_quantity(db: Callable[[str], None]) -> None:
    db(
        "INSERT INTO user_coupons (coupon_id, user_id, issued_at)"
        " SELECT 'test-coupon-1', user_id, NOW() FROM users WHERE user_id <> 'test-user-1'"
    )
    assert "coupon_over_issued" in _kinds()


def test_coupon_issued_twice_to_one_user(db: Callable[[str], None]) -> None:
    db("ALTER TABLE user_coupons DROP INDEX uq_user_coupons_coupon_user")
    db(
        "INSERT INTO user_coupons (coupon_id, user_id, issued_at)"
        " VALUES ('test-coupon-1', 'test-user-1', NOW())"
    )
    db("UPDATE coupons SET issued_quantity = 2 WHERE coupon_id = 'test-coupon-1'")
    found = _found()
    assert [(d.kind, d.row) for d in found] == [("coupon_duplicate", "test-coupon-1/test-user-1")]


def test_lost_balance_update(db: Callable[[str], None]) -> None:
    db("UPDATE users SET balance = balance - 500 WHERE user_id = 'test-user-3'")
    found = _found()
    assert ("balance", "test-user-3") in [(d.kind, d.row) for d in found]


@pytest.mark.parametrize("column", ["stock", "sales_count"])
def test_product_counters(db: Callable[[str], None], column: str) -> None:
    """Stock sold twice, or a sales count off by one: the product is named, nothing else."""
    db(f"UPDATE products SET {column} = {column} + 1 WHERE product_id = 'test-product-2'")
    assert [(d.kind, d.row) for d in _found()] == [(column, "test-product-2")]


def test_money_taken_without_a_debit(db: Callable[[str], None]) -> None:
    db(
        "INSERT INTO payments (order_id, user_id, amount, status, created_at)"
        " VALUES (999999, 'test-user-4', 700, 'COMPLETED', NOW())"
    )
    found = _found()
    # The balances, the history's payments against the table's, and a payment of no order.
    assert [(d.kind, d.row) for d in found] == [
        ("money", "10 users"), ("money", "payments"), ("orphan", "payments"),
    ]  # fmt: skip
    assert "off by 700" in found[0].detail


def test_paid_order_without_payment(db: Callable[[str], None]) -> None:
    db("DELETE FROM payments WHERE user_id = 'test-user-2'")
    assert "order_payment" in _kinds()


def test_paid_order_lines_do_not_add_up(db: Callable[[str], None]) -> None:
    db(
        "UPDATE order_items SET price = price + 1 WHERE order_id ="
        " (SELECT order_id FROM orders WHERE user_id = 'test-user-2')"
    )
    found = _found()
    assert [d.kind for d in found] == ["order_lines"]
    assert found[0].row.startswith("order ")


def test_audit_reads_nothing_outside_the_data_set(db: Callable[[str], None]) -> None:
    """Users outside the seeded set (other tests' rows) are not judged by the seed balance."""
    db("INSERT INTO users (user_id, name, balance, created_at) VALUES ('u-x', 'x', 5, NOW())")
    assert _kinds() == set()


def test_unreachable_database_is_an_error_not_a_pass() -> None:
    with pytest.raises(pymysql.err.OperationalError):
        audit("mysql://root:@127.0.0.1:1/none", SCOPE)
    with pytest.raises(SystemExit, match="could not run"):
        main(["--db-url", "mysql://root:@127.0.0.1:1/none"])


def test_history_that_does_not_chain(db: Callable[[str], None]) -> None:
    """Every balance still adds up, but one history row does not follow the one before."""
    db(
        "UPDATE balance_history SET previous_balance = previous_balance + 1,"
        " current_balance = current_balance + 1 WHERE user_id = 'test-user-1'"
        " ORDER BY id LIMIT 1"
    )
    assert _kinds() == {"history_chain"}


def test_payment_without_its_order(db: Callable[[str], None]) -> None:
    db("UPDATE payments SET order_id = 999999 WHERE user_id = 'test-user-2'")
    assert {"orphan", "order_payment"} <= _kinds()


# An explicit scope: the users and products a test made, each with its own initial value.


@pytest.fixture
async def traffic(client: Any, factory: Factory) -> Scope:
    users = await factory.users(3, balance=10_000)
    product = await factory.product(price=1_000, stock=20)
    coupon = await factory.coupon(quantity=2, value=500)
    for user in users:
        await client.post(f"/api/users/{user}/balance/charge", json={"amount": 700})
        await client.post(f"/api/coupons/{coupon}/issue", json={"userId": user})
        await client.post(
            "/api/cart/items", json={"userId": user, "productId": product, "quantity": 2}
        )
        placed = await client.post("/api/orders", json={"userId": user})
        assert placed.status == 200, await placed.text()
    return Scope.explicit(dict.fromkeys(users, 10_000), {product: 20}, [coupon])


async def test_explicit_scope_audits_clean_and_counts(traffic: Scope) -> None:
    report = await asyncio.to_thread(audit, TEST_DB_URL, traffic)
    assert report.discrepancies == []
    assert report.counts == {
        "coupons issued": 2, "charges": 3, "units sold": 6, "payments": 3, "orders": 3,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "found"),
    [
        ("UPDATE users SET balance = balance + 1 WHERE user_id = %(user)s", "balance"),
        ("UPDATE products SET stock = stock - 1 WHERE product_id = %(product)s", "stock"),
        ("UPDATE coupons SET issued_quantity = 1 WHERE coupon_id = %(coupon)s", "coupon_count"),
        ("DELETE FROM payments WHERE user_id = %(user)s", "order_payment"),
    ],
    ids=["balance", "stock", "coupon-counter", "lost-payment"],
)
async def test_explicit_scope_catches_damage(
    traffic: Scope, factory: Factory, damage: str, found: str
) -> None:
    assert not isinstance(traffic.users, str)
    ids = {"user": traffic.users[0], "product": traffic.products[0], "coupon": traffic.coupons[0]}
    async with factory.db.session() as s:
        await s.execute("test.damage", damage, ids)
    report = await asyncio.to_thread(audit, TEST_DB_URL, traffic)
    assert found in {d.kind for d in report.discrepancies}, report.describe()
