"""The aiohttp internals the server relies on are still there (docs/decisions/0027).

aiohttp has no public way to answer its parser's refusals as problem+json or to time the
header read, so `api/framework/server.py` uses a few private parts of aiohttp and pyproject.toml
pins aiohttp's minor version. An upgrade that moves one of them fails here, by name.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque

import aiohttp
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from shop.api.framework.server import ProblemRequestHandler, ShopRunner

WHY = f"aiohttp {aiohttp.__version__} moved an internal that api/framework/server.py uses"


async def _ok(request: web.BaseRequest) -> web.Response:  # pragma: no cover - never called
    return web.Response()


async def test_the_request_handler_internals_are_there() -> None:
    server = web.Server(_ok)
    handler = server()
    assert isinstance(handler, RequestHandler), WHY
    # The parsed requests not yet served (message, payload): the header timer watches them.
    assert isinstance(getattr(handler, "_messages", None), deque), WHY
    assert getattr(handler, "_request_in_progress", None) is False, WHY
    assert getattr(handler, "_loop", None) is asyncio.get_running_loop(), WHY
    # What a web.Server hands every RequestHandler it builds.
    assert isinstance(getattr(server, "_kwargs", None), dict), WHY
    assert getattr(server, "_loop", None) is asyncio.get_running_loop(), WHY
    parameters = inspect.signature(RequestHandler.handle_error).parameters
    assert list(parameters) == ["self", "request", "status", "exc", "message"], WHY


async def test_the_runner_builds_its_server_where_the_problem_server_replaces_it() -> None:
    assert inspect.iscoroutinefunction(getattr(web.AppRunner, "_make_server", None)), WHY
    runner = ShopRunner(web.Application())
    await runner.setup()
    try:
        server = runner.server
        assert server is not None
        assert isinstance(server(), ProblemRequestHandler), WHY
    finally:
        await runner.cleanup()
