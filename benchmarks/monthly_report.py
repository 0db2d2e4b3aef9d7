"""The monthly report over 1,000,000 cases, and the rebuild's replay rate beside a raw
aiokafka + asyncpg baseline, in the same run (issue 12, "Performance").

    uv run python benchmarks/monthly_report.py [--cases 1000000] [--events 100000]
    uv run python benchmarks/monthly_report.py --cases 50000 --events 20000   # quick

Uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, otherwise starts the embedded
PostgreSQL and Tansu (as benchmarks/outbox_relay.py does), and a development issuer.
Prints:
- the time to generate ``--cases`` cases into reporting's projections (COPY), spread over
  twelve months, with overdue actions, referrals, enforcement steps and survey answers;
- GET /v1/reports/monthly (JSON, target < 500 ms) and /v1/reports/monthly/{month}.html
  (target < 1 s) for one of those months, served by the reporting service in this
  process: median and slowest of several requests;
- replay: ``--events`` events (four per case: report received, risk assessed, first
  response recorded, case closed) on the topics, read from the beginning by a raw
  baseline (batched getmany, JSON-decoded, COPY into a table) and by ``rebuild`` (decode,
  trust check, projections, swap), in events/s (target >= 5,000).
The timeline (case_events) is not generated for the million cases: the report does not
read it; the rebuild builds it for the events replayed.
"""

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from outbox_relay import infrastructure  # type: ignore[import-not-found]  # a sibling script
from pydantic import BaseModel

from hhc_chassis.db import migrate
from hhc_chassis.events import new_envelope, topic_of
from hhc_chassis.kafka import end_offsets
from hhc_contracts import EventHeaders, event_spec, v1
from hhc_contracts.examples import example_message
from hhc_contracts.vocabulary import (
    ActionKind,
    CaseStatus,
    Channel,
    Classification,
    ClosureReason,
    EnforcementStep,
    Partner,
    PerceivedMotivation,
    ReferralStatus,
    RiskLevel,
    SaferFeeling,
    Track,
)
from hhc_devstack.infrastructure import create_database, create_topics
from hhc_devstack.issuer import DevIssuer
from hhc_devstack.pytest_plugin import serving_service
from hhc_reporting.app import MIGRATIONS, definition
from hhc_reporting.handlers import TOPICS
from hhc_reporting.rebuild import rebuild
from hhc_reporting.settings import ReportingSettings

FIRST_MONTH = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 24 * 3600
REPORT_MONTH = "2025-06"
REQUESTS = 7


def _values(enum: Any) -> list[str]:
    return [member.value for member in enum]


