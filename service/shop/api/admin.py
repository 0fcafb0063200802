"""Handlers and guard for the admin-only endpoints."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..domain.errors import Forbidden, Unauthorized
from ..keys import DEPS, SETTINGS
from ..use_cases.seed import seed_data
from .parsing import body_fields
from .responses import json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_SEED_USERS = 1_000_000


def admin_only(handler: Handler) -> Handler:
    """Let the request through only with `Authorization: Bearer <admin token>`."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("this endpoint needs 'Authorization: Bearer <admin token>'")
        expected = request.app[SETTINGS].admin_token
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise Forbidden("the admin token is wrong")
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


async def seed(request: web.Request) -> web.Response:
    body = await body_fields(request)
    report = await seed_data(
        deps=request.app[DEPS],
        users=body.optional_integer("users", minimum=0, maximum=MAX_SEED_USERS, default=100_000),
        stock=body.optional_integer("stock", minimum=0, maximum=10**12, default=1_000_000),
        coupon_quantity=body.optional_integer(
            "couponQuantity", minimum=1, maximum=10_000_000, default=100_000
        ),
    )
    return json_response(
        {
            "users": report.users,
            "products": report.products,
            "couponQuantity": report.coupon_quantity,
            "seconds": round(report.seconds, 3),
        }
    )
