"""The `Idempotency-Key` header on charge, coupon issue and order (docs/api.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from ..domain.idempotency import check_key, fingerprint
from ..keys import DEPS, ERROR_CODE, IDEMPOTENCY
from ..use_cases import idempotency
from ..use_cases.deps import Deps
from .responses import JSON, PROBLEM_JSON, json_response, problem_body

T = TypeVar("T")
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


async def _canonical_body(request: web.Request) -> bytes:
    """The JSON body with sorted keys: a client re-encoding the same object is not refused."""
    raw = await request.read()
    try:
        return orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:  # pragma: no cover - the handler parsed it already
        return raw


async def respond_once(
    request: web.Request,
    *,
    user_id: str,
    effect: Callable[[Deps], Awaitable[T]],
    render: Callable[[T], Any],
) -> web.Response:
    """Run the effect; with an Idempotency-Key, at most once, answering every retry alike."""
    deps = request.app[DEPS]
    raw_key = request.headers.get(HEADER)
    if raw_key is None:
        return json_response(render(await effect(deps)))
    keyed = idempotency.KeyedRequest(
        user_id=user_id,
        key=check_key(raw_key),
        fingerprint=fingerprint(request.method, request.path, await _canonical_body(request)),
    )

    answer = await idempotency.once(
        deps=deps,
        policy=request.app[IDEMPOTENCY],
        request=keyed,
        effect=effect,
        render=lambda result: orjson.dumps(render(result)),
        reject=lambda error: problem_body(error, instance=request.path),
    )
    failed = answer.status >= 400
    if failed:
        request[ERROR_CODE] = str(orjson.loads(answer.body).get("code", answer.status))
    return web.Response(
        body=answer.body,
        status=answer.status,
        content_type=PROBLEM_JSON if failed else JSON,
        charset="utf-8",
        headers={REPLAYED: "true"} if answer.replayed else None,
    )
