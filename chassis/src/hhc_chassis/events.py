"""Building envelopes for outgoing events."""

import uuid
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from hhc_contracts import EVENT_TYPES, Envelope, event_spec
from hhc_contracts.registry import ANY_PRODUCER


def new_envelope(
    payload: BaseModel,
    *,
    case_id: UUID | None,
    occurred_at: datetime,
    correlation_id: UUID | None = None,
    cause: Envelope | None = None,
    producer: str | None = None,
) -> Envelope:
    """Wrap a registered payload; an event caused by another inherits its correlation id.

    ``producer`` names the service for event types every service publishes (audit)."""
    spec = event_spec(type(payload))
    if spec.producer == ANY_PRODUCER:
        if not producer:
            raise ValueError(f"{spec.event_type} needs the producing service named")
    elif producer not in (None, spec.producer):
        raise ValueError(f"{spec.event_type} is produced by {spec.producer}, not {producer}")
    event_id = uuid.uuid4()
    return Envelope(
        event_id=event_id,
        event_type=spec.event_type,
        schema_version=spec.version,
        producer=producer or spec.producer,
        case_id=case_id,
        occurred_at=occurred_at,
        correlation_id=cause.correlation_id if cause else (correlation_id or event_id),
        causation_id=cause.event_id if cause else None,
        payload=payload.model_dump(mode="json"),
    )


def topic_of(envelope: Envelope) -> str:
    return EVENT_TYPES[(envelope.event_type, envelope.schema_version)].topic.value
