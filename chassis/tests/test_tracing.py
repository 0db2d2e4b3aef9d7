"""What a service's tracer provider records: nothing until something receives spans
(about a tenth of a service's CPU otherwise went on spans thrown away), yet ids always
flow."""

import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_trace_id

from hhc_chassis.telemetry import tracer_provider


@pytest.fixture(autouse=True)
def no_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
    ):
        monkeypatch.delenv(name, raising=False)


def test_without_an_exporter_spans_are_not_recorded_but_keep_their_trace() -> None:
    tracer = tracer_provider("test").get_tracer("test")
    with tracer.start_as_current_span("message process") as parent:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        with tracer.start_as_current_span("INSERT") as child:
            pass
    assert not parent.is_recording()
    assert parent.get_span_context().is_valid
    assert child.get_span_context().trace_id == parent.get_span_context().trace_id
    # The next service continues the same trace.
    assert format_trace_id(parent.get_span_context().trace_id) in carrier["traceparent"]


def test_once_a_processor_is_added_every_span_is_recorded_and_exported() -> None:
    provider = tracer_provider("test")
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("before"):
        pass
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    with tracer.start_as_current_span("message process"), tracer.start_as_current_span("INSERT"):
        pass
    assert [span.name for span in exported.get_finished_spans()] == ["INSERT", "message process"]


def test_the_standard_sampler_variables_choose_what_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    provider = tracer_provider("test")
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    with provider.get_tracer("test").start_as_current_span("message process") as span:
        pass
    assert not span.is_recording()
    assert exported.get_finished_spans() == ()


def test_what_waits_for_export_starts_when_the_first_processor_is_added() -> None:
    """The database instrumentation waits so: turns red if it started before anything
    received spans, or never."""
    provider = tracer_provider("test")
    started: list[str] = []
    provider.when_exported(lambda: started.append("database spans"))
    assert started == []
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    assert started == ["database spans"]
    provider.when_exported(lambda: started.append("later"))
    assert started == ["database spans", "later"]
