"""Contracts shared by every service and by subscribers outside the case system.

Nothing here does I/O: an envelope, the topic catalogue and one pydantic model
per event type. Services depend on this package and on nothing of each other.
"""

from hhc_contracts.envelope import Envelope, EventHeaders, SealedPersonal
from hhc_contracts.registry import EVENT_TYPES, EventSpec, event_spec, model_for
from hhc_contracts.tolerance import unrecognised_values
from hhc_contracts.topics import Topic, dead_letter_topic
from hhc_contracts.vocabulary import is_recognised

__all__ = [
    "EVENT_TYPES",
    "Envelope",
    "EventHeaders",
    "EventSpec",
    "SealedPersonal",
    "Topic",
    "dead_letter_topic",
    "event_spec",
    "is_recognised",
    "model_for",
    "unrecognised_values",
]
