"""Metrics, traces and logs: every telemetry name is defined here once."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry import trace

from .metrics import Metrics


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

    @classmethod
    def disabled(cls) -> Telemetry:
        """Instruments that nobody scrapes and a no-op tracer (tools, overhead benchmarks)."""
        return cls(metrics=Metrics(), tracer=trace.NoOpTracer(), enabled=False)
