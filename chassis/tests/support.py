"""Helpers for the chassis tests: a tiny service with a counting handler."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from hhc_chassis.db import MigrationSet
from hhc_chassis.events import new_envelope
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Envelope
from hhc_contracts.v1 import RiskAssessed
from hhc_contracts.vocabulary import RiskLevel

TEST_MIGRATIONS = MigrationSet(name="chassis-tests", directory=Path(__file__).parent / "migrations")


EFFECT = "INSERT INTO effects (event_id, case_id, label) VALUES ($1, $2, $3)"
"""The test migrations' ``effects``: a row per effect of a handled event, with its label."""


async def insert_effect(connection: asyncpg.Connection, envelope: Envelope, label: str) -> None:
    await connection.execute(EFFECT, envelope.event_id, envelope.case_id, label)


def settings_for(database_url: str, bootstrap_servers: str, **overrides: object) -> ServiceSettings:
    values: dict[str, object] = {
        "service_name": "chassistest",
        "database_url": database_url,
        "kafka_bootstrap_servers": bootstrap_servers,
        "consumer_group": f"chassis-test-{uuid.uuid4().hex[:8]}",
        "retry_base_delay_seconds": 0.01,
        "retry_max_delay_seconds": 0.05,
        "relay_idle_poll_seconds": 0.5,
        **overrides,
    }
    return ServiceSettings(**values)  # type: ignore[arg-type]


def assessment(case_id: uuid.UUID, label: str = "") -> Envelope:
    """A registered event that is small to build; ``label`` travels in its reasons."""
    now = datetime.now(UTC)
    payload = RiskAssessed(
        assessment_id=uuid.uuid4(),
        case_id=case_id,
        risk_level=RiskLevel.STANDARD,
        basis="test",
        reasons=[label],
        assessed_at=now,
    )
    return new_envelope(payload, case_id=case_id, occurred_at=now)
