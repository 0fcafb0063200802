"""Handlers: liveness, readiness, metrics and this API's own description."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from ...keys import MYSQL_PROBE, OPENAPI, REDIS, TELEMETRY
from ...use_cases.ports import Probe
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
    """Ready (200) while this process serves and MySQL answers a connection of the probe's own;
    Redis and the request pool are reported, and only degrade the status to `degraded`: the
    features that need them answer their own 503s, the rest of the API keeps serving
    (docs/operations.md, "Liveness and readiness")."""
    app = call.request.app
    mysql = app[MYSQL_PROBE]
    checks = {"mysql": await _check(mysql), "pool": mysql.pool()}
    redis = app.get(REDIS)
    if redis is not None:
        checks["redis"] = await _check(redis)
    if checks["mysql"] != "ok":
        return json_response(Health("unavailable", checks), status=503)
    degraded = checks.get("redis", "ok") != "ok"
    return json_response(Health("degraded" if degraded else "ready", checks))


async def _check(probe: Probe) -> str:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await probe.ping()
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"
