"""The HTTP server: aiohttp's, with the limits a hostile client meets and problem+json refusals.

aiohttp answers what its parser refuses (an over-long request line or header, too many headers,
a garbled request) itself, as plain text, before any middleware runs. `ProblemRequestHandler`
answers those as problem+json instead, and gives a client a bounded time to send its headers
(the body has its own bound, in `decoding.py`): a slow client gets 408, not a held connection.
`ShopRunner` is aiohttp's AppRunner serving connections with that handler; `run()` is
`web.run_app` with that runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ...domain.errors import ShopError
from ...keys import ARRIVED_AT, SETTINGS
from ...telemetry.logging import get_logger
from .http_errors import HeadersTooLarge, MalformedRequest, RequestTimeout
from .problems import PROBLEM_JSON, problem_body, status_and_title
from .responses import SECURITY_HEADERS

log = get_logger("shop.http")

# Request line and each header field (aiohttp's defaults), and how many header fields.
MAX_REQUEST_LINE = 8190
MAX_HEADER_FIELD = 8190
MAX_HEADERS = 100
# Seconds an idle kept-alive connection is held, unless the app's settings say otherwise.
KEEPALIVE_TIMEOUT = 75.0
# Seconds a client gets to send a request's headers once it has started one.
HEADER_TIMEOUT = 10.0
# Connections the kernel holds complete but not yet accepted. aiohttp's 128 overflowed when a
# crowd's clients connected at once: the kernel dropped their handshakes, the clients resent
# them 1 s and 3 s later, and those seconds were every such client's first latency, before the
# shop (or its admission gate) could see the request. Queued instead, they wait milliseconds
# for the event loop's next accept (the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG = 1024


def refusal_of(exc: BaseException | None, status: int) -> ShopError:
    """What aiohttp's parser refused, as the shop's error."""
    if isinstance(exc, LineTooLong):
        limit = exc.args[1] if len(exc.args) > 1 else MAX_HEADER_FIELD
        return HeadersTooLarge(f"the request line or a header field is longer than {limit} bytes")
    if isinstance(exc, BadHttpMessage) and "Too many headers" in exc.message:
        return HeadersTooLarge(f"more than {MAX_HEADERS} header fields")
    if status < 500:
        message = exc.message if isinstance(exc, BadHttpMessage) else "malformed request"
        return MalformedRequest(message)
    return ShopError("internal error")


class ProblemRequestHandler(RequestHandler):
    """One connection: aiohttp's protocol, refusing in problem+json and timing header reads."""

    def __init__(
        self, *args: Any, header_timeout: float, stamp_arrivals: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._last_payload: Any = None  # the body stream of the last request parsed
        # When each parsed request's head arrived, in parse order (aiohttp serves them in it):
        # the admission gate refuses at once a request that already waited past its deadline.
        # None without a gate: nobody reads the stamp, and every request would pay for it.
        self._arrivals: deque[float] | None = deque() if stamp_arrivals else None
        if self._arrivals is None:
            return
        arrivals = self._arrivals
        make_request: Any = self._request_factory  # set by the server that built this handler

        def stamped(message: Any, payload: Any, *args: Any) -> BaseRequest:
            request: BaseRequest = make_request(message, payload, *args)
            if arrivals:
                request[ARRIVED_AT] = arrivals.popleft()
            return request

        self._request_factory = stamped

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # an answer is half sent: aiohttp drops the link
            return super().handle_error(request, status, exc, message)
        error = refusal_of(exc, status)
        if status >= 500:
            log.error("unhandled_error", exc_info=exc)
        response = web.Response(
            body=problem_body(error, instance=None, trace_id=None),
            status=status_and_title(error)[0],
            content_type=PROBLEM_JSON,
            charset="utf-8",
            headers=SECURITY_HEADERS,
        )
        response.force_close()
        return response

    def data_received(self, data: bytes) -> None:
        # Bytes arriving while no request is open start one: its headers must follow in time.
        if self._header_timer is None and (
            self._last_payload is None or self._last_payload.is_eof()
        ):
            self._header_timer = self._loop.call_later(self._header_timeout, self._too_slow)
        messages = self._messages
        before = len(messages)
        super().data_received(data)
        if len(messages) > before:
            if self._arrivals is not None:
                now = time.monotonic()
                self._arrivals.extend(now for _ in range(len(messages) - before))
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            self._last_payload = messages[-1][1]

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.transport is None:
            return
        if self._request_in_progress:  # a pipelined request waits for the one being served
            self._header_timer = self._loop.call_later(self._header_timeout, self._too_slow)
            return
        error = RequestTimeout(
            f"the request headers did not arrive within {self._header_timeout:g} s"
        )
        body = problem_body(error, instance=None, trace_id=None)
        head = (
            "HTTP/1.1 408 Request Timeout\r\n"
            f"Content-Type: {PROBLEM_JSON}; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS.items())
            + "Connection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.force_close()


class _ProblemServer(web.Server):
    header_timeout = HEADER_TIMEOUT
    stamp_arrivals = True

    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(
            self,
            loop=self._loop,
            header_timeout=self.header_timeout,
            stamp_arrivals=self.stamp_arrivals,
            **self._kwargs,
        )


class ShopRunner(web.AppRunner):
    """aiohttp's AppRunner, serving with the limits above and problem+json refusals."""

    def __init__(
        self, app: web.Application, *, header_timeout: float = HEADER_TIMEOUT, **kwargs: Any
    ) -> None:
        settings = app.get(SETTINGS)
        kwargs.setdefault(
            "keepalive_timeout",
            KEEPALIVE_TIMEOUT if settings is None else settings.keepalive_timeout,
        )
        kwargs.setdefault("max_line_size", MAX_REQUEST_LINE)
        kwargs.setdefault("max_field_size", MAX_HEADER_FIELD)
        kwargs.setdefault("max_headers", MAX_HEADERS)
        super().__init__(app, **kwargs)
        self._header_timeout = header_timeout
        # Arrival stamps are the admission gate's; without it (SHOP_ADMISSION=off) none are taken.
        self._stamp_arrivals = settings is None or settings.admission == "on"

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # Same server, one method different: which protocol class serves each connection.
        server.__class__ = _ProblemServer
        server.header_timeout = self._header_timeout  # type: ignore[attr-defined]
        server.stamp_arrivals = self._stamp_arrivals  # type: ignore[attr-defined]
        return server


def run(
    app: web.Application,
    *,
    host: str,
    port: int,
    loop: asyncio.AbstractEventLoop,
    shutdown_timeout: float,
    header_timeout: float = HEADER_TIMEOUT,
    reuse_port: bool = False,
    admin_port: int = 0,
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully (what `web.run_app` does)."""

    async def serve() -> None:
        runner = ShopRunner(
            app,
            handle_signals=True,
            access_log=None,
            shutdown_timeout=shutdown_timeout,
            header_timeout=header_timeout,
        )
        await runner.setup()
        # Everything built so far (modules, routes, the app's resources) lives as long as the
        # process: frozen out of the collector, a full collection no longer walks all of it
        # again (docs/decisions/0054-the-request-path-cost.md).
        gc.freeze()
        try:
            await web.TCPSite(
                runner, host, port, reuse_port=reuse_port, backlog=LISTEN_BACKLOG
            ).start()
            if admin_port:
                await web.TCPSite(runner, host, admin_port, reuse_port=reuse_port).start()
            await asyncio.Event().wait()  # a signal raises GracefulExit here
        finally:
            await runner.cleanup()

    asyncio.set_event_loop(loop)
    main = loop.create_task(serve())
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not main.done():
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(main)
        _cancel(asyncio.all_tasks(loop), loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _cancel(tasks: Sequence[asyncio.Task[Any]] | set[asyncio.Task[Any]], loop: Any) -> None:
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
