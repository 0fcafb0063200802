"""The OpenAPI document stays true: generated from the declared types, every route described."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shop.domain.coupons import MAX_COUPON_QUANTITY, MAX_PERCENT
from shop.domain.ids import MAX_ID_LENGTH
from shop.domain.money import MAX_CHARGE, MIN_CHARGE
from shop.domain.orders import MAX_QUANTITY, OrderStatus

from .contract import Contract, ContractViolation


async def _document(client) -> dict:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    return await response.json()


# The HTTP contract as written for people: every "| METHOD `/path` |" row of its tables.
API_CONTRACT = Path(__file__).parents[2] / "docs" / "api.md"
_ROW = re.compile(r"^\| (GET|POST|PATCH|DELETE) `([^`?]+)[^`]*` \|(.*)$", re.MULTILINE)
_SUCCESS = re.compile(r"\| (2\d\d) ")


def _contract() -> dict[tuple[str, str], str]:
    """(method, path) -> success status (200 where the row names none), from docs/api.md."""
    rows = _ROW.findall(API_CONTRACT.read_text())
    assert len(rows) >= 20, "the contract tables of docs/api.md were not found"
    return {
        (method, path): (found.group(1) if (found := _SUCCESS.search(f"|{rest}")) else "200")
        for method, path, rest in rows
    }


async def test_every_endpoint_of_the_contract_is_described_and_served(client) -> None:
    document = await _document(client)
    assert document["openapi"].startswith("3.1")
    for (method, path), status in _contract().items():
        operation = document["paths"].get(path, {}).get(method.lower())
        assert operation is not None, f"{method} {path} is not in the OpenAPI document"
        assert status in operation["responses"], (method, path)
    # Every described operation reaches a handler: the router answers neither "no such
    # resource" nor "method not allowed" for it (placeholders filled with a made-up id).
    for path, operations in document["paths"].items():
        concrete = re.sub(r"{\w+}", "x-1", path)
        for method in operations:
            response = await client.request(method.upper(), concrete, data=b"{}")
            if response.status in (404, 405):
                problem = await response.json()
                assert problem["code"] not in ("COMMON005", "COMMON006"), (method, path)


async def test_every_path_parameter_and_reference_is_declared(client) -> None:
    document = await _document(client)
    for path, operations in document["paths"].items():
        in_path = set(re.findall(r"{(\w+)}", path))
        for operation in operations.values():
            declared = {p["name"] for p in operation["parameters"] if p.get("in") == "path"}
            assert declared == in_path, path
    text = await (await client.get("/api/openapi.json")).text()
    references = set(re.findall(r'"#/components/schemas/(\w+)"', text))
    assert references <= set(document["components"]["schemas"])


async def test_bounds_and_enums_are_the_domains(client) -> None:
    document = await _document(client)
    schemas = document["components"]["schemas"]
    amount = schemas["ChargeRequest"]["properties"]["amount"]
    assert (amount["minimum"], amount["maximum"]) == (MIN_CHARGE, MAX_CHARGE)
    assert schemas["AddCartItem"]["properties"]["quantity"]["maximum"] == MAX_QUANTITY
    assert schemas["CreateCoupon"]["properties"]["totalQuantity"]["maximum"] == MAX_COUPON_QUANTITY
    assert schemas["CreateCoupon"]["then"]["properties"]["discountValue"]["maximum"] == MAX_PERCENT
    assert set(schemas["OrderStatus"]["enum"]) == {s.value for s in OrderStatus}
    [user] = document["paths"]["/api/users/{userId}/balance"]["get"]["parameters"]
    assert user["required"] is True
    assert user["schema"]["maxLength"] == MAX_ID_LENGTH
    listing = document["paths"]["/api/orders"]["get"]["parameters"]
    assert {p["name"]: p["required"] for p in listing} == {
        "userId": True,
        "page": False,
        "limit": False,
        "status": False,
    }


async def test_the_answer_check_refuses_what_the_document_does_not_say(client) -> None:
    contract = Contract(await _document(client))
    json = {"Content-Type": "application/json"}
    contract.check("GET", "/api/users/u/balance", 200, json, b'{"userId": "u", "balance": 1}')
    with pytest.raises(ContractViolation, match="balance"):
        contract.check("GET", "/api/users/u/balance", 200, json, b'{"userId": "u"}')
    with pytest.raises(ContractViolation, match="status not documented"):
        contract.check("GET", "/api/users/u/balance", 418, json, b"{}")
    with pytest.raises(ContractViolation, match="media type"):
        contract.check("GET", "/api/users/u/balance", 200, {"Content-Type": "text/html"}, b"")
    with pytest.raises(ContractViolation, match="Retry-After"):
        contract.check(
            "POST", "/api/orders", 503, {"Content-Type": "application/problem+json"}, b""
        )
