"""The outbox relay against a real PostgreSQL and a real broker."""

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from hhc_chassis.db import connect, migrate
from hhc_chassis.kafka import Publisher
from hhc_chassis.outbox import OutboxRelay, OutboxState, Sender, enqueue, outbox_state
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Envelope, Topic
from hhc_devstack.pytest_plugin import Broker, eventually, kafka_consumer

from .support import assessment, settings_for


@contextlib.asynccontextmanager
async def kafka_publish(
    settings: ServiceSettings, **producer_options: Any
) -> AsyncIterator[Publisher]:
    publisher = Publisher(settings, **producer_options)
    await publisher.connect()
    try:
        yield publisher
    finally:
        await publisher.close()


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(relay.run())
    try:
        yield task
    finally:
        relay.stop()
        await asyncio.wait_for(task, 10)


def relay_for(
    settings: ServiceSettings,
    sender: Sender,
    connect_with: Callable[[], Awaitable[asyncpg.Connection]] | None = None,
    **options: float,
) -> OutboxRelay:
    return OutboxRelay(
        connect=connect_with or (lambda: connect(settings)),
        sender=sender,
        schema=settings.schema_name,
        idle_poll_seconds=options.get("idle_poll_seconds", 0.5),
        max_backoff_seconds=options.get("max_backoff_seconds", 0.2),
        batch_size=int(options.get("batch_size", 200)),
        stall_seconds=options.get("stall_seconds", 30),
        unknown_topic_grace_seconds=options.get("unknown_topic_grace_seconds", 300),
        send_timeout_seconds=options.get("send_timeout_seconds", 15),
    )


class FlakySender:
    """The real publisher, failing the sends that ``fails`` picks (a broker that refuses)."""

    def __init__(self, publisher: Publisher, fails: Callable[[str], bool]) -> None:
        self._publisher = publisher
        self._fails = fails
        self.refused = 0

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> "asyncio.Future[Any]":
        if self._fails(json.loads(value)["payload"]["reasons"][0]):
            self.refused += 1
            raise ConnectionError("broker went away")
        return await self._publisher.send(topic, key, value, headers)

    async def topic_exists(self, topic: str, timeout: float) -> bool:  # noqa: ASYNC109
        return await self._publisher.topic_exists(topic, timeout)


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


async def state_of(settings: ServiceSettings) -> OutboxState:
    connection = await connect(settings)
    try:
        return await outbox_state(connection)
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
        kafka_publish(settings) as publish,
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

    def fails(label: str) -> bool:
        nonlocal failures_left
        if label == "2" and failures_left > 0:
            failures_left -= 1
            return True
        return False

    async with (
        kafka_publish(settings) as publisher,
        running(relay_for(settings, FlakySender(publisher, fails))),
    ):
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
    async with kafka_publish(settings) as publish:
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
    async with kafka_publish(settings) as publish:
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


async def test_a_failing_row_holds_back_only_the_later_rows_of_its_own_case(
    settings: ServiceSettings, broker: Broker
) -> None:
    stuck, flowing = uuid.uuid4(), uuid.uuid4()
    await stage(settings, [assessment(stuck, f"stuck-{n}") for n in range(3)])
    await stage(settings, [assessment(flowing, f"flowing-{n}") for n in range(3)])
    broker_refuses = True

    async with kafka_publish(settings) as publisher:
        sender = FlakySender(publisher, lambda label: broker_refuses and label == "stuck-0")
        async with running(relay_for(settings, sender)):
            labels = await read_labels(broker.bootstrap_servers, {flowing}, 3)
            assert labels[flowing] == ["flowing-0", "flowing-1", "flowing-2"]
            await eventually(lambda: asyncio.sleep(0, result=sender.refused >= 2))
            # stuck-1 and stuck-2 were never handed to the broker ahead of stuck-0.
            assert (await state_of(settings)).unpublished == 3
            broker_refuses = False
            labels = await read_labels(broker.bootstrap_servers, {stuck}, 3)
    assert labels[stuck] == ["stuck-0", "stuck-1", "stuck-2"]