def case_rows(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    classifications = _values(Classification)
    channels = _values(Channel)
    tracks = _values(Track)
    motivations = _values(PerceivedMotivation)
    levels = _values(RiskLevel)
    reasons = _values(ClosureReason)
    for index in range(count):
        # In the order they arrive, as a live projection stores them.
        reported = FIRST_MONTH + timedelta(seconds=YEAR_SECONDS * index / count)
        assessed = reported + timedelta(minutes=1)
        responded = (
            reported + timedelta(seconds=rng.expovariate(1 / 30000))
            if rng.random() < 0.95
            else None
        )
        closed = reported + timedelta(days=rng.randrange(1, 60)) if rng.random() < 0.6 else None
        yield (
            uuid.uuid4(),
            reported,
            rng.choice(channels),
            rng.choices(classifications, weights=(60, 25, 15))[0],
            rng.choice(tracks),
            reported,
            rng.sample(motivations, rng.randrange(3)),
            rng.choices(levels, weights=(50, 30, 20))[0],
            assessed,
            responded,
            closed,
            closed,
            rng.choice(reasons) if closed else None,
        )


CASE_COLUMNS = [
    "case_id",
    "reported_at",
    "channel",
    "classification",
    "track",
    "track_at",
    "perceived_motivation",
    "risk_level",
    "risk_assessed_at",
    "first_response_at",
    "status_at",
    "closed_at",
    "closure_reason",
]


def moment(rng: random.Random) -> datetime:
    return FIRST_MONTH + timedelta(seconds=rng.randrange(YEAR_SECONDS))


async def generate(connection: asyncpg.Connection, schema: str, cases: int) -> float:
    """Fill the projections with ``cases`` cases and what follows from them; seconds."""
    rng = random.Random(12)
    started = time.perf_counter()
    await connection.copy_records_to_table(
        "case_facts",
        records=case_rows(cases, rng),
        columns=CASE_COLUMNS,
        schema_name=schema,
    )
    await connection.copy_records_to_table(
        "overdue_actions",
        records=((uuid.uuid4(), uuid.uuid4(), moment(rng)) for _ in range(cases // 10)),
        schema_name=schema,
    )
    partners, statuses = _values(Partner), _values(ReferralStatus)
    await connection.copy_records_to_table(
        "referrals",
        records=(
            (uuid.uuid4(), uuid.uuid4(), rng.choice(partners), at, rng.choice(statuses), at)
            for at in (moment(rng) for _ in range(cases * 3 // 10))
        ),
        columns=["referral_id", "case_id", "partner", "made_at", "status", "status_at"],
        schema_name=schema,
    )
    steps = _values(EnforcementStep)
    await connection.copy_records_to_table(
        "enforcement_steps",
        records=(
            (uuid.uuid4(), uuid.uuid4(), rng.choice(steps), moment(rng)) for _ in range(cases // 20)
        ),
        schema_name=schema,
    )
    feelings = _values(SaferFeeling)
    await connection.copy_records_to_table(
        "satisfaction_scores",
        records=(
            (uuid.uuid4(), uuid.uuid4(), rng.randint(1, 5), rng.choice(feelings), moment(rng))
            for _ in range(cases * 15 // 100)
        ),
        schema_name=schema,
    )
    await connection.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


async def time_requests(client: httpx.AsyncClient, path: str) -> list[float]:
    await client.get(path)  # warm: the first request pays for connections and plans
    seconds = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        answer = await client.get(path)
        seconds.append(time.perf_counter() - started)
        answer.raise_for_status()
    return seconds


def like_example(model: type[BaseModel], **changes: Any) -> BaseModel:
    return model.model_validate({**example_message(event_spec(model)).payload, **changes})


def case_events(rng: random.Random) -> list[tuple[BaseModel, datetime]]:
    case_id = uuid.uuid4()
    received = moment(rng)
    responded = received + timedelta(hours=rng.randrange(1, 48))
    closed = received + timedelta(days=rng.randrange(1, 40))
    return [
        (
            like_example(
                v1.ReportReceived, case_id=case_id, report_id=uuid.uuid4(), received_at=received
            ),
            received,
        ),
        (
            like_example(
                v1.RiskAssessed,
                case_id=case_id,
                assessment_id=uuid.uuid4(),
                assessed_at=received,
            ),
            received,
        ),
        (
            v1.FirstResponseRecorded(
                case_id=case_id,
                action_id=uuid.uuid4(),
                kind=ActionKind.VISIT_WITH_RISK_ASSESSMENT,
                responded_at=responded,
                received_at=received,
            ),
            responded,
        ),
        (
            v1.CaseStatusChanged(
                case_id=case_id,
                status=CaseStatus.CLOSED,
                previous_status=CaseStatus.IN_PROGRESS,
                closure_reason=ClosureReason.RESOLVED,
                changed_by="bench",
                changed_at=closed,
            ),
            closed,
        ),
    ]


async def produce(bootstrap: str, events: int) -> int:
    rng = random.Random(7)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    sent = 0
    try:
        while sent < events:
            deliveries = []
            for _ in range(250):
                for payload, at in case_events(rng):
                    case_id = getattr(payload, "case_id")  # noqa: B009
                    envelope = new_envelope(payload, case_id=case_id, occurred_at=at)
                    deliveries.append(
                        await producer.send(
                            topic_of(envelope),
                            envelope.model_dump_json().encode(),
                            key=str(case_id).encode(),
                            headers=[(EventHeaders.PRODUCER, envelope.producer.encode())],
                        )
                    )
            await asyncio.gather(*deliveries)
            sent += len(deliveries)
    finally:
        await producer.stop()
    return sent


async def baseline(bootstrap: str, database_url: str) -> tuple[int, float]:
    """The simplest fast replay: batched reads, JSON decode, COPY per batch."""
    connection = await asyncpg.connect(database_url)
    await connection.execute(
        """CREATE TABLE IF NOT EXISTS baseline_events (
               event_id uuid, event_type text, case_id uuid, occurred_at timestamptz)"""
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"bench-baseline-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    events = 0
    try:
        started = time.perf_counter()
        await consumer.topics()
        partitions = [
            TopicPartition(topic, partition)
            for topic in TOPICS
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await end_offsets(partitions, bootstrap_servers=bootstrap)
        behind = {tp for tp, end in ends.items() if end > 0}
        while behind:
            batches = await consumer.getmany(*behind, timeout_ms=1000, max_records=5000)
            rows = []
            for records in batches.values():
                for record in records:
                    message = json.loads(record.value or b"{}")
                    rows.append(
                        (
                            uuid.UUID(message["event_id"]),
                            message["event_type"],
                            uuid.UUID(message["case_id"]) if message.get("case_id") else None,
                            datetime.fromisoformat(message["occurred_at"]),
                        )
                    )
            async with connection.transaction():
                await connection.copy_records_to_table("baseline_events", records=rows)
            events += len(rows)
            behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
        return events, time.perf_counter() - started
    finally:
        await consumer.stop()
        await connection.close()


def summary(seconds: list[float]) -> str:
    return (
        f"median {statistics.median(seconds) * 1000:7.0f} ms   "
        f"slowest {max(seconds) * 1000:7.0f} ms"
    )


async def measure(bootstrap: str, server_url: str, cases: int, events: int) -> None:
    await create_topics(bootstrap)
    database_url = await create_database(server_url, f"bench_{uuid.uuid4().hex[:8]}")
    issuer = DevIssuer(Path(tempfile.mkdtemp(prefix="hhc-bench-issuer-"))).start()
    try:
        settings = ReportingSettings(
            database_url=database_url,
            kafka_bootstrap_servers=bootstrap,
            consumer_group=f"bench-reporting-{uuid.uuid4().hex[:8]}",
            homes_managed=250_000,
            oidc_issuer=issuer.issuer,
            oidc_jwks_url=issuer.jwks_url,
        )
        await migrate(settings, [MIGRATIONS])
        connection = await asyncpg.connect(database_url)
        generated = await generate(connection, settings.schema_name, cases)
        await connection.close()
        print(f"cases generated (COPY)          {cases:10d}       ({generated:.1f} s)")

        # Before the service starts: its live consumer starts at the end of the topics and
        # leaves them to the replays, measured after it stopped (a rebuild runs as a
        # process of its own).
        produced = await produce(bootstrap, events)
        token = issuer.token(roles=["reporting_reader"])
        async with (
            serving_service(definition(settings)) as urls,
            httpx.AsyncClient(
                base_url=urls.staff,
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ) as client,
        ):
            as_json = await time_requests(client, f"/v1/reports/monthly?month={REPORT_MONTH}")
            as_html = await time_requests(client, f"/v1/reports/monthly/{REPORT_MONTH}.html")
            print(f"monthly report, JSON            {summary(as_json)}   (target < 500 ms)")
            print(f"monthly report, HTML            {summary(as_html)}   (target < 1000 ms)")
        raw_events, raw_seconds = await baseline(bootstrap, database_url)
        rebuilt = await rebuild(settings)
        print(f"events on the topics            {produced:10d}")
        print(
            f"replay baseline (raw)           {raw_events / raw_seconds:10.0f} events/s  "
            f"({raw_events} in {raw_seconds:.1f} s)"
        )
        print(
            f"rebuild (projections + swap)    {rebuilt.events_per_second:10.0f} events/s  "
            f"({rebuilt.events} in {rebuilt.seconds:.1f} s; target >= 5,000)"
        )
        print(f"rebuild / baseline              {raw_seconds / rebuilt.seconds:10.2f}")
    finally:
        issuer.stop()


def main(cases: int, events: int) -> None:
    with infrastructure() as (bootstrap, database):
        asyncio.run(measure(bootstrap, database, cases, events))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    options = parser.parse_args()
    main(options.cases, options.events)
