"""Metrics, traces and logs: every telemetry name is defined here once."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from .metrics import Metrics
from .tracing import exemplar

_NO_SPAN = nullcontext()  # reusable: nullcontext keeps no state


@dataclass(frozen=True, slots=True)
class Telemetry:
    """What instrumented code records into: one per app."""

    metrics: Metrics
    tracer: trace.Tracer
    enabled: bool = True
    # False for the no-op tracer, so hot paths skip span bookkeeping entirely (a plain field:
    # it is read several times per request).
    tracing: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracing", not isinstance(self.tracer, trace.NoOpTracer))

    def span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: dict[str, Any] | None = None,
    ) -> AbstractContextManager[Any]:
        """`name` as the current span, or a shared no-op (yielding None) when tracing is off."""
        if not self.tracing:
            return _NO_SPAN
        return self.tracer.start_as_current_span(name, kind=kind, attributes=attributes)

    def redis_span(self, operation: str) -> AbstractContextManager[Any]:
        """A client span around one Redis operation."""
        if not self.tracing:
            return _NO_SPAN
        return self.span(
            f"redis.{operation}",
            kind=SpanKind.CLIENT,
            attributes={"db.system": "redis", "db.operation.name": operation},
        )

    def exemplar(self) -> dict[str, str] | None:
        """The current trace as exemplar labels; None (and no lookup) when tracing is off."""
        return exemplar() if self.tracing else None

    @classmethod
    def disabled(cls) -> Telemetry:
        """Instruments that nobody scrapes and a no-op tracer (tools, overhead benchmarks)."""
        return cls(metrics=Metrics(), tracer=trace.NoOpTracer(), enabled=False)
