"""Operators' dead letters: list them, show one, replay chosen ones after the cause is fixed.

A dead-lettered message is one record on ``<topic>.dlq`` (key, value and headers of the
original, plus the ``hhc-dlq-*`` headers) and one metadata-only row in the consumer's
``dead_letters`` table pointing at that record. Nothing here prints the value: ``show``
gives the envelope's metadata and the names of the payload's fields outside ``personal``
(policy 3.5.1, personal data only to those who need it).

A replay publishes the record again to its original topic, marked ``hhc-replayed-from``,
and records who replayed it and when; a second replay of the same dead letter is refused
unless asked for again. Every consumer of that topic receives it; those that handled it
already skip it (their inbox has its event id).
"""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from hhc_chassis.kafka import Publisher, connection_options, decode_headers
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Envelope, EventHeaders

REPLAYED_FROM = "hhc-replayed-from"
"""Header on a replayed message: ``<dlq topic>/<partition>/<offset>`` it was read from."""

PERSONAL_PART = "personal"
READ_TIMEOUT_SECONDS = 15.0

_COLUMNS = """id, consumer, topic, kafka_partition, kafka_offset, message_key, event_id,
              event_type, reason, reason_class, error_class, attempts, dead_lettered_at,
              dlq_topic, dlq_partition, dlq_offset, replayed_at, replayed_by, replay_count"""


class DeadLetterUnavailable(Exception):
    """The dead letter's record cannot be read back from the dead-letter topic."""


@dataclass(frozen=True, slots=True)
class Selection:
    ids: Sequence[int] = ()
    topic: str | None = None
    reason: str | None = None
    again: bool = False
    """Include dead letters replayed before."""

    def is_empty(self) -> bool:
        return not self.ids and self.topic is None and self.reason is None


async def list_dead_letters(
    connection: asyncpg.Connection,
    *,
    topic: str | None = None,
    reason: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Counts by source topic and reason (all, and not yet replayed), and the newest rows."""
    counts = await connection.fetch(
        """SELECT topic, reason_class AS reason, count(*) AS dead_letters,
                  count(*) FILTER (WHERE replayed_at IS NULL) AS not_replayed
           FROM dead_letters
           WHERE ($1::text IS NULL OR topic = $1) AND ($2::text IS NULL OR reason_class = $2)
           GROUP BY topic, reason_class ORDER BY topic, reason_class""",
        topic,
        reason,
    )
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM dead_letters
            WHERE ($1::text IS NULL OR topic = $1) AND ($2::text IS NULL OR reason_class = $2)
            ORDER BY id DESC LIMIT $3""",
        topic,
        reason,
        limit,
    )
    return {"counts": [dict(row) for row in counts], "dead_letters": [dict(row) for row in rows]}


async def show_dead_letter(
    connection: asyncpg.Connection, settings: ServiceSettings, dead_letter_id: int
) -> dict[str, Any] | None:
    """The row, and what of its record may be shown: envelope metadata, payload field names."""
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM dead_letters WHERE id = $1", dead_letter_id
    )
    if row is None:
        return None
    shown: dict[str, Any] = {"dead_letter": dict(row)}
    try:
        record = await read_dead_letter(settings, row)
    except DeadLetterUnavailable as unavailable:
        shown["message"] = {"unavailable": str(unavailable)}
        return shown
    shown["message"] = describe_without_personal_data(record.value)
    return shown


def describe_without_personal_data(value: bytes | None) -> dict[str, Any]:
    """The envelope's own fields and the names (never the values) of the payload's fields
    outside its personal part. A value that is not a valid envelope shows only its size:
    its fields may be anything, a name included."""
    size = len(value or b"")
    try:
        envelope = Envelope.model_validate_json(value or b"")
    except ValidationError:
        return {"bytes": size, "envelope": None}
    metadata = envelope.model_dump(mode="json", exclude={"payload"})
    return {
        "bytes": size,
        "envelope": metadata,
        "payload_fields": sorted(name for name in envelope.payload if name != PERSONAL_PART),
        "has_personal_part": PERSONAL_PART in envelope.payload,
    }


