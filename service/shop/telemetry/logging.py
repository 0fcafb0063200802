"""structlog: JSON lines to stdout (console rendering on a TTY)."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys

import orjson
import structlog

FLUSH_INTERVAL = 0.2
MAX_PENDING = 1024
# Lines waiting for the next flush: one write per FLUSH_INTERVAL instead of one per request.
_pending: list[bytes] = []


def flush_logs() -> None:
    """Write out the buffered log lines (every FLUSH_INTERVAL, and at shutdown)."""
    if _pending:
        lines = b"".join(_pending)
        _pending.clear()
        sys.stdout.buffer.write(lines)
    sys.stdout.buffer.flush()


async def flush_periodically() -> None:
    """Flush the buffered lines every FLUSH_INTERVAL, forever (and once more when cancelled)."""
    try:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            flush_logs()
    finally:
        flush_logs()


class LineLogger:
    """JSON lines to stdout: info and debug lines leave in batches, warnings and errors at
    once (with whatever was pending, so the order holds)."""

    def _buffered(self, message: bytes) -> None:
        _pending.append(message + b"\n")
        if len(_pending) >= MAX_PENDING:
            flush_logs()

    def _flushed(self, message: bytes) -> None:
        _pending.append(message + b"\n")
        flush_logs()

    debug = info = msg = _buffered
    warning = warn = error = critical = exception = fatal = _flushed


_LINE_LOGGER = LineLogger()


def configure_logging(level: str = "INFO") -> None:
    """Set up structlog once per process; safe to call again (tests build many apps)."""
    renderer: structlog.typing.Processor
    if sys.stdout.isatty():
        renderer = structlog.dev.ConsoleRenderer()
        factory: structlog.typing.WrappedLogger = structlog.PrintLoggerFactory()
    else:
        renderer = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        # A write syscall per request line costs more than the rest of the log line; batching
        # risks at most FLUSH_INTERVAL of info lines on a hard crash.
        factory = lambda *_: _LINE_LOGGER  # noqa: E731 - a factory, inline
    atexit.unregister(flush_logs)  # once per process, however many apps a test run builds
    atexit.register(flush_logs)
    structlog.configure(
        processors=[
            # route, trace_id and user_id, bound once per request by the HTTP layer
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A bound logger tagged with the module's name."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(logger_name=name)
    return logger
