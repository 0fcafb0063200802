"""JSON responses, encoded by msgspec straight from the declared output types."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

JSON = "application/json"
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
