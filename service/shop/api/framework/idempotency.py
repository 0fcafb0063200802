"""The `Idempotency-Key` header on charge, coupon issue and order (docs/api.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from aiohttp import web

from ...domain.errors import ShopError
from ...domain.idempotency import check_key, fingerprint
from ...keys import DECIDED_AT, DEPS, IDEMPOTENCY, REPLAYED_ANSWER
from ...use_cases import idempotency
from ...use_cases.seals import KeyedRequest, Seal

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
T = TypeVar("T")
_sorted = msgspec.json.Encoder(order="sorted")


async def keyed_request(request: web.Request, user_id: str) -> KeyedRequest:
    """The key a request carries, and what makes a retry of it "the same request"."""
    raw = await request.read()
    try:  # sorted keys: a client re-encoding the same object is not refused
        canonical = _sorted.encode(msgspec.json.decode(raw)) if raw.strip() else b""
    except msgspec.DecodeError:  # pragma: no cover - the router decoded it already
        canonical = raw
    return KeyedRequest(
        user_id=user_id,
        key=check_key(request.headers[HEADER]),
        fingerprint=fingerprint(request.method, request.path, canonical),
    )


async def answer_once(
    request: web.Request,
    keyed: KeyedRequest,
    effect: Callable[[Seal], Awaitable[T]],
    result_type: type[T],
) -> T:
    """The use case's result for this key, the first time and on every retry; a stored
    refusal is raised, and the middleware renders it with the instant it was decided."""
    reply = await idempotency.once(
        deps=request.app[DEPS],
        policy=request.app[IDEMPOTENCY],
        request=keyed,
        effect=effect,
        result_type=result_type,
    )
    request[REPLAYED_ANSWER] = reply.replayed
    if isinstance(reply.result, ShopError):
        request[DECIDED_AT] = reply.at  # its problem carries that instant, replay or not
        raise reply.result
    return reply.result


def replay_headers(request: web.Request) -> dict[str, str]:
    """What marks an answer given again from the stored outcome."""
    return {REPLAYED: "true"} if request.get(REPLAYED_ANSWER) else {}