async def test_a_row_too_large_to_publish_is_parked_and_released_by_the_operator_command(
    settings: ServiceSettings, broker: Broker
) -> None:
    case_id, other = uuid.uuid4(), uuid.uuid4()
    await stage(settings, [assessment(case_id, "x" * 6000), assessment(case_id, "after")])
    await stage(settings, [assessment(other, "unaffected")])

    async def parked() -> int:
        return (await state_of(settings)).parked

    async with (
        kafka_publish(settings, max_request_size=4096) as small_publisher,
        running(relay_for(settings, small_publisher)),
    ):
        labels = await read_labels(broker.bootstrap_servers, {other}, 1)
        assert labels[other] == ["unaffected"]
        assert await eventually(parked) == 1
    connection = await connect(settings)
    try:
        row = await connection.fetchrow(
            "SELECT last_error, parked_at, attempts FROM outbox WHERE parked_at IS NOT NULL"
        )
        after = await connection.fetchval(
            "SELECT published_at FROM outbox WHERE payload->'payload'->'reasons'->>0 = 'after'"
        )
    finally:
        await connection.close()
    assert row["last_error"].startswith("MessageSizeTooLargeError")
    assert row["attempts"] == 1
    assert after is None, "a later row of the parked row's case went out ahead of it"

    # The operator raises the limit (here: a relay with the default size) and releases it.
    released = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hhc_chassis.outbox_cli",
        "retry-parked",
        "--service",
        "risk",
        env={
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "DB_SCHEMA": settings.schema_name,
        },
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await released.communicate()
    assert released.returncode == 0
    assert json.loads(output)["released"] == 1
    async with kafka_publish(settings) as publisher, running(relay_for(settings, publisher)):
        labels = await read_labels(broker.bootstrap_servers, {case_id}, 2)
        await eventually(lambda: _none_left(settings))
    assert labels[case_id] == ["x" * 6000, "after"]


class NoSuchTopics:
    """A broker that does not create topics on first use (Apache Kafka with
    auto.create.topics.enable=false); Tansu creates them, so this stands in."""

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> "asyncio.Future[Any]":
        raise AssertionError("nothing may be sent to a topic the broker does not know")

    async def topic_exists(self, topic: str, timeout: float) -> bool:  # noqa: ASYNC109
        return False


async def test_a_row_for_an_unknown_topic_is_retried_for_its_grace_period_then_parked(
    settings: ServiceSettings,
) -> None:
    await stage(settings, [assessment(uuid.uuid4(), "early")])
    relay = relay_for(settings, NoSuchTopics(), unknown_topic_grace_seconds=0.5)
    connection = await connect(settings)
    try:
        first = await relay.publish_due(connection)
        assert (first.failed, first.parked) == (1, 0)  # within its grace: backing off
        await connection.execute("UPDATE outbox SET next_attempt_at = now()")
        await asyncio.sleep(0.6)  # the grace period itself is what is under test
        second = await relay.publish_due(connection)
        assert (second.failed, second.parked) == (1, 1)
        reason = await connection.fetchval("SELECT last_error FROM outbox")
    finally:
        await connection.close()
    assert reason.startswith("UnknownTopicOrPartitionError")


