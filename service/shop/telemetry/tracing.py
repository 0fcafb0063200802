"""OpenTelemetry traces: off unless an OTLP endpoint (or a test exporter) is configured."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

from .. import __version__

TRACER_NAME = "shop"


def build_tracer_provider(
    *,
    sample_ratio: float,
    otlp_endpoint: str | None = None,
    otlp_traces_endpoint: str | None = None,
    exporter: SpanExporter | None = None,
) -> TracerProvider | None:
    """A provider exporting to `exporter` (tests) or to OTLP when an endpoint is set.

    As the OpenTelemetry variables mean it: the traces endpoint is used as it is, the general
    one gets `/v1/traces` appended.
    """
    processor: SimpleSpanProcessor | BatchSpanProcessor
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)
    elif otlp_traces_endpoint or otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_traces_endpoint or f"{str(otlp_endpoint).rstrip('/')}/v1/traces"
        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))
    else:
        return None
    provider = TracerProvider(
        sampler=ParentBasedTraceIdRatio(sample_ratio),
        resource=Resource.create({"service.name": "shop", "service.version": __version__}),
    )
    provider.add_span_processor(processor)
    return provider


def tracer_from(provider: TracerProvider | None) -> trace.Tracer:
    """The shop's tracer; a no-op one (nearly free) when tracing is off."""
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer(TRACER_NAME, __version__)


def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span when it is sampled, for logs and exemplars."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def exemplar() -> dict[str, str] | None:
    """Exemplar labels linking a metric observation to its trace."""
    ids = current_ids()
    return None if ids is None else {"trace_id": ids[0], "span_id": ids[1]}
