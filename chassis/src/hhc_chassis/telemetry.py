"""OpenTelemetry set-up: one tracer, meter and logger provider per process, OTLP export
when configured, metrics on ``/metrics`` for Prometheus.

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

Database spans (asyncpg instrumentation) carry the statement text with its ``$n``
placeholders, never the parameters (``capture_parameters`` stays off); they are recorded
under a request's or a message's span only, not for the relay's and clocks' polling.

Metrics (:mod:`hhc_chassis.metrics`, and the HTTP server's duration by route and status)
go over OTLP when an endpoint is configured and always to :data:`prometheus_registry`,
which the staff app serves on ``/metrics``. Logs go to stderr as JSON
(:class:`JsonLogFormatter`) and, when an endpoint is configured, over OTLP
(:class:`OtlpLogHandler`) through the collector; both carry an exception's class and
stack, never its message.
"""

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import _logs, metrics, trace
from opentelemetry.context import Context
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.environment_variables import OTEL_TRACES_SAMPLER
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes, AttributeValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

_provider: TracerProvider | None = None
_meter_provider: MeterProvider | None = None
_logger_provider: LoggerProvider | None = None

prometheus_registry = CollectorRegistry()
"""What ``/metrics`` serves: this process's meter provider, read at each scrape."""
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


def metrics_page() -> bytes:
    """The Prometheus text exposition of every metric of this process."""
    return generate_latest(prometheus_registry)


def _otlp_configured(signal: str) -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


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
        app, excluded_urls="healthz,readyz,metrics", tracer_provider=tracer_provider
    )


class NoDatabaseRoots(Sampler):
    """Root spans as always, but for database calls: a query outside any request or
    message (the relay's and the clocks' polling, every second) is not worth a trace."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if attributes and ("db.system" in attributes or "db.system.name" in attributes):
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "NoDatabaseRoots"


class RecordedWhenExported(Sampler):
    """Spans are recorded only once a processor will receive them: with no exporter, a
    span would be built, timed and thrown away for every message and statement (about a
    tenth of a service's CPU). Unrecorded spans keep their trace and span ids, so logs and
    the ``traceparent`` sent on keep joining one trace."""

    def __init__(self, recorded: Sampler) -> None:
        self.recorded = recorded
        self.exported = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if not self.exported:
            return SamplingResult(Decision.DROP)
        return self.recorded.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"RecordedWhenExported{{{self.recorded.get_description()}}}"


class _ExportingTracerProvider(TracerProvider):
    """Tells :class:`RecordedWhenExported` when the first processor is added (by
    :func:`configure_tracing` for OTLP, or by whoever adds one later: a test's)."""

    def __init__(self, resource: Resource, sampler: RecordedWhenExported) -> None:
        super().__init__(resource=resource, sampler=sampler)
        self._recorded_when_exported = sampler
        self._on_export: list[Callable[[], None]] = []

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self._recorded_when_exported.exported = True
        while self._on_export:
            self._on_export.pop(0)()

    def when_exported(self, start: Callable[[], None]) -> None:
        """Call ``start`` once spans are exported: at once if they are already."""
        if self._recorded_when_exported.exported:
            start()
        else:
            self._on_export.append(start)


def tracer_provider(service_name: str) -> "_ExportingTracerProvider":
    """A provider that records spans once exported (:class:`RecordedWhenExported`), with
    the OTLP exporter when one is configured.

    What is recorded, once exported: ``OTEL_TRACES_SAMPLER`` (with ``..._ARG``) when set,
    for example ``parentbased_traceidratio`` and ``0.1`` to keep a tenth of the traces
    under load; otherwise every trace but the database polling's
    (:class:`NoDatabaseRoots`)."""
    recorded: Sampler = (
        # The SDK's own reading of the variables: a provider built only for it.
        TracerProvider(shutdown_on_exit=False).sampler
        if os.environ.get(OTEL_TRACES_SAMPLER)
        else ParentBased(root=NoDatabaseRoots())
    )
    provider = _ExportingTracerProvider(_resource(service_name), RecordedWhenExported(recorded))
    exporter = _otlp_exporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(RedactingExporter(exporter)))
    return provider


def configure_tracing(service_name: str) -> TracerProvider:
    """Idempotent: the first call wins, later calls return the same provider."""
    global _provider
    if _provider is None:
        provider = tracer_provider(service_name)
        trace.set_tracer_provider(provider)

        def instrument_database() -> None:
            # Statements only: capture_parameters would put the values, personal data, on
            # spans.
            instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
            instrumentor.instrument(tracer_provider=provider)

        # Database spans only once something receives them: until then every statement
        # went through the instrumentation's wrapper for a span thrown away (about a
        # twentieth of a service's CPU under load).
        provider.when_exported(instrument_database)
        _provider = provider
    return _provider


def _resource(service_name: str) -> Resource:
    if os.environ.get("OTEL_SERVICE_NAME"):
        return Resource.create({})
    return Resource.create({SERVICE_NAME: f"hhc-{service_name}"})


HTTP_METRIC_ATTRIBUTES = frozenset({"http.method", "http.target", "http.status_code"})
"""What the HTTP server's metrics keep: method, status and ``http.target``, which the
FastAPI instrumentation fills with the route template (``/v1/cases/{case_id}``), never
the path itself (unmatched paths have none). Host, port and scheme are dropped: the same
for every request to one replica."""


def configure_metrics(service_name: str, *readers: MetricReader) -> MeterProvider:
    """Idempotent, like tracing: :mod:`hhc_chassis.metrics` and the HTTP server's, served
    on ``/metrics`` (:func:`metrics_page`), exported over OTLP when an endpoint is
    configured, and to ``readers``."""
    global _meter_provider
    if _meter_provider is None:
        all_readers = [
            *readers,
            PrometheusMetricReader(scope_info_enabled=False, registry=prometheus_registry),
        ]
        if _otlp_configured("METRICS"):
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )

            all_readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        _meter_provider = MeterProvider(
            resource=_resource(service_name),
            metric_readers=all_readers,
            views=[
                View(instrument_name="http.server.*", attribute_keys=set(HTTP_METRIC_ATTRIBUTES))
            ],
        )
        metrics.set_meter_provider(_meter_provider)
    return _meter_provider


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.shutdown()
    if _meter_provider is not None:
        # Flushed, not shut down: a process that builds the app again (tests) keeps counting.
        _meter_provider.force_flush()
    if _logger_provider is not None:
        _logger_provider.force_flush()


