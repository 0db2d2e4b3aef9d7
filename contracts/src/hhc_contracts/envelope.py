"""The envelope every message carries.

The whole envelope is the message value (JSON). The case id is also the Kafka key,
so one case's events stay in order on one partition. A few envelope fields are
mirrored into Kafka headers so that routers and operators can read them without
parsing the value; W3C ``traceparent`` travels in headers too.
"""

from typing import Any, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class EventHeaders:
    EVENT_ID: Final = "hhc-event-id"
    EVENT_TYPE: Final = "hhc-event-type"
    SCHEMA_VERSION: Final = "hhc-schema-version"
    PRODUCER: Final = "hhc-producer"
    # Dead-letter headers: why a message could not be handled, and where it came from.
    DLQ_REASON: Final = "hhc-dlq-reason"
    DLQ_ERROR_CLASS: Final = "hhc-dlq-error-class"
    DLQ_ATTEMPTS: Final = "hhc-dlq-attempts"
    DLQ_CONSUMER: Final = "hhc-dlq-consumer"
    DLQ_ORIGINAL_TOPIC: Final = "hhc-dlq-original-topic"
    DLQ_ORIGINAL_PARTITION: Final = "hhc-dlq-original-partition"
    DLQ_ORIGINAL_OFFSET: Final = "hhc-dlq-original-offset"
    DLQ_VALUE_OMITTED: Final = "hhc-dlq-value-omitted"


class SealedPersonal(BaseModel):
    """An event's ``personal`` part, encrypted with its case's own key (policy 3.5).

    AES-256-GCM; the associated data is ``"<case_id>/<event_id>"`` so that a sealed part
    cannot be moved to another event or case. The payload's ``personal`` is then empty.
    Intake holds the case keys and hands one only to a service whose work needs it;
    once a case's key is destroyed (erasure, retention) every copy is unreadable."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    algorithm: Literal["A256GCM"] = "A256GCM"
    nonce: str = Field(description="96-bit nonce, base64 (standard alphabet, padded).")
    ciphertext: str = Field(
        description="The personal part as JSON, encrypted, with the 128-bit tag; base64."
    )


class Envelope(BaseModel):
    """What every event carries around its payload. Consumers ignore unknown fields."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: UUID = Field(description="Unique id of this event; the de-duplication key.")
    event_type: str = Field(description="Name of the event, e.g. 'intake.report-received'.")
    schema_version: int = Field(ge=1, description="Major version of the payload schema.")
    producer: str = Field(description="Service that produced the event.")
    case_id: UUID | None = Field(
        description="Case the event belongs to, and then also the Kafka message key; "
        "empty only for events about no single case (e.g. the monthly report)."
    )
    occurred_at: AwareDatetime = Field(description="When the fact happened (UTC).")
    correlation_id: UUID = Field(description="Id shared by every event caused by one report.")
    causation_id: UUID | None = Field(
        default=None, description="Event id of the event that caused this one, if any."
    )
    payload: dict[str, Any] = Field(description="The event body; its schema is the event type's.")
    sealed: SealedPersonal | None = Field(
        default=None,
        description="The payload's personal part, sealed with the case's key; absent when "
        "the event carries no personal data. Consumers that may not read it ignore it.",
    )

    def headers(self) -> dict[str, str]:
        return {
            EventHeaders.EVENT_ID: str(self.event_id),
            EventHeaders.EVENT_TYPE: self.event_type,
            EventHeaders.SCHEMA_VERSION: str(self.schema_version),
            EventHeaders.PRODUCER: self.producer,
        }
