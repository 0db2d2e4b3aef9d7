"""The outbox relay against a real PostgreSQL and a real broker."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from hhc_chassis.db import connect, migrate
from hhc_chassis.outbox import OutboxRelay, Publish, enqueue
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Envelope, Topic
from hhc_devstack.pytest_plugin import Broker, eventually, kafka_consumer

from .support import assessment, settings_for


@contextlib.asynccontextmanager
async def kafka_publish(bootstrap_servers: str) -> AsyncIterator[Publish]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=False)
    await producer.start()

    async def publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        await producer.send_and_wait(
            topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
        )

    try:
        yield publish
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(relay.run())
    try:
        yield task
    finally:
        relay.stop()
        await asyncio.wait_for(task, 10)


def relay_for(settings: ServiceSettings, publish: Publish, **options: float) -> OutboxRelay:
    return OutboxRelay(
        connect=lambda: connect(settings),
        publish=publish,
        schema=settings.schema_name,
        idle_poll_seconds=options.get("idle_poll_seconds", 0.5),
        max_backoff_seconds=options.get("max_backoff_seconds", 0.2),
        batch_size=int(options.get("batch_size", 200)),
    )


async def stage(settings: ServiceSettings, envelopes: list[Envelope]) -> None:
    connection = await connect(settings)
    try:
        async with connection.transaction():
            await enqueue(connection, envelopes)
    finally:
        await connection.close()


async def unpublished(settings: ServiceSettings) -> int:
    connection = await connect(settings)
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        )
    finally:
        await connection.close()


async def read_labels(
    bootstrap_servers: str, case_ids: set[uuid.UUID], expected: int
) -> dict[uuid.UUID, list[str]]:
    """Labels per case, in the order the topic holds them."""
    seen: dict[uuid.UUID, list[str]] = {case_id: [] for case_id in case_ids}
    async with kafka_consumer(bootstrap_servers, Topic.RISK_ASSESSMENTS.value) as consumer:

        async def collect() -> bool:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value)
                    if envelope.case_id in seen:
                        seen[envelope.case_id].append(envelope.payload["reasons"][0])
            return sum(len(labels) for labels in seen.values()) >= expected

        await eventually(collect, timeout=30, message="events did not arrive")
    return seen


@pytest.fixture
async def settings(database_url: str, broker: Broker) -> ServiceSettings:
    settings = settings_for(database_url, broker.bootstrap_servers)
    await migrate(settings, [])
    return settings


async def test_publishes_in_order_per_case_and_marks_rows_sent(
    settings: ServiceSettings, broker: Broker
) -> None:
    case_ids = [uuid.uuid4() for _ in range(3)]
    envelopes = [assessment(case_ids[n % 3], f"{n:03d}") for n in range(60)]
    await stage(settings, envelopes)

    async with (
        kafka_publish(broker.bootstrap_servers) as publish,
        running(relay_for(settings, publish, batch_size=7)),
    ):
        labels = await read_labels(broker.bootstrap_servers, set(case_ids), 60)
        await eventually(lambda: _none_left(settings), message="rows not marked published")

    for index, case_id in enumerate(case_ids):
        assert labels[case_id] == [f"{n:03d}" for n in range(index, 60, 3)]


async def _none_left(settings: ServiceSettings) -> bool:
    return await unpublished(settings) == 0


async def test_backs_off_on_failure_and_keeps_order(
    settings: ServiceSettings, broker: Broker
) -> None:
    case_id = uuid.uuid4()
    await stage(settings, [assessment(case_id, f"{n}") for n in range(5)])
    failures_left = 3

    async with kafka_publish(broker.bootstrap_servers) as real_publish:

        async def flaky_publish(
            topic: str, key: bytes, value: bytes, headers: dict[str, str]
        ) -> None:
            nonlocal failures_left
            if failures_left > 0 and json.loads(value)["payload"]["reasons"] == ["2"]:
                failures_left -= 1
                raise ConnectionError("broker went away")
            await real_publish(topic, key, value, headers)

        async with running(relay_for(settings, flaky_publish)):
            labels = await read_labels(broker.bootstrap_servers, {case_id}, 5)

    assert labels[case_id] == ["0", "1", "2", "3", "4"]
    connection = await asyncpg.connect(settings.database_url)
    try:
        row = await connection.fetchrow(
            f"SELECT attempts, last_error FROM {settings.schema_name}.outbox "
            "WHERE payload->'payload'->'reasons'->>0 = '2'"
        )
    finally:
        await connection.close()
    assert row["attempts"] == 3
    assert "broker went away" in row["last_error"]


async def test_wakes_on_new_rows_without_waiting_for_the_poll(
    settings: ServiceSettings, broker: Broker
) -> None:
    case_id = uuid.uuid4()
    async with kafka_publish(broker.bootstrap_servers) as publish:
        relay = relay_for(settings, publish, idle_poll_seconds=60)
        async with running(relay):
            await eventually(lambda: asyncio.sleep(0, result=relay.is_leader))
            # The relay now sleeps for up to 60 s unless NOTIFY wakes it.
            await asyncio.sleep(0.3)
            await stage(settings, [assessment(case_id, "prompt")])
            await eventually(lambda: _none_left(settings), timeout=5, message="relay slept")


async def test_two_relays_never_both_lead_and_a_restart_loses_nothing(
    settings: ServiceSettings, broker: Broker
) -> None:
    case_id = uuid.uuid4()
    await stage(settings, [assessment(case_id, f"{n:02d}") for n in range(10)])
    async with kafka_publish(broker.bootstrap_servers) as publish:
        first, second = relay_for(settings, publish), relay_for(settings, publish)
        first_run = asyncio.create_task(first.run())
        await eventually(lambda: asyncio.sleep(0, result=first.is_leader))
        async with running(second):
            await eventually(lambda: _none_left(settings))
            assert first.is_leader
            assert not second.is_leader
            first.stop()
            await asyncio.wait_for(first_run, 10)
            # The leader has stopped; the other takes over.
            await stage(settings, [assessment(case_id, f"{n:02d}") for n in range(10, 20)])
            await eventually(lambda: asyncio.sleep(0, result=second.is_leader))
            await eventually(lambda: _none_left(settings))
        # Rows staged while no relay runs are published by the next one to start.
        await stage(settings, [assessment(case_id, f"{n:02d}") for n in range(20, 30)])
        async with running(relay_for(settings, publish)):
            await eventually(lambda: _none_left(settings))

    labels = await read_labels(broker.bootstrap_servers, {case_id}, 30)
    assert labels[case_id] == [f"{n:02d}" for n in range(30)]
