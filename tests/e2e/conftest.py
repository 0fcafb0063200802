"""Helpers for the HTTP tests."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse


async def problem(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """Assert a problem+json answer with the given status and code; return its body."""
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["code"] == code, body
    assert body["status"] == status
    for key in ("type", "title", "detail", "message", "timestamp"):
        assert body[key], key
    return body
