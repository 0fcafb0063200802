"""JSON and problem+json responses (orjson: several times faster than json for our payloads)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from ..domain.errors import ShopError

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


def json_response(payload: Any, *, status: int = 200) -> web.Response:
    """A JSON body; datetimes render as ISO-8601 with their offset."""
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type=JSON, charset="utf-8"
    )


def problem_body(error: ShopError, *, instance: str, trace_id: str | None = None) -> bytes:
    """RFC 9457 problem details, carrying the original API's `code` and `message` too."""
    body: dict[str, Any] = {
        "type": f"https://shop.example/problems/{error.code.lower()}",
        "title": error.title,
        "status": error.status,
        "detail": error.message,
        "instance": instance,
        "code": error.code,
        "message": error.message,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    if trace_id:
        body["traceId"] = trace_id
    return orjson.dumps(body)


def problem_response(
    error: ShopError, *, instance: str, trace_id: str | None = None
) -> web.Response:
    """The problem+json answer for `error`, with `Retry-After` when it says when to retry."""
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    challenge = getattr(error, "challenge", None)
    if challenge is not None:  # RFC 9110: a 401 says which scheme it wants
        headers["WWW-Authenticate"] = challenge
    return web.Response(
        body=problem_body(error, instance=instance, trace_id=trace_id),
        status=error.status,
        content_type=PROBLEM_JSON,
        charset="utf-8",
        headers=headers,
    )
