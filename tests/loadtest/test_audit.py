"""The consistency audit: clean after real traffic, and each kind of planted inconsistency is
caught and named."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pymysql
import pytest
from aiohttp.test_utils import TestClient, TestServer

from loadtest.audit import Scope, audit, describe, main
from shop.app import create_app
from shop.settings import Settings

from .databases import clone, connect, derived_url, fresh_dataset

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


def _kinds() -> set[str]:
    return {d.kind for d in audit(TARGET, SCOPE)}


def test_real_traffic_audits_clean(db: Callable[[str], None]) -> None:
    found = audit(TARGET, SCOPE)
    assert found == [], describe(found)
    assert main(["--db-url", TARGET, "--initial-stock", str(STOCK)]) == 0


def test_issued_count_differs_from_rows(db: Callable[[str], None]) -> None:
    db("UPDATE coupons SET issued_quantity = issued_quantity + 1 WHERE coupon_id = 'test-coupon-1'")
    found = audit(TARGET, SCOPE)
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
    found = audit(TARGET, SCOPE)
    assert [(d.kind, d.row) for d in found] == [("coupon_duplicate", "test-coupon-1/test-user-1")]


def test_lost_balance_update(db: Callable[[str], None]) -> None:
    db("UPDATE users SET balance = balance - 500 WHERE user_id = 'test-user-3'")
    found = audit(TARGET, SCOPE)
    assert ("balance", "test-user-3") in [(d.kind, d.row) for d in found]


def test_oversold_stock(db: Callable[[str], None]) -> None:
    db("UPDATE products SET stock = stock - 1 WHERE product_id = 'test-product-2'")
    found = audit(TARGET, SCOPE)
    assert [(d.kind, d.row) for d in found] == [("stock", "test-product-2")]


def test_sales_count_drift(db: Callable[[str], None]) -> None:
    db("UPDATE products SET sales_count = sales_count + 1 WHERE product_id = 'test-product-2'")
    found = audit(TARGET, SCOPE)
    assert [(d.kind, d.row) for d in found] == [("sales_count", "test-product-2")]


def test_money_taken_without_a_debit(db: Callable[[str], None]) -> None:
    db(
        "INSERT INTO payments (order_id, user_id, amount, status, created_at)"
        " VALUES (999999, 'test-user-4', 700, 'COMPLETED', NOW())"
    )
    found = audit(TARGET, SCOPE)
    assert [d.kind for d in found] == ["money"]
    assert "off by 700" in found[0].detail


def test_paid_order_without_payment(db: Callable[[str], None]) -> None:
    db("DELETE FROM payments WHERE user_id = 'test-user-2'")
    assert "order_payment" in _kinds()


def test_paid_order_lines_do_not_add_up(db: Callable[[str], None]) -> None:
    db(
        "UPDATE order_items SET price = price + 1 WHERE order_id ="
        " (SELECT order_id FROM orders WHERE user_id = 'test-user-2')"
    )
    found = audit(TARGET, SCOPE)
    assert [d.kind for d in found] == ["order_lines"]
    assert found[0].row.startswith("order ")


def test_audit_reads_nothing_outside_the_data_set(db: Callable[[str], None]) -> None:
    """Users outside the seeded set (other tests' rows) are not judged by the seed balance."""
    db("INSERT INTO users (user_id, name, balance, created_at) VALUES ('u-x', 'x', 5, NOW())")
    assert _kinds() == set()


def test_unreachable_database_is_an_error_not_a_pass() -> None:
    with pytest.raises(pymysql.err.OperationalError):
        audit("mysql://root:@127.0.0.1:1/none", SCOPE)
