"""Outbox relay throughput against a raw aiokafka baseline, in the same run.

    uv run python benchmarks/outbox_relay.py [--events 5000]

Uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, otherwise starts the embedded
PostgreSQL and Tansu. Prints events per second for:
- baseline: one aiokafka producer handing over every message at once, then awaiting
  all acknowledgements (the strongest simple way to publish);
- relay: the chassis outbox relay publishing the same number of staged rows, with its
  per-row trace context, order per case, and marking rows published.
The relay should stay within a small factor of the baseline; it pays for reading the
rows, a producer span per row and a database round trip per batch.
"""

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

from hhc_chassis.db import connect, migrate
from hhc_chassis.events import new_envelope
from hhc_chassis.kafka import Publisher
from hhc_chassis.outbox import OutboxRelay, enqueue
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Envelope, Topic
from hhc_contracts.v1 import RiskAssessed
from hhc_contracts.vocabulary import RiskLevel
from hhc_devstack.infrastructure import (
    EmbeddedBroker,
    EmbeddedPostgres,
    create_database,
    create_topics,
)


@contextlib.contextmanager
def infrastructure() -> Iterator[tuple[str, str]]:
    broker = postgres = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    try:
        if not bootstrap:
            broker = EmbeddedBroker()
            broker.start()
            bootstrap = broker.bootstrap_servers
        if not database:
            postgres = EmbeddedPostgres(data_dir=Path(tempfile.mkdtemp(prefix="hhc-bench-")))
            postgres.start()
            database = postgres.url
        yield bootstrap, database
    finally:
        if broker:
            broker.stop()
        if postgres:
            postgres.stop()


def envelopes(count: int) -> list[Envelope]:
    """The same kind of event for both measurements: one per case, as in real traffic."""
    now = datetime.now(UTC)
    events = []
    for _ in range(count):
        case_id = uuid.uuid4()
        assessed = RiskAssessed(
            assessment_id=uuid.uuid4(),
            case_id=case_id,
            risk_level=RiskLevel.STANDARD,
            basis="bench",
            assessed_at=now,
        )
        events.append(new_envelope(assessed, case_id=case_id, occurred_at=now))
    return events


async def baseline(bootstrap: str, values: list[bytes]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        started = time.perf_counter()
        deliveries = [
            await producer.send(Topic.RISK_ASSESSMENTS.value, value, key=str(index).encode())
            for index, value in enumerate(values)
        ]
        await asyncio.gather(*deliveries)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def relay(bootstrap: str, server_url: str, count: int) -> float:
    database_url = await create_database(server_url, f"bench_{uuid.uuid4().hex[:8]}")
    settings = ServiceSettings(
        service_name="bench", database_url=database_url, kafka_bootstrap_servers=bootstrap
    )
    await migrate(settings, [])
    connection = await connect(settings)
    async with connection.transaction():
        await enqueue(connection, envelopes(count))
    publisher = Publisher(settings)
    await publisher.connect()
    outbox_relay = OutboxRelay(
        connect=lambda: connect(settings),
        sender=publisher,
        schema=settings.schema_name,
        batch_size=settings.relay_batch_size,
        idle_poll_seconds=0.05,
    )
    started = time.perf_counter()
    running = asyncio.create_task(outbox_relay.run())
    # Polling the database is the measurement: the relay has no completion signal.
    while await connection.fetchval(  # noqa: ASYNC110
        "SELECT count(*) FROM outbox WHERE published_at IS NULL"
    ):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    outbox_relay.stop()
    await running
    await publisher.close()
    await connection.close()
    return elapsed


async def measure(bootstrap: str, database: str, count: int) -> tuple[float, float]:
    await create_topics(bootstrap)
    values = [envelope.model_dump_json().encode() for envelope in envelopes(count)]
    return await baseline(bootstrap, values), await relay(bootstrap, database, count)


def main(count: int) -> None:
    with infrastructure() as (bootstrap, database):
        raw, relayed = asyncio.run(measure(bootstrap, database, count))
    print(f"events                          {count}")
    print(f"baseline aiokafka, batched      {count / raw:10.0f} events/s  ({raw:.2f} s)")
    print(f"outbox relay                    {count / relayed:10.0f} events/s  ({relayed:.2f} s)")
    print(f"relay / baseline                {raw / relayed:10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    main(parser.parse_args().events)
