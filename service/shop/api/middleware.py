"""The two middlewares: errors to problem+json (once, here) and one log line per request."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..domain.errors import (
    BodyTooLarge,
    InvalidInput,
    MethodNotAllowed,
    RouteNotFound,
    ShopError,
)
from ..keys import TRACE_ID, USER_ID
from ..telemetry.logging import get_logger
from .responses import problem_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = get_logger("shop.http")

_HTTP_ERRORS: dict[int, type[ShopError]] = {
    404: RouteNotFound,
    405: MethodNotAllowed,
    413: BodyTooLarge,
}


def route_template(request: web.Request) -> str:
    """The matched route's template (bounded), never the raw path (unbounded ids)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    request[TRACE_ID] = secrets.token_hex(16)
    response = await handler(request)
    log.info(
        "request",
        method=request.method,
        route=route_template(request),
        status=response.status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        user_id=request.get(USER_ID),
        trace_id=request[TRACE_ID],
    )
    return response


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ShopError as error:
        return problem_response(error, instance=request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kind = _HTTP_ERRORS.get(exc.status)
        mapped = kind(exc.reason) if kind else InvalidInput(exc.reason)
        if kind is None:
            mapped.status = exc.status
        return problem_response(mapped, instance=request.path)
    except Exception:
        trace_id = request.get(TRACE_ID)
        log.exception("unhandled_error", route=route_template(request), trace_id=trace_id)
        return problem_response(
            ShopError(f"internal error; quote trace id {trace_id} when reporting it"),
            instance=request.path,
            trace_id=trace_id,
        )
