"""Rebuild reporting's projections by replaying the topics (issue 12, item 7).

    python -m hhc_reporting rebuild      (or: hhc-dev reporting rebuild)

Builds every projection afresh in a schema of its own (``<DB_SCHEMA>_rebuild``, made by
reporting's own migrations), reading every topic reporting reads from the beginning with
a new consumer group (``<CONSUMER_GROUP>-rebuild-<time>``, manually assigned, so the live
group's offsets and members are untouched), in batches. When caught up it swaps them in
in one transaction: it locks the live projections (the live consumer's next write waits,
readers wait a moment), reads what arrived meanwhile, drops the live tables and moves the
rebuilt ones into the service's schema. The live consumer then carries on writing into
the rebuilt tables; an event both applied is applied twice harmlessly (every write is
idempotent and order-free: handlers.py). The inbox, outbox and schedule are not
projections and are kept.

Events are checked as the live consumer checks them (the catalogue's trust rule): a
forged or misrouted one, dead-lettered there, is skipped here.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from hhc_chassis.consumer import InvalidMessage, decode, grouped
from hhc_chassis.db import Write
from hhc_chassis.kafka import connection_options, decode_headers, end_offsets
from hhc_contracts import EventHeaders
from hhc_contracts.trust import trust_problem
from hhc_reporting.app import MIGRATIONS
from hhc_reporting.handlers import HANDLERS, TOPICS, writes_for
from hhc_reporting.settings import ReportingSettings

log = logging.getLogger(__name__)

PROJECTIONS = (
    "case_events",
    "case_facts",
    "overdue_actions",
    "referrals",
    "enforcement_steps",
    "satisfaction_scores",
)
"""Reporting's tables built from events alone, in the order the handlers write them (the
swap locks them in this order, as the live consumer takes them, so neither waits for the
other in a circle)."""


@dataclass(frozen=True, slots=True)
class Rebuilt:
    events: int
    skipped: int
    seconds: float
    group: str

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class _Replay:
    def __init__(self, settings: ReportingSettings, connection: asyncpg.Connection) -> None:
        self.settings = settings
        self.connection = connection
        self.group = f"{settings.group_id}-rebuild-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        self.consumer = AIOKafkaConsumer(
            **connection_options(settings),
            client_id=f"hhc-{settings.service_name}-rebuild",
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        self.partitions: list[TopicPartition] = []
        self.events = 0
        self.skipped = 0

    async def start(self) -> None:
        await self.consumer.start()
        await self.consumer.topics()  # loads the metadata partitions_for_topic reads
        self.partitions = [
            TopicPartition(topic, partition)
            for topic in TOPICS
            for partition in sorted(self.consumer.partitions_for_topic(topic) or ())
        ]
        self.consumer.assign(self.partitions)
        await self.consumer.seek_to_beginning(*self.partitions)

    async def stop(self) -> None:
        await self.consumer.stop()

    def _writes(self, record: ConsumerRecord[bytes, bytes]) -> list[Write]:
        try:
            envelope, payload = decode(record.value, HANDLERS)
        except InvalidMessage:
            self.skipped += 1
            return []
        producer = decode_headers(record.headers).get(EventHeaders.PRODUCER)
        if envelope.event_type not in HANDLERS or trust_problem(
            record.topic, producer, envelope, payload
        ):
            self.skipped += 1
            return []
        self.events += 1
        return writes_for(envelope, payload)

    async def catch_up(self, batch_size: int) -> None:
        """Apply everything up to the end offsets as they are now, one transaction and
        one offset commit per batch."""
        ends = await end_offsets(self.partitions, **connection_options(self.settings))
        behind = {tp for tp, end in ends.items() if await self.consumer.position(tp) < end}
        while behind:
            batches = await self.consumer.getmany(*behind, timeout_ms=1000, max_records=batch_size)
            writes = [self._writes(record) for records in batches.values() for record in records]
            async with self.connection.transaction():
                for statement, arguments in grouped(writes).items():
                    await self.connection.executemany(statement, arguments)
            if batches:
                await self.consumer.commit(
                    {
                        tp: OffsetAndMetadata(records[-1].offset + 1, "")
                        for tp, records in batches.items()
                        if records
                    }
                )
            behind = {tp for tp in behind if await self.consumer.position(tp) < ends[tp]}


async def rebuild(settings: ReportingSettings, *, batch_size: int = 5000) -> Rebuilt:
    """Rebuild the projections from the topics and swap them in (module docstring)."""
    live = settings.schema_name
    staging = f"{live}_rebuild"
    started = time.perf_counter()
    connection = await asyncpg.connect(
        settings.database_url, command_timeout=settings.db_command_timeout_seconds
    )
    replay = _Replay(settings, connection)
    try:
        async with connection.transaction():
            await connection.execute(f'DROP SCHEMA IF EXISTS "{staging}" CASCADE')
            await connection.execute(f'CREATE SCHEMA "{staging}"')
            await connection.execute(f'SET LOCAL search_path TO "{staging}"')
            for _, sql in MIGRATIONS.files():
                await connection.execute(sql)
        await connection.execute(f'SET search_path TO "{staging}"')
        await replay.start()
        await replay.catch_up(batch_size)
        async with connection.transaction():
            tables = ", ".join(f'"{live}"."{table}"' for table in PROJECTIONS)
            await connection.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
            await replay.catch_up(batch_size)
            for table in PROJECTIONS:
                await connection.execute(f'DROP TABLE "{live}"."{table}"')
                await connection.execute(f'ALTER TABLE "{staging}"."{table}" SET SCHEMA "{live}"')
        await connection.execute(f'DROP SCHEMA "{staging}" CASCADE')
        for table in PROJECTIONS:
            await connection.execute(f'ANALYZE "{live}"."{table}"')
    finally:
        await replay.stop()
        await connection.close()
    result = Rebuilt(replay.events, replay.skipped, time.perf_counter() - started, replay.group)
    log.info(
        "projections rebuilt",
        extra={"events": result.events, "skipped": result.skipped, "group": result.group},
    )
    return result


def main() -> None:
    result = asyncio.run(rebuild(ReportingSettings()))
    print(
        f"rebuilt reporting's projections from {result.events} events "
        f"({result.skipped} skipped) in {result.seconds:.1f} s, "
        f"{result.events_per_second:.0f} events/s; consumer group {result.group}"
    )
