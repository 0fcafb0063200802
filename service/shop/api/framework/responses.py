"""JSON responses, encoded by msgspec straight from the declared output types."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

JSON = "application/json"
# On every answer: user data (balances, orders, tokens) must not stay in a shared or browser
# cache, and no browser may read an answer as anything but its declared type.
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_encoder = msgspec.json.Encoder()


def json_response(
    payload: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON body from output types, lists of them or plain JSON values."""
    return web.Response(
        body=_encoder.encode(payload),
        status=status,
        content_type=JSON,
        charset="utf-8",
        headers=headers or None,
    )


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the security headers on every answer the application gives."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
