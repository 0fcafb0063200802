"""The `Idempotency-Key` header on charge, coupon issue and order (docs/api.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from ..domain.idempotency import Answer, check_key, fingerprint
from ..keys import DEPS, ERROR_CODE, IDEMPOTENCY, REPLAYED_ANSWER
from ..use_cases import idempotency
from ..use_cases.deps import Deps
from .problems import PROBLEM_JSON, problem_body, status_and_title
from .responses import JSON

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_sorted = msgspec.json.Encoder(order="sorted")


async def _canonical_body(request: web.Request) -> bytes:
    """The JSON body with sorted keys: a client re-encoding the same object is not refused."""
    raw = await request.read()
    try:
        return _sorted.encode(msgspec.json.decode(raw)) if raw.strip() else b""
    except msgspec.DecodeError:  # pragma: no cover - the router decoded it already
        return raw


async def respond_once(
    request: web.Request,
    *,
    user_id: str,
    effect: Callable[[Deps], Awaitable[object]],
    render: Callable[[Any], bytes],
    status: int,
) -> web.Response:
    """Run the effect at most once per key, answering every retry as the first time."""
    keyed = idempotency.KeyedRequest(
        user_id=user_id,
        key=check_key(request.headers[HEADER]),
        fingerprint=fingerprint(request.method, request.path, await _canonical_body(request)),
    )
    answer = await idempotency.once(
        deps=request.app[DEPS],
        policy=request.app[IDEMPOTENCY],
        request=keyed,
        effect=effect,
        render=lambda result: Answer(status=status, body=render(result)),
        reject=lambda error: Answer(
            status=status_and_title(error)[0],
            body=problem_body(error, instance=request.path, trace_id=None),
        ),
    )
    failed = answer.status >= 400
    request[REPLAYED_ANSWER] = answer.replayed
    if failed:
        request[ERROR_CODE] = str(msgspec.json.decode(answer.body).get("code", answer.status))
    return web.Response(
        body=answer.body,
        status=answer.status,
        content_type=PROBLEM_JSON if failed else JSON,
        charset="utf-8",
        headers={REPLAYED: "true"} if answer.replayed else None,
    )
