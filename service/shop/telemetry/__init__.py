"""Metrics, traces and logs: every telemetry name is defined here once."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import baggage, propagate, trace
from opentelemetry.trace import SpanKind

from .metrics import Metrics
from .tracing import exemplar

# The span of code that runs without a tracer: shared, as nullcontext keeps no state.
NO_SPAN = nullcontext()


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
            return NO_SPAN
        return self.tracer.start_as_current_span(name, kind=kind, attributes=attributes)

    def server_span(
        self, name: str, headers: Mapping[str, str], attributes: dict[str, Any]
    ) -> AbstractContextManager[Any]:
        """A request's span, continuing the caller's trace when it sent a W3C `traceparent`.

        A caller's `synthetic` baggage entry (the load generators send one) is copied onto the
        span, so a trace from a load test never passes for a customer's.
        """
        if not self.tracing:
            return NO_SPAN
        parent = propagate.extract(headers) if "traceparent" in headers else None
        synthetic = baggage.get_baggage("synthetic", parent) if parent is not None else None
        if synthetic is not None:
            attributes = {**attributes, "shop.synthetic": str(synthetic)}
        return self.tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )

    def redis_span(self, operation: str) -> AbstractContextManager[Any]:
        """A client span around one Redis operation."""
        if not self.tracing:
            return NO_SPAN
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
