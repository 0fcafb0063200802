"""Handlers and guard for the admin-only endpoints."""

from __future__ import annotations

import functools

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from ...keys import ADMINS, DEPS, SETTINGS
from ...telemetry.logging import get_logger
from ...use_cases.seed import seed_data
from ..framework.endpoint import Call
from ..framework.http_errors import Forbidden, RouteNotFound, Unauthorized
from ..types.inputs import NoInput, SeedRequest
from ..types.outputs import SeedReport

log = get_logger("shop.admin")


def admin_only(handler: Handler, scope: str) -> Handler:
    """Let the request through only with `Authorization: Bearer <credential>` holding `scope`;
    log every attempt past the token check with its actor and outcome."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("this endpoint needs 'Authorization: Bearer <admin credential>'")
        admin = request.app[ADMINS].identify(token)
        if admin is None:
            raise Forbidden("the admin credential is wrong")
        structlog.contextvars.bind_contextvars(actor=admin.actor)
        if scope not in admin.scopes:
            log.warning("admin_refused", scope=scope, method=request.method)
            raise Forbidden(f"the credential of {admin.actor} does not hold the {scope} scope")
        if scope == "incidents" and request.app[SETTINGS].incidents == "off":
            log.warning("admin_refused", scope=scope, method=request.method)
            raise Forbidden("incident switches are off here (SHOP_INCIDENTS=on enables them)")
        try:
            response = await handler(request)
        except Exception as exc:
            log.warning(
                "admin_action", scope=scope, method=request.method, outcome=type(exc).__name__
            )
            raise
        log.warning("admin_action", scope=scope, method=request.method, status=response.status)
        return response

    return guarded


def admin_listener_only(handler: Handler, port: int) -> Handler:
    """Answer only on the admin listener (`port`); elsewhere the route does not exist."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        where = request.transport.get_extra_info("sockname") if request.transport else None
        if not where or where[1] != port:
            raise RouteNotFound(f"no resource at {request.path}")
        return await handler(request)

    return guarded


async def seed(call: Call[NoInput, NoInput, SeedRequest]) -> SeedReport:
    body = call.body
    report = await seed_data(
        deps=call.request.app[DEPS],
        users=body.users,
        stock=body.stock,
        coupon_quantity=body.coupon_quantity,
    )
    return SeedReport(
        report.users, report.products, report.coupon_quantity, round(report.seconds, 3)
    )
