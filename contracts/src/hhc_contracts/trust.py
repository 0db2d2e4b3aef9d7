"""Whether an event is what the catalogue says it can be, before anyone acts on it.

A consumer acts only on an event whose type lives on the topic it came from, whose
producer (in the envelope and in the header) is the service that owns that topic, and
whose envelope names the same case as its payload. Anything else is a forgery or a
mistake, and is dead-lettered as ``untrusted-event`` (the reason this returns).

What this cannot see: a producer that names the right owner. Kafka's ACLs (each service
writes only its own topics) close that; this check makes a forgery that does not know the
catalogue, or a producer that writes to the wrong topic, harmless.
"""

from typing import Any

from hhc_contracts.envelope import Envelope
from hhc_contracts.registry import ANY_PRODUCER, EVENT_TYPES
from hhc_contracts.topics import Topic

UNTRUSTED_EVENT = "untrusted-event"

SERVICES = frozenset({"intake", "risk", "referrals", "enforcement", "reporting"})
"""Producers of the events every service publishes (the audit)."""

OPEN_TO_OTHER_SYSTEMS = frozenset({Topic.INTAKE_SUBMISSIONS})
"""Topics other systems of the housing group write, naming themselves as producer."""


def trust_problem(
    topic: str, header_producer: str | None, envelope: Envelope, payload: Any
) -> str | None:
    """Why the event must not be acted on, or None when it may be."""
    spec = EVENT_TYPES.get((envelope.event_type, envelope.schema_version))
    if spec is None:
        return f"{envelope.event_type} v{envelope.schema_version} is not in the catalogue"
    if spec.topic.value != topic:
        return f"{envelope.event_type} belongs on {spec.topic.value}, not {topic}"
    if header_producer is not None and header_producer != envelope.producer:
        return f"the producer header says {header_producer!r}, the envelope {envelope.producer!r}"
    if spec.topic not in OPEN_TO_OTHER_SYSTEMS:
        owners = SERVICES if spec.producer == ANY_PRODUCER else {spec.producer}
        if envelope.producer not in owners:
            return (
                f"{envelope.event_type} is produced by {spec.producer}, not {envelope.producer!r}"
            )
    payload_case = getattr(payload, "case_id", None)
    if payload_case is not None and payload_case != envelope.case_id:
        return "the envelope and the payload name different cases"
    return None
