"""Consuming through the chassis: inbox, retries, dead letters, against real PG and broker."""

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hhc_chassis.consumer import Handler, Projection, Selective
from hhc_chassis.db import Write
from hhc_chassis.service import ServiceDefinition, create_app
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Envelope, EventHeaders, Topic
from hhc_contracts.trust import trust_problem
from hhc_contracts.v1 import RiskAssessed
from hhc_devstack.infrastructure import create_topics, free_port
from hhc_devstack.pytest_plugin import Broker, eventually, kafka_consumer, serving

from .support import EFFECT, TEST_MIGRATIONS, assessment, insert_effect, settings_for

NOT_OURS = "not-ours"
attempts: Counter[uuid.UUID] = Counter()
held = asyncio.Event()  # set by the handler when it holds a "hold" message
release = asyncio.Event()  # set by the test to let it finish


async def flaky_handler(
    connection: asyncpg.Connection, envelope: Envelope, payload: RiskAssessed
) -> None:
    """Writes its effect, then fails as the label asks: the transaction must undo the effect."""
    label = payload.reasons[0]
    attempts[envelope.event_id] += 1
    await insert_effect(connection, envelope, label)
    if label.startswith("transient-") and attempts[envelope.event_id] <= int(label.split("-")[1]):
        raise ConnectionResetError("database connection dropped")
    if label == "bug":
        raise ValueError("a bug in the handler")
    if label == "hold":
        held.set()
        await release.wait()


class Harness:
    def __init__(self, settings: ServiceSettings, topic: str, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer

    async def send(
        self,
        value: bytes | None,
        key: bytes | None = b"k",
        headers: dict[str, str] | None = None,
        *,
        raw_headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
    ) -> int:
        """Send one record; returns its offset."""
        metadata = await self.producer.send_and_wait(
            self.topic,
            value,
            key=key,
            partition=partition,
            headers=[(name, v.encode()) for name, v in (headers or {}).items()]
            + (raw_headers or []),
        )
        return int(metadata.offset)

    async def send_event(self, envelope: Envelope, *, partition: int | None = None) -> int:
        return await self.send(
            envelope.model_dump_json().encode(),
            str(envelope.case_id).encode(),
            envelope.headers(),
            partition=partition,
        )

    async def committed(self, partition: int) -> int | None:
        """The group's committed offset for the partition, read back from the broker."""
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.group_id,
            enable_auto_commit=False,
        )
        await reader.start()
        try:
            offset = await reader.committed(TopicPartition(self.topic, partition))
        finally:
            await reader.stop()
        return None if offset is None else int(offset)

    async def effects(self) -> list[tuple[uuid.UUID, str]]:
        connection = await asyncpg.connect(self.settings.database_url)
        try:
            rows = await connection.fetch(
                f"SELECT event_id, label FROM {self.settings.schema_name}.effects ORDER BY id"
            )
        finally:
            await connection.close()
        return [(row["event_id"], row["label"]) for row in rows]

    async def inbox_transactions(self) -> int:
        """How many transactions wrote the inbox's rows."""
        connection = await asyncpg.connect(self.settings.database_url)
        try:
            return int(
                await connection.fetchval(
                    f"SELECT count(DISTINCT xmin::text) FROM {self.settings.schema_name}.inbox"
                )
            )
        finally:
            await connection.close()

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


