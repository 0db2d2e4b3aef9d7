"""OpenTelemetry set-up: one tracer provider per process, OTLP export when configured.

The standard variables decide everything: ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` name the service, ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``..._TRACES_ENDPOINT``) turns export on, ``OTEL_EXPORTER_OTLP_PROTOCOL`` picks
``http/protobuf`` (default) or ``grpc``. Span attributes carry ids and types only,
never personal data.

HTTP server spans (:func:`instrument_http`) keep the route, method and status. What the
instrumentation also records about the caller, the client's address and port, its user
agent, and the query string (alone or in a URL), is taken off every span on its way out
(:class:`RedactingExporter`, in front of every exporter :func:`configure_tracing` sets
up): the instrumentation has no setting to leave them out, and a span's attributes
cannot be removed while it runs.
"""

import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.util.types import AttributeValue

_provider: TracerProvider | None = None
_meter_provider: MeterProvider | None = None


def _otlp_exporter() -> SpanExporter | None:
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return None
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        grpc_exporter: SpanExporter = GrpcExporter()
        return grpc_exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


REDACTED_ATTRIBUTES = frozenset(
    {
        "http.client_ip",
        "http.user_agent",
        "http.url",
        "url.full",
        "url.query",
    }
)
"""Span attributes never exported: the caller's address and user agent, query strings."""
REDACTED_PREFIXES = ("client.", "net.peer.", "net.sock.peer.", "network.peer.", "user_agent.")
"""Whole namespaces of them, in every version of the semantic conventions."""
QUERY_STRIPPED = frozenset({"http.target"})
"""Attributes kept without their query string: ``http.target`` is path and query."""


def _kept(key: str, value: AttributeValue) -> AttributeValue | None:
    if key in REDACTED_ATTRIBUTES or key.startswith(REDACTED_PREFIXES):
        return None
    if key in QUERY_STRIPPED and isinstance(value, str):
        return value.split("?", 1)[0]
    return value


def redacted(span: ReadableSpan) -> ReadableSpan:
    """``span`` without the attributes no export may carry (the same span when it has
    none of them)."""
    attributes = dict(span.attributes or {})
    kept = {
        key: value
        for key, value in ((key, _kept(key, value)) for key, value in attributes.items())
        if value is not None
    }
    if kept == attributes:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=kept,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingExporter(SpanExporter):
    """Hands ``exporter`` each span :func:`redacted`. Runs in the batch processor's
    thread, off the request's way."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def instrument_http(app: FastAPI, tracer_provider: trace.TracerProvider | None = None) -> None:
    """A server span per request to ``app`` but the probes': named by method and route,
    with the status. Exported without the caller's address, user agent or query string
    (:class:`RedactingExporter`). ``tracer_provider``: the global one unless given."""
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz", tracer_provider=tracer_provider
    )


def configure_tracing(service_name: str) -> TracerProvider:
    """Idempotent: the first call wins, later calls return the same provider."""
    global _provider
    if _provider is None:
        provider = TracerProvider(resource=_resource(service_name))
        exporter = _otlp_exporter()
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(RedactingExporter(exporter)))
        trace.set_tracer_provider(provider)
        _provider = provider
    return _provider


def _resource(service_name: str) -> Resource:
    if os.environ.get("OTEL_SERVICE_NAME"):
        return Resource.create({})
    return Resource.create({SERVICE_NAME: f"hhc-{service_name}"})


def configure_metrics(service_name: str, *readers: MetricReader) -> MeterProvider:
    """Idempotent, like tracing: counters of handled, dead-lettered, published and parked
    messages, exported over OTLP when an endpoint is configured (or to ``readers``)."""
    global _meter_provider
    if _meter_provider is None:
        all_readers = list(readers)
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
        ):
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )

            all_readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        _meter_provider = MeterProvider(
            resource=_resource(service_name), metric_readers=all_readers
        )
        metrics.set_meter_provider(_meter_provider)
    return _meter_provider


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.shutdown()
    if _meter_provider is not None:
        # Flushed, not shut down: a process that builds the app again (tests) keeps counting.
        _meter_provider.force_flush()


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the trace and span ids of the current span."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        entry.update(
            {key: value for key, value in record.__dict__.items() if key not in self._STANDARD}
        )
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_class"] = record.exc_info[0].__name__
            entry["stack"] = redacted_stack(record.exc_info)
        return json.dumps(entry, default=str)


def redacted_stack(exc_info: Any) -> list[str]:
    """Where an exception and the ones that caused it were raised: every frame, and each
    exception's class, but not its message, which may carry personal data (a rejected
    value, a row)."""
    exception = traceback.TracebackException(*exc_info, compact=True)
    chain: list[traceback.TracebackException] = []
    current: traceback.TracebackException | None = exception
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    lines: list[str] = []
    for link in reversed(chain):
        lines.extend(line.rstrip() for line in link.stack.format())
        lines.append(
            f"{link.exc_type.__module__}.{link.exc_type.__qualname__}" if link.exc_type else "?"
        )
    return lines


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs whole records at DEBUG; keep library chatter at WARNING.
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
