"""Publishing and reading events in tests as the services do, on the real broker."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from hhc_chassis.events import new_envelope
from hhc_contracts import Envelope, Topic, event_spec
from hhc_devstack.pytest_plugin import eventually, kafka_consumer


async def publish_as_producer(
    bootstrap_servers: str,
    case_id: uuid.UUID,
    event: BaseModel,
    *,
    envelope_changes: dict[str, Any] | None = None,
) -> Envelope:
    """Publish ``event`` as its producing service does: its envelope on its topic, keyed
    by the case, with its headers; ``envelope_changes`` alter the envelope first."""
    envelope = new_envelope(event, case_id=case_id, occurred_at=datetime.now(UTC))
    if envelope_changes:
        envelope = envelope.model_copy(update=envelope_changes)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            event_spec(type(event)).topic.value,
            envelope.model_dump_json().encode(),
            key=str(case_id).encode(),
            headers=[(name, value.encode()) for name, value in envelope.headers().items()],
        )
    finally:
        await producer.stop()
    return envelope


async def disposal_recorded(
    bootstrap_servers: str, service: str, case_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every ``audit.retention-disposed`` on the audit topic, once ``service`` has recorded
    its disposal of ``case_id`` (the payloads, that one first)."""
    disposals: list[dict[str, Any]] = []
    async with kafka_consumer(bootstrap_servers, Topic.AUDIT_ACCESS.value) as audit:

        async def recorded() -> bool:
            for records in (await audit.getmany(timeout_ms=500)).values():
                for record in records:
                    document = json.loads(record.value)
                    if document["event_type"] == "audit.retention-disposed":
                        disposals.append(document["payload"])
            return any(_is(payload, service, case_id) for payload in disposals)

        await eventually(recorded, timeout=60, message=f"{service} recorded no disposal")
    return sorted(disposals, key=lambda payload: not _is(payload, service, case_id))


def _is(payload: dict[str, Any], service: str, case_id: uuid.UUID) -> bool:
    return bool(payload["service"] == service and payload["case_id"] == str(case_id))