@contextlib.asynccontextmanager
async def running_harness(
    database_url: str,
    bootstrap_servers: str,
    topic: str,
    handler: Handler | None = None,
    **overrides: object,
) -> AsyncIterator[Harness]:
    settings = settings_for(
        database_url, bootstrap_servers, **{"retry_max_attempts": 3, **overrides}
    )
    definition = ServiceDefinition(
        settings=settings,
        migrations=TEST_MIGRATIONS,
        title="consumer test",
        topics=[topic],
        handlers={
            "risk.risk-assessed": handler
            or Selective(flaky_handler, concerns=lambda payload: payload.reasons != [NOT_OURS])
        },
        # The test's own topic stands for the assessments topic of the catalogue.
        trust=lambda on, producer, envelope, payload: trust_problem(
            Topic.RISK_ASSESSMENTS.value if on == topic else on, producer, envelope, payload
        ),
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        async with serving(create_app(definition), free_port()) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                await eventually(lambda: _is_ready(client), message="service never became ready")
            yield Harness(settings, topic, producer)
    finally:
        await producer.stop()


@pytest.fixture
async def topic(broker: Broker, unique_topic: Callable[[str], str]) -> str:
    name = unique_topic("consumer")
    await create_topics(broker.bootstrap_servers, [name, f"{name}.dlq"])
    return name


@pytest.fixture
async def harness(database_url: str, broker: Broker, topic: str) -> AsyncIterator[Harness]:
    async with running_harness(database_url, broker.bootstrap_servers, topic) as harness:
        yield harness


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


async def test_an_event_its_handler_is_not_concerned_with_is_passed_over_before_any_transaction(
    harness: Harness,
) -> None:
    case_id = uuid.uuid4()
    passed_over = assessment(case_id, NOT_OURS)
    await harness.send_event(passed_over, partition=0)
    last = await harness.send_event(assessment(case_id, "ours"), partition=0)

    assert await harness.labels_when(1) == ["ours"]
    assert await eventually(lambda: _committed_to(harness, 0, last + 1))
    assert [label for _, label in await harness.effects()] == ["ours"]
    assert attempts[passed_over.event_id] == 0
    connection = await asyncpg.connect(harness.settings.database_url)
    try:
        inbox = await connection.fetch(f"SELECT event_id FROM {harness.settings.schema_name}.inbox")
    finally:
        await connection.close()
    assert passed_over.event_id not in {row["event_id"] for row in inbox}


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


async def test_every_kind_of_bad_record_is_dead_lettered_with_its_reason_and_none_is_skipped(
    harness: Harness,
) -> None:
    case_id = uuid.uuid4()
    partition = 0
    odd_headers = assessment(case_id, "odd-headers")
    no_key = assessment(case_id, "no-key")
    sent = [
        # A valid event is handled whatever its headers say: the envelope is the message.
        await harness.send(
            odd_headers.model_dump_json().encode(),
            raw_headers=[("content-type", b"text/plain"), ("x-origin", b"\xff\xfe\xfa")],
            partition=partition,
        ),
        await harness.send(
            b"plain words, not JSON", headers={"content-type": "text/plain"}, partition=partition
        ),
        await harness.send(b"", partition=partition),
        await harness.send(None, key=b"a-tombstone", partition=partition),
        await harness.send(no_key.model_dump_json().encode(), key=None, partition=partition),
        await harness.send(b'{"event_id": "' + b"1" * 10, partition=partition),
        await harness.send(b"{" + b" " * (2 * 1024 * 1024) + b"}", partition=partition),
        await harness.send_event(assessment(case_id, "last"), partition=partition),
    ]

    assert await harness.labels_when(3) == ["odd-headers", "no-key", "last"]
    dead = await harness.dead_letters(5)
    by_offset = {
        int(dict(record.headers)[EventHeaders.DLQ_ORIGINAL_OFFSET]): {
            name: value.decode(errors="replace") for name, value in record.headers
        }
        for record in dead
    }
    assert sorted(by_offset) == [sent[1], sent[2], sent[3], sent[5], sent[6]]
    assert by_offset[sent[1]][EventHeaders.DLQ_REASON].startswith("invalid envelope")
    assert by_offset[sent[2]][EventHeaders.DLQ_REASON] == "message has no value"
    assert by_offset[sent[3]][EventHeaders.DLQ_REASON] == "message has no value"
    assert by_offset[sent[5]][EventHeaders.DLQ_REASON].startswith("invalid envelope")
    assert by_offset[sent[6]][EventHeaders.DLQ_VALUE_OMITTED].startswith("too large")
    # Nothing was committed past a record before it was handled or dead-lettered.
    assert await eventually(lambda: _committed_to(harness, partition, sent[-1] + 1))


async def _committed_to(harness: Harness, partition: int, offset: int) -> bool:
    return await harness.committed(partition) == offset


async def test_an_offset_is_never_committed_past_a_message_still_being_handled(
    database_url: str, broker: Broker, topic: str
) -> None:
    """Turns red if offsets are committed before handling (faststream's ACK_FIRST) or for
    the whole consumer rather than per partition (faststream #2618)."""
    held.clear()
    release.clear()
    case_id = uuid.uuid4()
    async with running_harness(
        database_url,
        broker.bootstrap_servers,
        topic,
        consumer_commit_interval_ms=50,
        shutdown_grace_seconds=1,
    ) as harness:
        first = await harness.send_event(assessment(case_id, "first"), partition=0)
        await eventually(lambda: _committed_to(harness, 0, first + 1))
        hold = await harness.send_event(assessment(case_id, "hold"), partition=0)
        await harness.send_event(assessment(case_id, "behind"), partition=0)
        await asyncio.wait_for(held.wait(), 30)
        # Another partition is handled and committed meanwhile: the committer runs.
        other = await harness.send_event(assessment(uuid.uuid4(), "other"), partition=1)
        await eventually(lambda: _committed_to(harness, 1, other + 1))
        assert await harness.committed(0) == hold
        # The service stops while "hold" is in hand and cannot finish.
    assert await harness.committed(0) == hold
    assert [label for _, label in await harness.effects()] == ["first", "other"]

    release.set()
    async with running_harness(
        database_url, broker.bootstrap_servers, topic, consumer_group=harness.settings.group_id
    ) as restarted:
        # The same group picks up at the message it never finished, and nothing twice.
        assert await restarted.labels_when(4) == ["first", "other", "hold", "behind"]


async def test_a_transient_failure_outlasting_retry_max_seconds_is_dead_lettered(
    database_url: str, broker: Broker, topic: str
) -> None:
    async with running_harness(
        database_url, broker.bootstrap_servers, topic, retry_max_seconds=0.5
    ) as harness:
        case_id = uuid.uuid4()
        stuck = assessment(case_id, "transient-1000000")
        await harness.send_event(stuck)
        await harness.send_event(assessment(case_id, "next"))

        assert await harness.labels_when(1) == ["next"]
        [dead] = await harness.dead_letters(1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert headers[EventHeaders.DLQ_REASON].startswith("transient-gave-up")
    assert headers[EventHeaders.DLQ_ERROR_CLASS] == "ConnectionResetError"
    assert headers[EventHeaders.EVENT_ID] == str(stuck.event_id)


async def test_a_batch_with_a_failing_message_is_handled_one_by_one_each_once_in_order(
    database_url: str, broker: Broker, topic: str
) -> None:
    case_id = uuid.uuid4()
    labels = [f"{n:02d}" for n in range(40)]
    labels[17] = "bug"
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        # Sent before the consumer starts, so that they are fetched together.
        for label in labels:
            event = assessment(case_id, label)
            await producer.send_and_wait(
                topic, event.model_dump_json().encode(), key=str(case_id).encode(), partition=2
            )
    finally:
        await producer.stop()
    async with running_harness(database_url, broker.bootstrap_servers, topic) as harness:
        handled = await harness.labels_when(39)
        [dead] = await harness.dead_letters(1)
    assert handled == [label for label in labels if label != "bug"]
    assert dict(dead.headers)[EventHeaders.DLQ_ERROR_CLASS] == b"ValueError"


async def _send_before_start(
    bootstrap_servers: str, topic: str, labels_by_partition: dict[int, list[str]]
) -> dict[int, list[Envelope]]:
    """Sent before the consumer starts, so that one fetch brings them all."""
    sent: dict[int, list[Envelope]] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        for partition, labels in labels_by_partition.items():
            case_id = uuid.uuid4()
            for label in labels:
                event = assessment(case_id, label)
                sent.setdefault(partition, []).append(event)
                await producer.send_and_wait(
                    topic,
                    event.model_dump_json().encode(),
                    key=str(case_id).encode(),
                    partition=partition,
                )
    finally:
        await producer.stop()
    return sent


async def test_what_one_fetch_brings_from_several_partitions_is_handled_in_one_transaction(
    database_url: str, broker: Broker, topic: str
) -> None:
    """Turns red if each partition's records get a transaction of their own again."""
    await _send_before_start(
        broker.bootstrap_servers, topic, {0: ["a1", "a2"], 1: ["b1", "b2"], 2: ["c1"]}
    )
    async with running_harness(database_url, broker.bootstrap_servers, topic) as harness:
        handled = await harness.labels_when(5)
        transactions = await harness.inbox_transactions()
    assert sorted(handled) == ["a1", "a2", "b1", "b2", "c1"]
    assert handled.index("a1") < handled.index("a2")
    assert handled.index("b1") < handled.index("b2")
    assert transactions == 1


async def test_a_message_failing_in_a_fetch_of_several_partitions_holds_back_only_its_own(
    database_url: str, broker: Broker, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Turns red if, once the shared transaction failed, the fetch were handled one message
    after another (the other partition would wait for the stuck one's retries), or if a
    partition done could not be fetched again while the other still retries."""
    sent = await _send_before_start(
        broker.bootstrap_servers, topic, {0: ["transient-1000000", "behind"], 1: ["other"]}
    )
    async with running_harness(
        database_url, broker.bootstrap_servers, topic, retry_max_seconds=8
    ) as harness:
        assert await harness.labels_when(1) == ["other"]
        await eventually(lambda: _committed_to(harness, 1, 1))
        await harness.send_event(assessment(uuid.uuid4(), "other-again"), partition=1)
        assert await harness.labels_when(2) == ["other", "other-again"]
        # Partition 0 is still retrying its stuck message meanwhile.
        assert await harness.committed(0) in (None, 0)
        assert await harness.labels_when(3) == ["other", "other-again", "behind"]
        [dead] = await harness.dead_letters(1)
    assert not [record for record in caplog.records if "task died" in record.getMessage()]
    headers = dict(dead.headers)
    assert headers[EventHeaders.DLQ_ORIGINAL_PARTITION] == b"0"
    assert headers[EventHeaders.DLQ_ORIGINAL_OFFSET] == b"0"
    assert attempts[sent[0][0].event_id] > 2


def _effect_of(envelope: Envelope, payload: RiskAssessed) -> list[Write]:
    """One write per event, and a second for those labelled "twice"."""
    effect = (EFFECT, (envelope.event_id, envelope.case_id, payload.reasons[0]))
    return [effect, effect] if payload.reasons[0] == "twice" else [effect]


async def test_a_projection_makes_a_batchs_writes_once_each_duplicates_included(
    database_url: str, broker: Broker, topic: str
) -> None:
    """Turns red if a projection's writes are lost or doubled in a batch, or a redelivered
    event is projected again."""
    sent = await _send_before_start(
        broker.bootstrap_servers, topic, {0: ["a", "twice", "b"], 1: ["c"], 2: ["d"]}
    )
    async with running_harness(
        database_url, broker.bootstrap_servers, topic, Projection(_effect_of)
    ) as harness:
        await harness.send_event(sent[0][0], partition=0)  # "a" again
        await harness.send_event(assessment(uuid.uuid4(), "after"), partition=0)
        labels = await harness.labels_when(7)
    assert sorted(labels) == ["a", "after", "b", "c", "d", "twice", "twice"]


async def _own_effect(
    connection: asyncpg.Connection, envelope: Envelope, payload: RiskAssessed
) -> None:
    await insert_effect(connection, envelope, f"own-{payload.reasons[0]}")


async def test_a_projections_handler_runs_first_where_concerned_and_its_writes_after_all(
    database_url: str, broker: Broker, topic: str
) -> None:
    """Turns red if a projection's own handler is not run, is run for an event its
    selective handler is not concerned with, or its writes are made one event at a time
    (between the handlers) instead of grouped after them, in the batch's one transaction."""
    await _send_before_start(
        broker.bootstrap_servers, topic, {0: ["a", NOT_OURS], 1: ["b"], 2: ["c"]}
    )
    handler = Projection(
        _effect_of,
        handler=Selective(_own_effect, concerns=lambda payload: payload.reasons != [NOT_OURS]),
    )
    async with running_harness(database_url, broker.bootstrap_servers, topic, handler) as harness:
        labels = await harness.labels_when(7)
        transactions = await harness.inbox_transactions()
    assert sorted(labels[:3]) == ["own-a", "own-b", "own-c"]
    assert sorted(labels[3:]) == ["a", "b", "c", NOT_OURS]
    assert labels.index("a") < labels.index(NOT_OURS)
    assert transactions == 1