async def test_a_leader_cut_off_from_the_broker_hands_over_to_a_relay_that_can_publish(
    settings: ServiceSettings, broker: Broker, isolated_broker: Broker
) -> None:
    case_id = uuid.uuid4()
    cut_off_settings = settings.model_copy(
        update={
            "kafka_bootstrap_servers": isolated_broker.bootstrap_servers,
            "relay_send_timeout_seconds": 1.5,
        }
    )
    async with (
        kafka_publish(cut_off_settings) as cut_off,
        kafka_publish(settings) as healthy,
    ):
        first = relay_for(settings, cut_off, stall_seconds=2, send_timeout_seconds=1.5)
        second = relay_for(settings, healthy, stall_seconds=2)
        async with running(first):
            await eventually(lambda: asyncio.sleep(0, result=first.is_leader))
            async with running(second):
                isolated_broker.make_unavailable()
                try:
                    await stage(settings, [assessment(case_id, f"{n:02d}") for n in range(10)])
                    await eventually(
                        lambda: asyncio.sleep(0, result=second.is_leader),
                        timeout=60,
                        message="the cut-off leader kept the lock",
                    )
                    labels = await read_labels(broker.bootstrap_servers, {case_id}, 10)
                    await eventually(lambda: _none_left(settings))
                finally:
                    isolated_broker.make_available()
    assert first.handovers >= 1
    assert labels[case_id] == [f"{n:02d}" for n in range(10)]


async def test_with_nothing_to_publish_the_relay_waits_for_the_poll_or_a_notify(
    settings: ServiceSettings,
) -> None:
    """An idle relay that loops at once costs a core and thousands of queries a second."""
    relay = relay_for(settings, NoSuchTopics(), idle_poll_seconds=7)
    connection = await connect(settings)
    try:
        idle = await relay.publish_due(connection)
    finally:
        await connection.close()
    assert (idle.pending, idle.wait_seconds) == (False, 7)


async def test_after_a_failed_send_the_relay_keeps_asking_when_the_row_is_due_again(
    settings: ServiceSettings,
) -> None:
    """The relay skips that question once it has seen nothing waiting; a row backing off
    must bring it back, or the row would wait for the idle poll instead of its time."""
    relay = relay_for(settings, NoSuchTopics(), idle_poll_seconds=7)
    connection = await connect(settings)
    try:
        assert (await relay.publish_due(connection)).pending is False
        await stage(settings, [assessment(uuid.uuid4(), "backs off")])
        failed = await relay.publish_due(connection)
        backing_off = await relay.publish_due(connection)
    finally:
        await connection.close()
    assert failed.failed == 1
    assert backing_off.published == backing_off.failed == 0
    assert backing_off.pending is True
    assert backing_off.wait_seconds < 1


