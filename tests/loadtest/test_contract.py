"""Contract checks: a success must have the shape the served OpenAPI document declares and add
up; rejections are told apart."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.harness.shop import serving
from loadtest.traffic import contract
from loadtest.traffic.contract import judge


@pytest.fixture(scope="module")
def document(test_database: str) -> dict[str, Any]:
    """What a real shop serves (no service module is read: the load test sees what it sees)."""
    with serving({"SHOP_DB_URL": test_database, "SHOP_LOG_LEVEL": "WARNING"}) as shop:
        return contract.served(shop.url)


@pytest.fixture(autouse=True)
def _shapes(document: dict[str, Any]) -> None:
    contract.load(document)


PROBLEM = {
    "type": "about:blank",
    "title": "t",
    "status": 400,
    "detail": "d",
    "message": "m",
    "timestamp": "2026-01-01T00:00:00+00:00",
}
CHARGED = {
    "userId": "test-user-1",
    "previousBalance": 100,
    "chargedAmount": 50,
    "currentBalance": 150,
    "chargedAt": "2026-01-01T00:00:00+00:00",
}


def test_success_with_the_contract_fields() -> None:
    assert judge(contract.CHARGE, 200, CHARGED, {"amount": 50}).kind == "ok"


def test_the_originals_false_errors_would_be_caught_here() -> None:
    """A field the API never returned is a failure of the answer, named as such."""
    missing = {k: v for k, v in CHARGED.items() if k != "currentBalance"}
    verdict = judge(contract.CHARGE, 200, missing, {"amount": 50})
    assert verdict.kind == "failed"
    assert "'currentBalance' is a required property" in verdict.reason
    wrong = {**CHARGED, "currentBalance": 151}
    assert judge(contract.CHARGE, 200, wrong, {"amount": 50}).kind == "failed"


def test_business_rejections_are_counted_by_class() -> None:
    sold_out = judge(contract.ISSUE, 400, {**PROBLEM, "code": "C001"})
    assert (sold_out.kind, sold_out.code) == ("rejected", "C001")
    busy = judge(contract.ORDER, 409, {**PROBLEM, "status": 409, "code": "LOCK001"})
    assert (busy.kind, busy.code) == ("rejected", "LOCK001")


def test_failures() -> None:
    assert judge(contract.ORDER, 503, {**PROBLEM, "code": "DB001"}).kind == "failed"
    assert judge(contract.ORDER, 0, None).kind == "failed"  # timeout / reset
    # A client error the script caused is a failure, not a rejection.
    assert judge(contract.ORDER, 400, {**PROBLEM, "code": "COMMON002"}).kind == "failed"
    # A rejection code outside the request's allowed set is a failure too.
    assert judge(contract.CHARGE, 400, {**PROBLEM, "code": "C001"}).kind == "failed"
    assert judge(contract.ISSUE, 400, {"code": "C001"}).kind == "failed"  # not problem+json


def test_order_arithmetic_and_status() -> None:
    line = {"productId": "p", "productName": "n", "price": 10, "quantity": 2, "subtotal": 20}
    order = {
        "orderId": "1",
        "userId": "u",
        "status": "PAID",
        "items": [line],
        "totalAmount": 20,
        "discountAmount": 5,
        "finalAmount": 15,
        "couponId": None,
        "createdAt": "2026-01-01T00:00:00+00:00",
    }
    assert judge(contract.ORDER, 200, order).kind == "ok"
    assert judge(contract.ORDER, 200, {**order, "status": "PENDING"}).kind == "failed"
    assert judge(contract.ORDER, 200, {**order, "finalAmount": 20}).kind == "failed"
    assert judge(contract.ORDER, 200, {**order, "totalAmount": True}).kind == "failed"
    # Shapes come from the document: a nullable string is not a number, a status is an enum.
    assert judge(contract.ORDER, 200, {**order, "couponId": 7}).kind == "failed"
    assert judge(contract.ORDER, 200, {**order, "status": "LOST"}).kind == "failed"


def test_a_route_the_document_does_not_serve_fails_loudly(document: dict[str, Any]) -> None:
    paths = {k: v for k, v in document["paths"].items() if k != contract.ORDER}
    with pytest.raises(ValueError, match="no POST /api/orders"):
        contract.load({**document, "paths": paths})


def test_an_undeclared_status_is_a_failure() -> None:
    verdict = judge(contract.PRODUCTS, 418, {"code": "TEAPOT"})
    assert verdict.kind == "failed"
    assert "HTTP 418 is not an answer the document declares" in verdict.reason
