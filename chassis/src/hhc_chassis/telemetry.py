"""OpenTelemetry set-up: one tracer provider per process, OTLP export when configured.

The standard variables decide everything: ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` name the service, ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``..._TRACES_ENDPOINT``) turns export on, ``OTEL_EXPORTER_OTLP_PROTOCOL`` picks
``http/protobuf`` (default) or ``grpc``. Span attributes carry ids and types only,
never personal data.
"""

import json
import logging
import os
import sys
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

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


def configure_tracing(service_name: str) -> TracerProvider:
    """Idempotent: the first call wins, later calls return the same provider."""
    global _provider
    if _provider is None:
        provider = TracerProvider(resource=_resource(service_name))
        exporter = _otlp_exporter()
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
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
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs whole records at DEBUG; keep library chatter at WARNING.
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
