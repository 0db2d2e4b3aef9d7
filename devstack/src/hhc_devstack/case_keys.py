"""Case keys for tests of one service, which run without intake (its key service).

A service under test is given a key source held in memory (``with_case_keys``); the test
then reads the service's events as a subscriber allowed the key would: sealed on the
topic, opened with the case's key (``payload_opened_with``)."""

import dataclasses
import uuid
from typing import Any

from hhc_chassis.sealing import KeyServiceUnavailable, new_case_key, unseal
from hhc_chassis.service import ServiceDefinition
from hhc_contracts import Envelope


class MemoryCaseKeys:
    """Intake's side of case keys, held in memory: a key per case, made on first use."""

    def __init__(self) -> None:
        self.keys: dict[uuid.UUID, bytes | None] = {}
        self.available = True
        self.forgotten: list[uuid.UUID] = []

    def key_of(self, case_id: uuid.UUID) -> bytes:
        key = self.keys.setdefault(case_id, new_case_key())
        assert key is not None, "the case's key was destroyed"
        return key

    def destroy(self, case_id: uuid.UUID) -> None:
        self.keys[case_id] = None

    async def key_for(self, case_id: uuid.UUID) -> bytes | None:
        if not self.available:
            raise KeyServiceUnavailable("intake is away")
        return self.keys.setdefault(case_id, new_case_key())

    def forget(self, case_id: uuid.UUID) -> None:
        self.forgotten.append(case_id)


def with_case_keys(definition: ServiceDefinition, keys: MemoryCaseKeys) -> ServiceDefinition:
    """The service, sealing (and opening) personal parts with ``keys``."""
    return dataclasses.replace(definition, case_keys=lambda pool: keys)


def payload_opened_with(envelope: Envelope, keys: MemoryCaseKeys) -> dict[str, Any]:
    """The event's payload with its sealed personal part opened (as it was, if unsealed)."""
    if envelope.sealed is None or envelope.case_id is None:
        return dict(envelope.payload)
    personal = unseal(
        envelope.sealed,
        keys.key_of(envelope.case_id),
        case_id=envelope.case_id,
        event_id=envelope.event_id,
    )
    return {**envelope.payload, "personal": personal}
