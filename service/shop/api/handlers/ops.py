"""Handlers: liveness, readiness, metrics and this API's own description."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from ...keys import DATABASE, OPENAPI, REDIS, TELEMETRY
from ..framework.endpoint import Call
from ..framework.responses import json_response
from ..types.inputs import NoInput
from ..types.outputs import Health

READY_TIMEOUT = 2.0


async def healthz(call: Call[NoInput, NoInput, NoInput]) -> Health:
    return Health("ok")


async def metrics(call: Call[NoInput, NoInput, NoInput]) -> web.StreamResponse:
    """Prometheus text, or OpenMetrics (which carries exemplars) when the scraper asks."""
    # prometheus-client negotiates the format (and gzip) itself; the registry is the app's own.
    expose = make_aiohttp_handler(call.request.app[TELEMETRY].metrics.registry)
    return await expose(call.request)


async def openapi(call: Call[NoInput, NoInput, NoInput]) -> web.StreamResponse:
    """The OpenAPI document, built once at start-up."""
    return json_response(call.request.app[OPENAPI])


async def readyz(call: Call[NoInput, NoInput, NoInput]) -> web.StreamResponse:
    app = call.request.app
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await app[DATABASE].ping()
        checks["mysql"] = "ok"
    except Exception as exc:
        checks["mysql"] = f"error: {type(exc).__name__}: {exc}"
    redis = app.get(REDIS)
    if redis is not None:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}: {exc}"
    ready = all(value == "ok" for value in checks.values())
    return json_response(
        Health("ready" if ready else "unavailable", checks), status=200 if ready else 503
    )