class TurnCountingSender:
    """Acknowledges each record at once and notes the event loop's turn it was handed over
    in (``turns`` is advanced by a task that yields every turn)."""

    def __init__(self) -> None:
        self.turns = 0
        self.handed_over_in: list[int] = []

    async def tick(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> "asyncio.Future[Any]":
        self.handed_over_in.append(self.turns)
        acknowledged: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged

    async def topic_exists(self, topic: str, timeout: float) -> bool:  # noqa: ASYNC109
        return True


async def test_a_batch_is_handed_to_the_producer_without_a_turn_of_the_loop_per_row(
    settings: ServiceSettings,
) -> None:
    """Intake's loop also serves requests: a relay that waited a turn per row (a task per
    send) published a busy batch row by row behind them (measured: 266 ms, not 514, from a
    report's POST to its event at 50 reports/s once it stopped)."""
    await stage(settings, [assessment(uuid.uuid4(), str(n)) for n in range(50)])
    sender = TurnCountingSender()
    ticker = asyncio.create_task(sender.tick())
    connection = await connect(settings)
    try:
        outcome = await relay_for(settings, sender).publish_due(connection)
    finally:
        ticker.cancel()
        await connection.close()
    assert outcome.published == 50
    assert len(sender.handed_over_in) == 50
    assert len(set(sender.handed_over_in)) == 1, "the loop turned between two rows"
    assert await unpublished(settings) == 0


class StagingWhileOutSender(TurnCountingSender):
    """Acknowledges each record, and while the first batch is out another transaction
    writes a row, as a request would."""

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__()
        self.settings = settings
        self.sent_labels: list[str] = []

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> "asyncio.Future[Any]":
        label = Envelope.model_validate_json(value).payload["reasons"][0]
        self.sent_labels.append(label)
        if label == "first":
            await stage(self.settings, [assessment(uuid.uuid4(), "written meanwhile")])
        return await super().send(topic, key, value, headers)


class StatementCounter:
    """The relay's connection, counting the statements sent on it."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.statements: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.connection, name)
        if name not in ("fetch", "fetchval", "fetchrow", "execute"):
            return method

        async def counted(query: str, *args: Any) -> Any:
            self.statements.append(query)
            return await method(query, *args)

        return counted


async def test_rows_written_while_a_batch_is_out_are_read_with_its_mark_and_go_next(
    settings: ServiceSettings,
) -> None:
    """Turns red if the relay marks a batch and reads the next in two round trips again,
    or if the rows read with the mark are lost, sent twice or left unmarked."""
    await stage(settings, [assessment(uuid.uuid4(), "first")])
    sender = StagingWhileOutSender(settings)
    relay = relay_for(settings, sender, idle_poll_seconds=7)
    connection = await connect(settings)
    counted = StatementCounter(connection)
    try:
        first = await relay.publish_due(counted)  # type: ignore[arg-type]
        after_first = len(counted.statements)
        second = await relay.publish_due(counted)  # type: ignore[arg-type]
    finally:
        await connection.close()
    assert (first.published, first.wait_seconds) == (1, 0)
    assert after_first == 2, counted.statements  # the batch's read; its mark with the next read
    assert counted.statements[1].startswith("WITH marked AS (UPDATE outbox")
    assert second.published == 1
    assert not counted.statements[2].startswith("SELECT"), "the next batch was read again"
    assert sender.sent_labels == ["first", "written meanwhile"]
    assert await unpublished(settings) == 0


class KeptOpen:
    """The relay's connection, left open when the relay closes it, for the test to inspect
    the session the relay used."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)

    async def close(self) -> None:
        pass


async def test_the_relay_plans_each_pass_for_its_own_rows_however_large_the_outbox_grew(
    settings: ServiceSettings,
) -> None:
    """Turns red if the relay's statements run on generic plans: one made while the outbox
    was small read the whole table at every pass (a hash join over a sequential scan, up to
    4 ms a pass at 50 reports/s), and the table keeps its published rows for days."""
    sessions: list[KeptOpen] = []

    async def connect_kept() -> asyncpg.Connection:
        session = KeptOpen(await connect(settings))
        sessions.append(session)
        return session  # type: ignore[return-value]

    relay = relay_for(settings, TurnCountingSender(), connect_kept, idle_poll_seconds=0.2)
    passes = 8  # a prepared statement settles on a generic plan after five
    async with running(relay):
        for n in range(passes):
            await stage(settings, [assessment(uuid.uuid4(), str(n))])
            await eventually(
                lambda: _none_left(settings), timeout=10, message="a row was not published"
            )
    [session] = sessions
    connection = session.connection
    try:
        # The outbox as days of published rows make it.
        await connection.execute(
            """INSERT INTO outbox (event_id, event_type, topic, message_key, payload,
                   published_at)
               SELECT gen_random_uuid(), 'risk.assessed', 'hhc.risk.assessments.v1',
                   n::text, '{}'::jsonb, now()
               FROM generate_series(1, 20000) AS n"""
        )
        [mark] = await connection.fetch(
            """SELECT name, generic_plans, custom_plans FROM pg_prepared_statements
               WHERE statement LIKE 'WITH marked AS%'"""
        )
        newest = await connection.fetchval("SELECT max(id) FROM outbox")
        plan = await connection.fetch(
            f"EXPLAIN EXECUTE {mark['name']}(ARRAY[{newest}]::bigint[], ARRAY[NULL]::text[], 200)"
        )
    finally:
        await connection.close()
    assert mark["generic_plans"] == 0
    assert mark["custom_plans"] >= passes - 1
    steps = "\n".join(row[0] for row in plan)
    assert "Seq Scan on outbox" not in steps, steps
