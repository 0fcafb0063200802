"""Per-client limits: a client over its budget gets 429 before any work is done for it.

User routes count against the user (the bearer token's; the claimed `userId` when
SHOP_AUTH=off), everything else against the client address; probes, `/metrics` and admin
routes are exempt. Every limited answer carries the IETF RateLimit fields
(draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "user";q=40;w=2`,
`RateLimit: "user";r=12;t=1`), and a refusal `Retry-After`. This is the per-client answer;
overload of the whole process (503) is admission control's, not this module's.
"""

from __future__ import annotations

import math
import time
from functools import cache

from aiohttp import web
from aiohttp.typedefs import Handler

from ...domain.errors import AuthenticationRequired
from ...domain.rate_limits import ADDRESS, USER, Decision, Policy
from ...keys import (
    RATE_LIMIT,
    RATE_LIMITER,
    RATE_POLICIES,
    ROUTE_LIMITS,
    SETTINGS,
    TELEMETRY,
)
from .auth import authenticate
from .http_errors import TooManyRequests
from .middleware import route_template


@web.middleware
async def rate_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    limiter = request.app.get(RATE_LIMITER)
    if limiter is None:
        return await handler(request)
    kind = request.app[ROUTE_LIMITS].get((request.method, route_template(request)), ADDRESS)
    if not kind:
        return await handler(request)
    client = _user(request) if kind == USER else None
    if client is None:
        kind, client = ADDRESS, client_address(request)
    policy = request.app[RATE_POLICIES][kind]
    decision = await limiter.admit(client, policy, time.time())
    request[RATE_LIMIT] = (policy, decision)
    if not decision.allowed:
        metrics = request.app[TELEMETRY].metrics
        metrics.child(metrics.rate_limited, kind).inc()
        raise TooManyRequests(
            f"more than {policy.burst} requests at once or {policy.rate:g} a second from this"
            f" {kind}",
            retry_after=max(1, math.ceil(decision.retry_after)),
        )
    return await handler(request)


async def add_rate_limit_fields(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the RateLimit fields on every answer a limit was checked for."""
    counted = request.get(RATE_LIMIT)
    if counted is not None:
        response.headers.update(rate_limit_fields(*counted))


def rate_limit_fields(policy: Policy, decision: Decision) -> dict[str, str]:
    """The IETF RateLimit-Policy and RateLimit fields of one decision."""
    name = f'"{policy.name}"'
    return {
        "RateLimit-Policy": f"{name};q={policy.burst};w={max(1, math.ceil(policy.window))}",
        "RateLimit": f"{name};r={decision.remaining};t={math.ceil(decision.reset)}",
    }


def _user(request: web.Request) -> str | None:
    """The user a user route's request counts against (None: count it by address)."""
    if request.app[SETTINGS].auth == "required":
        # Only a valid token names a user: a forged one is counted, and then refused, by address.
        try:
            return authenticate(request)
        except AuthenticationRequired:
            return None
    return request.match_info.get("userId") or request.query.get("userId") or None


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or the last X-Forwarded-For hop a trusted proxy added."""
    peer = request.remote or ""
    if peer in _trusted(request.app[SETTINGS].trusted_proxies):
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        return forwarded or peer
    return peer


@cache
def _trusted(proxies: str) -> frozenset[str]:
    return frozenset(p.strip() for p in proxies.split(",") if p.strip())
