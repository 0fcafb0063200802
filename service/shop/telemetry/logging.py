"""structlog: JSON lines to stdout (console rendering on a TTY)."""

from __future__ import annotations

import logging
import sys
from typing import BinaryIO

import orjson
import structlog


class LineLogger:
    """JSON lines into stdout's buffer: info and debug lines leave in batches (flush_logs runs
    every FLUSH_INTERVAL and at shutdown), warnings and errors are flushed at once."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def _buffered(self, message: bytes) -> None:
        self._file.write(message + b"\n")

    def _flushed(self, message: bytes) -> None:
        self._file.write(message + b"\n")
        self._file.flush()

    debug = info = msg = _buffered
    warning = warn = error = critical = exception = fatal = _flushed


FLUSH_INTERVAL = 0.2


def flush_logs() -> None:
    """Write out the buffered log lines."""
    sys.stdout.flush()
    sys.stdout.buffer.flush()


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
        factory = lambda *_: LineLogger(sys.stdout.buffer)  # noqa: E731 - a factory, inline
    structlog.configure(
        processors=[
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
