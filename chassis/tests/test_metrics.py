"""/metrics: what a service did, by route, topic and event type, read as Prometheus reads
it; database spans under the message's; exported logs with a stack but no personal data."""

import logging
import sys
import uuid
from collections.abc import Callable

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from hhc_chassis.metrics import QueryGauge
from hhc_chassis.service import ServiceDefinition, create_app
from hhc_chassis.telemetry import OtlpLogHandler
from hhc_contracts import Envelope, Topic
from hhc_contracts.trust import trust_problem
from hhc_contracts.v1 import RiskAssessed
from hhc_devstack.infrastructure import create_topics, free_port
from hhc_devstack.pytest_plugin import Broker, eventually, serving

from .support import TEST_MIGRATIONS, assessment, insert_effect, settings_for

# Personal data arrives at run time, never in the source lines a stack shows.
SURVIVOR = " ".join(["Jane", "Doe"])

things = APIRouter()


@things.get("/things/{thing_id}")
async def thing(thing_id: str) -> dict[str, str]:
    return {"thing": thing_id}


async def record_effect(
    connection: asyncpg.Connection, envelope: Envelope, payload: RiskAssessed
) -> None:
    await insert_effect(connection, envelope, payload.reasons[0])


effects_by_label = QueryGauge(
    "hhc.test.effects",
    "Effects recorded, by label (a service's own gauge, as risk's actions by kind)",
    "SELECT label, count(*) AS value FROM effects GROUP BY label",
    labels=("label",),
    interval_seconds=0.2,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> tuple[str, Samples]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics_count_requests_by_route_and_messages_by_topic_and_type(
    database_url: str, broker: Broker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("metrics")
    await create_topics(broker.bootstrap_servers, [topic, f"{topic}.dlq"])
    settings = settings_for(database_url, broker.bootstrap_servers, metrics_refresh_seconds=0.2)
    definition = ServiceDefinition(
        settings=settings,
        migrations=TEST_MIGRATIONS,
        title="metrics test",
        topics=[topic],
        handlers={"risk.risk-assessed": record_effect},
        routers=[things],
        background=[effects_by_label.refresh],
        trust=lambda on, producer, envelope, payload: trust_problem(
            Topic.RISK_ASSESSMENTS.value if on == topic else on, producer, envelope, payload
        ),
    )
    spans = InMemorySpanExporter()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        async with (
            serving(create_app(definition), free_port()) as url,
            httpx.AsyncClient(base_url=url) as client,
        ):
            provider = trace.get_tracer_provider()
            assert isinstance(provider, TracerProvider)
            provider.add_span_processor(SimpleSpanProcessor(spans))

            # A row the relay must not publish yet: the backlog is one.
            connection = await asyncpg.connect(database_url)
            try:
                await connection.execute(
                    f"""INSERT INTO {settings.schema_name}.outbox
                            (event_id, event_type, topic, message_key, payload, headers,
                             next_attempt_at)
                        VALUES ($1, 'risk.risk-assessed', $2, 'k', '{{}}', '{{}}',
                                now() + interval '1 hour')""",
                    uuid.uuid4(),
                    topic,
                )
            finally:
                await connection.close()

            thing_id = uuid.uuid4().hex
            assert (await client.get(f"/things/{thing_id}")).status_code == 200
            assert (await client.get("/no-such-route")).status_code == 404

            event = assessment(uuid.uuid4(), label=SURVIVOR)
            await producer.send_and_wait(
                topic,
                event.model_dump_json().encode(),
                key=str(event.case_id).encode(),
                headers=[(name, v.encode()) for name, v in event.headers().items()],
            )

            async def all_reported() -> tuple[str, Samples] | None:
                page, samples = await scrape(client)
                handled = value(
                    samples,
                    "hhc_messages_handled_total",
                    consumer=settings.group_id,
                    topic=topic,
                    event_type="risk.risk-assessed",
                )
                backlog = value(samples, "hhc_outbox_backlog", channel="chassistest_outbox")
                effects = value(samples, "hhc_test_effects", label=SURVIVOR)
                # The lag is measured every METRICS_REFRESH_SECONDS: for a moment after the
                # message was handled it may still count it.
                lag = value(
                    samples,
                    "hhc_consumer_lag",
                    consumer=settings.group_id,
                    topic=topic,
                    partition="0",
                )
                if handled == 1 and backlog == 1 and effects == 1 and lag == 0:
                    return page, samples
                last_seen.update(handled=handled, backlog=backlog, effects=effects, lag=lag)
                return None

            last_seen: dict[str, float | None] = {}
            # A poll bound, not a wait: under a loaded machine Tansu has answered a fetch
            # with REQUEST_TIMED_OUT (error 7), and once, in a full run, nothing moved for
            # 90 s after it (the cause is in the broker, not found).
            try:
                page, samples = await eventually(all_reported, timeout=180)
            except AssertionError:
                raise AssertionError(f"metrics did not move: last seen {last_seen}") from None
    finally:
        await producer.stop()

    consumer = {"consumer": settings.group_id, "topic": topic, "event_type": "risk.risk-assessed"}
    assert value(samples, "hhc_handler_duration_seconds_count", **consumer, outcome="ok") == 1
    lag = value(samples, "hhc_consumer_lag", consumer=settings.group_id, topic=topic, partition="0")
    assert lag == 0  # all handled
    assert value(samples, "hhc_outbox_relay_leader", channel="chassistest_outbox") == 1
    assert value(samples, "hhc_outbox_parked_rows", channel="chassistest_outbox") == 0
    oldest = value(
        samples, "hhc_outbox_oldest_unpublished_age_seconds", channel="chassistest_outbox"
    )
    assert oldest is not None
    assert oldest >= 0

    # Requests by route template and status, never by the path a caller sent.
    route = {"http_method": "GET", "http_target": "/things/{thing_id}", "http_status_code": "200"}
    assert value(samples, "http_server_duration_milliseconds_count", **route) == 1
    assert thing_id not in page
    assert "no-such-route" not in page

    # The handler's insert: a span under the message's, with the statement, not the values.
    finished = spans.get_finished_spans()
    processing = next(s for s in finished if s.name == f"{topic} process")
    inserts = [
        s
        for s in finished
        if s.attributes and "INSERT INTO effects" in str(s.attributes.get("db.statement"))
    ]
    assert inserts, "no database span for the handler's insert"
    assert inserts[0].parent is not None
    assert inserts[0].parent.span_id == processing.context.span_id
    for span in finished:
        assert SURVIVOR not in str(dict(span.attributes or {}))


def _fail_with_personal_data(survivor: str) -> None:
    raise ValueError(f"invalid input for enum: {survivor}")


def test_an_exported_log_has_the_stack_but_not_the_exception_message() -> None:
    exported = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exported))
    logger = logging.getLogger("test.metrics.logs")
    try:
        _fail_with_personal_data(SURVIVOR)
    except ValueError:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "handling failed",
            (),
            exc_info=sys.exc_info(),
            extra={"event_type": "risk.risk-assessed"},
        )
    OtlpLogHandler(provider).handle(record)
    (log,) = exported.get_finished_logs()
    attributes = dict(log.log_record.attributes or {})
    assert log.log_record.body == "handling failed"
    assert attributes["event_type"] == "risk.risk-assessed"
    assert attributes["exception.type"] == "builtins.ValueError"
    assert "_fail_with_personal_data" in str(attributes["exception.stacktrace"])
    assert SURVIVOR not in str(attributes)
    assert "exception.message" not in attributes
