"""Dead letters end to end, against real PG and broker: one record per failed message, a
metadata-only row, tools that never show the personal part, and a replay after the fix
that takes effect once and is not repeated."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from hhc_chassis.dead_letters import REPLAYED_FROM
from hhc_chassis.dlq_cli import main as dlq
from hhc_chassis.errors import PermanentError
from hhc_chassis.events import new_envelope
from hhc_chassis.service import ServiceDefinition, create_app
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Envelope, EventHeaders
from hhc_contracts.v1 import CaseTrackChanged, TrackChangePersonalData
from hhc_contracts.vocabulary import ReporterRole, Track
from hhc_devstack.infrastructure import create_topics, free_port
from hhc_devstack.pytest_plugin import Broker, eventually, kafka_consumer, serving

from .support import TEST_MIGRATIONS, insert_effect, settings_for

PLANTED = "Planted Survivorname 07700 900461"
cause = {"fixed": False}


async def track_changed(
    connection: asyncpg.Connection, envelope: Envelope, payload: CaseTrackChanged
) -> None:
    if not cause["fixed"]:
        # The message names the person, as a careless developer's might.
        raise PermanentError(f"cannot change the track: {payload.personal.reason}")
    await insert_effect(connection, envelope, payload.changed_by)


def track_change(case_id: uuid.UUID, changed_by: str) -> Envelope:
    now = datetime.now(UTC)
    payload = CaseTrackChanged(
        case_id=case_id,
        track=Track.CUSTOMER_CASE,
        previous_track=Track.HATE_CRIME_REPORTING_CENTRE,
        reporter_role=ReporterRole.SURVIVOR,
        changed_by=changed_by,
        changed_at=now,
        personal=TrackChangePersonalData(reason=PLANTED),
    )
    return new_envelope(payload, case_id=case_id, occurred_at=now)


@pytest.fixture
async def service_and_topic(
    database_url: str, broker: Broker, unique_topic: Callable[[str], str]
) -> AsyncIterator[tuple[ServiceSettings, str]]:
    topic = unique_topic("dlq")
    await create_topics(broker.bootstrap_servers, [topic, f"{topic}.dlq"])
    settings = settings_for(database_url, broker.bootstrap_servers, retry_max_attempts=2)
    definition = ServiceDefinition(
        settings=settings,
        migrations=TEST_MIGRATIONS,
        title="dead letters test",
        topics=[topic],
        handlers={"intake.case-track-changed": track_changed},
        trust=lambda *_: None,  # the test's topic is in no catalogue
    )
    async with serving(create_app(definition), free_port()) as url:
        async with httpx.AsyncClient(base_url=url) as client:

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, message="service never became ready")
        yield settings, topic


async def _publish(bootstrap_servers: str, topic: str, envelope: Envelope) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            envelope.model_dump_json().encode(),
            key=str(envelope.case_id).encode(),
            headers=[(name, value.encode()) for name, value in envelope.headers().items()],
        )
    finally:
        await producer.stop()


async def _query(settings: ServiceSettings, sql: str, *arguments: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute(f"SET search_path TO {settings.schema_name}")
        rows: list[asyncpg.Record] = await connection.fetch(sql, *arguments)
    finally:
        await connection.close()
    return rows


async def _dlq(
    capsys: pytest.CaptureFixture[str], settings: ServiceSettings, *arguments: str
) -> tuple[int, str]:
    capsys.readouterr()
    status = await asyncio.to_thread(dlq, [settings.service_name, *arguments], settings=settings)
    return status, capsys.readouterr().out


async def test_a_dead_letter_is_one_record_shown_without_its_personal_part_and_replayed_once(
    service_and_topic: tuple[ServiceSettings, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cause["fixed"] = False
    service, topic = service_and_topic
    case_id = uuid.uuid4()
    failing = track_change(case_id, "officer-1")
    await _publish(service.kafka_bootstrap_servers, topic, failing)

    async def recorded() -> list[asyncpg.Record]:
        return await _query(service, "SELECT * FROM dead_letters WHERE dlq_offset IS NOT NULL")

    [row] = await eventually(recorded, message="not dead-lettered")
    assert row["event_id"] == failing.event_id
    assert row["message_key"] == str(case_id)
    assert row["dlq_topic"] == f"{topic}.dlq"
    assert row["reason"] == "permanent-error: PermanentError"
    assert row["reason_class"] == "permanent-error"
    assert PLANTED not in repr(dict(row))

    async with kafka_consumer(service.kafka_bootstrap_servers, f"{topic}.dlq") as reader:
        copies: list[Any] = []

        async def arrived() -> bool:
            for records in (await reader.getmany(timeout_ms=200)).values():
                copies.extend(records)
            return bool(copies)

        await eventually(arrived, message="nothing on the dead-letter topic")
        for records in (await reader.getmany(timeout_ms=1000)).values():
            copies.extend(records)
    [copy] = copies
    headers = {name: value.decode() for name, value in copy.headers}
    assert copy.offset == row["dlq_offset"]
    assert copy.key == str(case_id).encode()
    assert headers[EventHeaders.DLQ_CONSUMER] == service.group_id
    assert headers[EventHeaders.EVENT_ID] == str(failing.event_id)
    assert PLANTED not in json.dumps(headers)

    status, listed = await _dlq(capsys, service, "list", "--topic", topic)
    assert status == 0
    [count] = json.loads(listed)["counts"]
    assert (count["reason"], count["dead_letters"], count["not_replayed"]) == (
        "permanent-error",
        1,
        1,
    )
    status, shown = await _dlq(capsys, service, "show", str(row["id"]))
    assert status == 0
    message = json.loads(shown)["message"]
    assert message["envelope"]["event_id"] == str(failing.event_id)
    assert "changed_by" in message["payload_fields"]
    assert "personal" not in message["payload_fields"]
    assert PLANTED not in listed + shown

    status, planned = await _dlq(
        capsys, service, "replay", "--reason", "permanent-error", "--operator", "x", "--dry-run"
    )
    assert [replay["outcome"] for replay in json.loads(planned)["replays"]] == ["would replay"]

    cause["fixed"] = True
    replay = ["replay", "--id", str(row["id"]), "--operator", "oncall-ann"]
    status, replayed = await _dlq(capsys, service, *replay)
    assert status == 0, replayed
    [outcome] = json.loads(replayed)["replays"]
    assert outcome["outcome"] == "replayed"

    async def effects() -> list[asyncpg.Record]:
        return await _query(service, "SELECT event_id FROM effects")

    assert [effect["event_id"] for effect in await eventually(effects)] == [failing.event_id]
    [after] = await _query(service, "SELECT * FROM dead_letters")
    assert after["replayed_by"] == "oncall-ann"
    assert after["replayed_at"] is not None

    status, refused = await _dlq(capsys, service, *replay)
    assert status == 1
    assert "replayed already by oncall-ann" in json.loads(refused)["replays"][0]["why"]

    # Replayed again on purpose: the inbox absorbs it. A later event of the same case (same
    # partition, so handled after it) shows the consumer has passed it.
    status, _ = await _dlq(capsys, service, *replay, "--again")
    assert status == 0
    later = track_change(case_id, "officer-2")
    await _publish(service.kafka_bootstrap_servers, topic, later)

    async def both() -> list[asyncpg.Record] | None:
        rows = await effects()
        return rows if len(rows) >= 2 else None

    assert [effect["event_id"] for effect in await eventually(both)] == [
        failing.event_id,
        later.event_id,
    ]
    [again] = await _query(service, "SELECT replay_count FROM dead_letters")
    assert again["replay_count"] == 2
    async with kafka_consumer(service.kafka_bootstrap_servers, topic) as source:
        replays: list[dict[str, str]] = []

        async def replayed_twice() -> bool:
            for records in (await source.getmany(timeout_ms=200)).values():
                replays.extend(
                    headers
                    for record in records
                    if REPLAYED_FROM in (headers := {n: v.decode() for n, v in record.headers})
                )
            return len(replays) >= 2

        await eventually(replayed_twice, message="replays not on the source topic")
    assert {headers[REPLAYED_FROM] for headers in replays} == {
        f"{topic}.dlq/{copy.partition}/{copy.offset}"
    }
    assert not any(name.startswith("hhc-dlq-") for headers in replays for name in headers)
