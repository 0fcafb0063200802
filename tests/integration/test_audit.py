"""The consistency audit the drills end with: clean after real traffic, and it catches damage."""

from __future__ import annotations

import pytest

from ..conftest import TEST_DB_URL
from ..factories import Factory
from ..faults.audit import Scope, audit


@pytest.fixture
async def traffic(client, factory: Factory) -> Scope:
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
    return Scope(balances=dict.fromkeys(users, 10_000), stock={product: 20}, coupons=[coupon])


async def test_real_traffic_audits_clean(traffic: Scope) -> None:
    report = await audit(TEST_DB_URL, traffic)
    assert report.violations == []
    assert (report.orders, report.payments, report.charges) == (3, 3, 3)
    assert (report.coupons_issued, report.units_sold) == (2, 6)


@pytest.mark.parametrize(
    ("damage", "found"),
    [
        ("UPDATE users SET balance = balance + 1 WHERE user_id = %(user)s", "balance"),
        ("UPDATE products SET stock = stock - 1 WHERE product_id = %(product)s", "stock"),
        ("UPDATE coupons SET issued_quantity = 1 WHERE coupon_id = %(coupon)s", "counter"),
        ("DELETE FROM payments WHERE user_id = %(user)s", "payments"),
    ],
    ids=["balance", "stock", "coupon-counter", "lost-payment"],
)
async def test_the_audit_catches_damage(
    traffic: Scope, factory: Factory, damage: str, found: str
) -> None:
    ids = {
        "user": next(iter(traffic.balances)),
        "product": next(iter(traffic.stock)),
        "coupon": traffic.coupons[0],
    }
    async with factory.db.session() as s:
        await s.execute("test.damage", damage, ids)
    report = await audit(TEST_DB_URL, traffic)
    assert any(found in v for v in report.violations), report.violations
