"""Handlers: liveness and readiness."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from ..keys import DATABASE, REDIS, TELEMETRY
from .responses import json_response

READY_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text, or OpenMetrics (which carries exemplars) when the scraper asks."""
    registry = request.app[TELEMETRY].metrics.registry
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encoder(registry), headers={"Content-Type": content_type})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await request.app[DATABASE].ping()
        checks["mysql"] = "ok"
    except Exception as exc:
        checks["mysql"] = f"error: {type(exc).__name__}: {exc}"
    redis = request.app.get(REDIS)
    if redis is not None:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}: {exc}"
    ready = all(value == "ok" for value in checks.values())
    return json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