async def read_dead_letter(
    settings: ServiceSettings, row: asyncpg.Record
) -> ConsumerRecord[bytes, bytes]:
    """The row's record on the dead-letter topic, checked to be the one the row describes."""
    if row["dlq_offset"] is None:
        raise DeadLetterUnavailable(
            "its place on the dead-letter topic was not recorded (dead-lettered before "
            "chassis migration 0006, or still being written)"
        )
    partition = TopicPartition(row["dlq_topic"], row["dlq_partition"])
    reader = AIOKafkaConsumer(
        **connection_options(settings), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        reader.assign([partition])
        reader.seek(partition, row["dlq_offset"])
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            while True:
                batch = await reader.getmany(partition, timeout_ms=500, max_records=1)
                records = batch.get(partition, [])
                if records:
                    record = records[0]
                    break
    except TimeoutError:
        raise DeadLetterUnavailable("nothing at its offset on the dead-letter topic") from None
    finally:
        await reader.stop()
    headers = decode_headers(record.headers)
    if record.offset != row["dlq_offset"] or (
        headers.get(EventHeaders.DLQ_CONSUMER),
        headers.get(EventHeaders.DLQ_ORIGINAL_TOPIC),
        headers.get(EventHeaders.DLQ_ORIGINAL_PARTITION),
        headers.get(EventHeaders.DLQ_ORIGINAL_OFFSET),
    ) != (row["consumer"], row["topic"], str(row["kafka_partition"]), str(row["kafka_offset"])):
        # Past the topic's retention, or the topic was recreated: not this dead letter.
        raise DeadLetterUnavailable("its record is no longer on the dead-letter topic")
    return record


async def replay_dead_letters(
    connection: asyncpg.Connection,
    settings: ServiceSettings,
    selection: Selection,
    *,
    operator: str,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Replay the selected dead letters to their original topics, each recorded as replayed
    by ``operator`` once the broker has it; one outcome per dead letter."""
    if selection.is_empty():
        raise ValueError("choose dead letters by id, topic or reason")
    if not operator.strip():
        raise ValueError("name the operator replaying")
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM dead_letters
            WHERE (cardinality($1::bigint[]) = 0 OR id = ANY($1))
              AND ($2::text IS NULL OR topic = $2) AND ($3::text IS NULL OR reason_class = $3)
              AND ($4 OR replayed_at IS NULL OR cardinality($1::bigint[]) > 0)
            ORDER BY id""",
        list(selection.ids),
        selection.topic,
        selection.reason,
        selection.again,
    )
    found = {row["id"] for row in rows}
    outcomes: list[dict[str, Any]] = [
        {"id": missing, "outcome": "refused", "why": "no such dead letter"}
        for missing in selection.ids
        if missing not in found
    ]
    if dry_run:
        return outcomes + [_would_replay(row, selection.again) for row in rows]
    publisher = Publisher(settings)
    async with asyncio.timeout(30):
        await publisher.connect()
    try:
        for row in rows:
            outcomes.append(
                await _replay_one(connection, settings, publisher, row["id"], operator, selection)
            )
    finally:
        await publisher.close()
    return outcomes


def _would_replay(row: asyncpg.Record, again: bool) -> dict[str, Any]:
    if row["replayed_at"] is not None and not again:
        return {"id": row["id"], "outcome": "refused", "why": _already(row)}
    return {"id": row["id"], "outcome": "would replay", "to": row["topic"]}


def _already(row: asyncpg.Record) -> str:
    return (
        f"replayed already by {row['replayed_by']} at {row['replayed_at'].isoformat()}"
        " (--again to replay it once more)"
    )


async def _replay_one(
    connection: asyncpg.Connection,
    settings: ServiceSettings,
    publisher: Publisher,
    dead_letter_id: int,
    operator: str,
    selection: Selection,
) -> dict[str, Any]:
    # The row stays locked while its record is published, so two operators replaying at
    # once publish it once.
    async with connection.transaction():
        row = await connection.fetchrow(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE id = $1 FOR UPDATE", dead_letter_id
        )
        assert row is not None
        if row["replayed_at"] is not None and not selection.again:
            return {"id": row["id"], "outcome": "refused", "why": _already(row)}
        try:
            record = await read_dead_letter(settings, row)
        except DeadLetterUnavailable as unavailable:
            return {"id": row["id"], "outcome": "refused", "why": str(unavailable)}
        headers = decode_headers(record.headers)
        if EventHeaders.DLQ_VALUE_OMITTED in headers:
            return {
                "id": row["id"],
                "outcome": "refused",
                "why": "its value was too large to copy; it is at its original offset",
            }
        replayed_headers = {
            name: text for name, text in headers.items() if not name.startswith("hhc-dlq-")
        }
        replayed_headers[REPLAYED_FROM] = f"{record.topic}/{record.partition}/{record.offset}"
        placed = await publisher.publish(
            row["topic"], record.key, record.value or b"", replayed_headers
        )
        replayed = await connection.fetchrow(
            """UPDATE dead_letters
                  SET replayed_at = now(), replayed_by = $2, replay_count = replay_count + 1
                WHERE id = $1 RETURNING replayed_at, replay_count""",
            row["id"],
            operator,
        )
        assert replayed is not None
    return {
        "id": row["id"],
        "outcome": "replayed",
        "to": f"{placed.topic}/{placed.partition}/{placed.offset}",
        "replayed_by": operator,
        "replayed_at": replayed["replayed_at"].isoformat(),
        "replay_count": replayed["replay_count"],
    }


def as_json(result: object) -> str:
    return json.dumps(result, default=str, indent=2)
