"""The OpenAPI document stays true: every route is described, nothing else is."""

from __future__ import annotations

import re

from shop.api.openapi import SCHEMAS


async def test_document_matches_the_router(client) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    described = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert described == served


async def test_every_path_parameter_and_reference_is_declared(client) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    for path, operations in document["paths"].items():
        in_path = set(re.findall(r"{(\w+)}", path))
        for operation in operations.values():
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == in_path, path
    references = set(re.findall(r'"#/components/schemas/(\w+)"', await _text(client)))
    assert references <= set(SCHEMAS)


async def _text(client) -> str:
    return await (await client.get("/api/openapi.json")).text()


async def test_documented_fields_are_what_the_api_returns(client, factory) -> None:
    user = await factory.user()
    answered = await (await client.get(f"/api/users/{user}/balance")).json()
    assert set(answered) == set(SCHEMAS["Balance"]["properties"])
    receipt = await (
        await client.post(f"/api/users/{user}/balance/charge", json={"amount": 5})
    ).json()
    assert set(receipt) == set(SCHEMAS["ChargeReceipt"]["properties"])