_STANDARD_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed in ``extra=``: ids, types, counts (never personal data)."""
    return {
        key: value for key, value in record.__dict__.items() if key not in _STANDARD_RECORD_KEYS
    }


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the trace and span ids of the current span."""

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
        entry.update(_extras(record))
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


_SEVERITIES = (
    (logging.CRITICAL, _logs.SeverityNumber.FATAL),
    (logging.ERROR, _logs.SeverityNumber.ERROR),
    (logging.WARNING, _logs.SeverityNumber.WARN),
    (logging.INFO, _logs.SeverityNumber.INFO),
    (logging.DEBUG, _logs.SeverityNumber.DEBUG),
)


def _attribute(value: Any) -> AttributeValue:
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return [str(item) for item in value]
    return str(value)


class OtlpLogHandler(logging.Handler):
    """Log records to an OpenTelemetry logger provider, with the same content as the JSON
    lines: the message, the ``extra=`` attributes, and for an exception its class and
    :func:`redacted_stack`, not its message (the SDK's own handler exports the message,
    which may be a rejected value or a row). Trace and span ids come from the context."""

    def __init__(self, provider: _logs.LoggerProvider, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._provider = provider

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("opentelemetry"):
            return  # the exporter's own complaints would feed themselves
        try:
            attributes: dict[str, AttributeValue] = {
                key: _attribute(value) for key, value in _extras(record).items()
            }
            attributes["code.function.name"] = record.funcName
            attributes["code.line.number"] = record.lineno
            if record.exc_info and record.exc_info[0] is not None:
                attributes["exception.type"] = (
                    f"{record.exc_info[0].__module__}.{record.exc_info[0].__qualname__}"
                )
                attributes["exception.stacktrace"] = "\n".join(redacted_stack(record.exc_info))
            severity = next(
                (number for level, number in _SEVERITIES if record.levelno >= level),
                _logs.SeverityNumber.TRACE,
            )
            self._provider.get_logger(record.name).emit(
                timestamp=int(record.created * 1e9),
                severity_number=severity,
                severity_text=record.levelname,
                body=record.getMessage(),
                attributes=attributes,
            )
        except Exception:
            self.handleError(record)


def _otlp_log_handler(service_name: str) -> logging.Handler | None:
    global _logger_provider
    if not _otlp_configured("LOGS"):
        return None
    if _logger_provider is None:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        _logger_provider = LoggerProvider(resource=_resource(service_name))
        _logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        _logs.set_logger_provider(_logger_provider)
    return OtlpLogHandler(_logger_provider)


def configure_logging(level: str, service_name: str | None = None) -> None:
    """JSON lines on stderr and, for a named service with an OTLP endpoint configured,
    the same records over OTLP (through the collector, which redacts before export)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if service_name is not None and (exporting := _otlp_log_handler(service_name)):
        root.addHandler(exporting)
    root.setLevel(level.upper())
    # aiokafka logs whole records at DEBUG, httpx a line per request at INFO (each
    # service-to-service call, such as a batch's case-key lookup); keep library chatter at
    # WARNING.
    for noisy in ("aiokafka", "uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
