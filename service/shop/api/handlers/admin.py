"""Handlers and guard for the admin-only endpoints."""

from __future__ import annotations

import functools
import hashlib
import hmac

from aiohttp import web
from aiohttp.typedefs import Handler

from ...keys import DEPS, SETTINGS
from ...use_cases.seed import seed_data
from ..framework.endpoint import Call
from ..framework.http_errors import Forbidden, Unauthorized
from ..types.inputs import NoInput, SeedRequest
from ..types.outputs import SeedReport


def admin_only(handler: Handler) -> Handler:
    """Let the request through only with `Authorization: Bearer <admin token>`."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("this endpoint needs 'Authorization: Bearer <admin token>'")
        expected = request.app[SETTINGS].admin_token
        # Digests first: compare_digest on equal lengths does not even leak the token's length.
        given = hashlib.sha256(token.strip().encode()).digest()
        if not hmac.compare_digest(given, hashlib.sha256(expected.encode()).digest()):
            raise Forbidden("the admin token is wrong")
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
