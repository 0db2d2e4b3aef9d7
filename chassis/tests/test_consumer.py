"""Consuming through the chassis: inbox, retries, dead letters, against real PG and broker."""

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from hhc_chassis.service import ServiceDefinition, create_app
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Envelope, EventHeaders
from hhc_contracts.v1 import RiskAssessed
from hhc_devstack.infrastructure import create_topics, free_port
from hhc_devstack.pytest_plugin import Broker, eventually, kafka_consumer, serving

from .support import TEST_MIGRATIONS, assessment, settings_for

attempts: Counter[uuid.UUID] = Counter()


async def flaky_handler(
    connection: asyncpg.Connection, envelope: Envelope, payload: RiskAssessed
) -> None:
    """Writes its effect, then fails as the label asks: the transaction must undo the effect."""
    label = payload.reasons[0]
    attempts[envelope.event_id] += 1
    await connection.execute(
        "INSERT INTO effects (event_id, case_id, label) VALUES ($1, $2, $3)",
        envelope.event_id,
        envelope.case_id,
        label,
    )
    if label.startswith("transient-") and attempts[envelope.event_id] <= int(label.split("-")[1]):
        raise ConnectionResetError("database connection dropped")
    if label == "bug":
        raise ValueError("a bug in the handler")


class Harness:
    def __init__(self, settings: ServiceSettings, topic: str, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer

    async def send(
        self, value: bytes, key: bytes = b"k", headers: dict[str, str] | None = None
    ) -> None:
        await self.producer.send_and_wait(
            self.topic,
            value,
            key=key,
            headers=[(name, v.encode()) for name, v in (headers or {}).items()],
        )

    async def send_event(self, envelope: Envelope) -> None:
        await self.send(
            envelope.model_dump_json().encode(), str(envelope.case_id).encode(), envelope.headers()
        )

    async def effects(self) -> list[tuple[uuid.UUID, str]]:
        connection = await asyncpg.connect(self.settings.database_url)
        try:
            rows = await connection.fetch(
                f"SELECT event_id, label FROM {self.settings.schema_name}.effects ORDER BY id"
            )
        finally:
            await connection.close()
        return [(row["event_id"], row["label"]) for row in rows]

    async def labels_when(self, count: int) -> list[str]:
        async def enough() -> list[str] | None:
            labels = [label for _, label in await self.effects()]
            return labels if len(labels) >= count else None

        return await eventually(enough, message=f"fewer than {count} effects")

    async def dead_letters(self, count: int) -> list[Any]:
        async with kafka_consumer(self.settings.kafka_bootstrap_servers, f"{self.topic}.dlq") as c:
            found: list[Any] = []

            async def collect() -> bool:
                for records in (await c.getmany(timeout_ms=200)).values():
                    found.extend(records)
                return len(found) >= count

            await eventually(collect, message="dead letters did not arrive")
            return found


@pytest.fixture
async def harness(
    database_url: str, broker: Broker, unique_topic: Callable[[str], str]
) -> AsyncIterator[Harness]:
    topic = unique_topic("consumer")
    await create_topics(broker.bootstrap_servers, [topic, f"{topic}.dlq"])
    settings = settings_for(database_url, broker.bootstrap_servers, retry_max_attempts=3)
    definition = ServiceDefinition(
        settings=settings,
        migrations=TEST_MIGRATIONS,
        title="consumer test",
        topics=[topic],
        handlers={"risk.risk-assessed": flaky_handler},
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        async with serving(create_app(definition), free_port()) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                await eventually(lambda: _is_ready(client), message="service never became ready")
            yield Harness(settings, topic, producer)
    finally:
        await producer.stop()


async def _is_ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def test_a_redelivered_event_has_no_second_effect(harness: Harness) -> None:
    event = assessment(uuid.uuid4(), "once")
    await harness.send_event(event)
    await harness.send_event(event)
    await harness.send_event(assessment(event.case_id, "after"))

    # One key, one partition: "after" is handled only once the duplicate before it was.
    assert await harness.labels_when(2) == ["once", "after"]
    assert [label for _, label in await harness.effects()] == ["once", "after"]


async def test_malformed_message_is_dead_lettered_and_the_partition_moves_on(
    harness: Harness,
) -> None:
    await harness.send(b"{not json", key=b"same-key")
    case_id = uuid.uuid4()
    next_event = assessment(case_id, "next")
    await harness.send(next_event.model_dump_json().encode(), key=b"same-key")

    assert await harness.labels_when(1) == ["next"]
    [dead] = await harness.dead_letters(1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert dead.value == b"{not json"
    assert headers[EventHeaders.DLQ_REASON].startswith("invalid envelope")
    assert headers[EventHeaders.DLQ_ORIGINAL_TOPIC] == harness.topic
    assert headers[EventHeaders.DLQ_ERROR_CLASS] == "InvalidMessage"
    assert int(headers[EventHeaders.DLQ_ORIGINAL_OFFSET]) >= 0


async def test_payload_that_breaks_its_schema_is_dead_lettered_naming_the_field(
    harness: Harness,
) -> None:
    good = assessment(uuid.uuid4(), "x")
    broken = good.model_copy(
        update={"payload": {k: v for k, v in good.payload.items() if k != "risk_level"}}
    )
    await harness.send_event(broken)

    [dead] = await harness.dead_letters(1)
    reason = dict(dead.headers)[EventHeaders.DLQ_REASON].decode()
    assert "risk_level: Field required" in reason


async def test_transient_failures_retry_in_order_without_partial_effects(
    harness: Harness,
) -> None:
    case_id = uuid.uuid4()
    for label in ("transient-3", "second", "third"):
        await harness.send_event(assessment(case_id, label))

    assert await harness.labels_when(3) == ["transient-3", "second", "third"]


async def test_a_handler_bug_is_retried_a_bounded_number_of_times_then_dead_lettered(
    harness: Harness,
) -> None:
    case_id = uuid.uuid4()
    buggy = assessment(case_id, "bug")
    await harness.send_event(buggy)
    await harness.send_event(assessment(case_id, "fine"))

    assert await harness.labels_when(1) == ["fine"]
    [dead] = await harness.dead_letters(1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert headers[EventHeaders.DLQ_ATTEMPTS] == "3"
    assert headers[EventHeaders.DLQ_ERROR_CLASS] == "ValueError"
    assert headers[EventHeaders.EVENT_ID] == str(buggy.event_id)
    # Three attempts of its own, plus one in a batch if "fine" was fetched with it.
    assert attempts[buggy.event_id] in (3, 4)
