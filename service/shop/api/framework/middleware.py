"""The middleware: telemetry around every request, and errors to problem+json (once)."""

from __future__ import annotations

import random
import time

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry.trace import Status, StatusCode

from ...domain.errors import ShopError
from ...keys import ACCESS_LOG, DECIDED_AT, ERROR_CODE, REPLAYED_ANSWER, TELEMETRY, TRACE_ID
from ...telemetry import NO_SPAN
from ...telemetry.logging import get_logger
from ...telemetry.tracing import current_ids, exemplar
from .http_errors import BodyTooLarge, MalformedRequest, MethodNotAllowed, RouteNotFound
from .idempotency import replay_headers
from .problems import problem_response

log = get_logger("shop.http")
# The methods HTTP defines (RFC 9110); anything else is counted as `_OTHER` (OpenTelemetry's name).
METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
# Business outcomes per route: "success" or the error code (a bounded set).
_OUTCOMES = {
    ("POST", "/api/orders"): "orders",
    ("POST", "/api/coupons/{couponId}/issue"): "coupon_issues",
    ("POST", "/api/users/{userId}/balance/charge"): "balance_charges",
}


def route_template(request: web.Request) -> str:
    """The matched route's template (bounded), never the raw path (unbounded ids)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _request_id() -> str:
    """A trace-id-shaped id for requests that are not traced (no syscall, unlike secrets)."""
    return f"{random.getrandbits(128):032x}"


@web.middleware
async def telemetry(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Telemetry around every request, and its errors as problem+json (one middleware doing
    both: each layer costs every request a call through aiohttp's middleware chain)."""
    tel = request.app[TELEMETRY]
    route = route_template(request)
    # Each request runs in a task of its own, on a copy of its connection's context (where
    # nothing is bound), so no clearing is needed: what is bound here reaches every log line
    # the request causes (pool_exhausted, lock_timeout, lease_lost), and no other request's.
    if not tel.enabled:
        request[TRACE_ID] = trace_id = _request_id()
        structlog.contextvars.bind_contextvars(route=route, trace_id=trace_id)
        return await _answer(request, handler)
    metrics = tel.metrics
    # A label from a bounded set: aiohttp's parser accepts any token as a method.
    method = request.method if request.method in METHODS else "_OTHER"
    started = time.perf_counter()
    metrics.active[method] += 1
    status = 500
    span_cm = (
        tel.server_span(
            f"{method} {route}",
            request.headers,
            {"http.request.method": method, "http.route": route},
        )
        if tel.tracing
        else NO_SPAN
    )
    try:
        with span_cm as span:
            ids = current_ids() if span is not None else None
            request[TRACE_ID] = trace_id = ids[0] if ids else _request_id()
            structlog.contextvars.bind_contextvars(route=route, trace_id=trace_id)
            response = await _answer(request, handler)
            status = response.status
            if span is not None:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            metrics.child(metrics.http_duration, method, route, str(status)).observe(
                time.perf_counter() - started, exemplar() if ids else None
            )
    finally:
        metrics.active[method] -= 1
    counter = _OUTCOMES.get((method, route))
    if counter is not None:
        if request.get(REPLAYED_ANSWER):
            outcome = "replayed"  # the first answer already counted this effect
        elif status < 400:
            outcome = "success"
        else:
            outcome = request.get(ERROR_CODE, str(status))
        metrics.child(getattr(metrics, counter), outcome).inc()
    request.app[ACCESS_LOG].info(
        "request",
        method=method,
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        span_id=ids[1] if ids else None,
    )
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler's response, or its error mapped to problem+json (once, here)."""
    try:
        return await handler(request)
    except ShopError as error:
        request[ERROR_CODE] = error.code
        return problem_response(
            error,
            instance=request.path,
            at=request.get(DECIDED_AT),
            headers=replay_headers(request),
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        mapped = _from_aiohttp(exc, request)
        request[ERROR_CODE] = mapped.code
        return problem_response(mapped, instance=request.path)
    except Exception:
        trace_id = request.get(TRACE_ID)
        log.exception("unhandled_error")  # route and trace id come from the context
        request[ERROR_CODE] = ShopError.code
        return problem_response(
            ShopError(f"internal error; quote trace id {trace_id} when reporting it"),
            instance=request.path,
            trace_id=trace_id,
        )


def _from_aiohttp(exc: web.HTTPException, request: web.Request) -> ShopError:
    """aiohttp's own refusals (router, body limit) as the shop's errors."""
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = set(exc.allowed_methods)
        return MethodNotAllowed(f"{request.method} is not allowed here", allowed)
    if isinstance(exc, web.HTTPNotFound):
        return RouteNotFound(f"no resource at {request.path}")
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return BodyTooLarge(exc.text or exc.reason)
    return MalformedRequest(exc.reason)
