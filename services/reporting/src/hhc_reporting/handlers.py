"""Reporting's projections. Every event lands on the timeline; a few also update facts.

Only ids, types, times and classifications are stored: personal data arriving in
an event's ``personal`` part is dropped here.
"""

from typing import Any

import asyncpg

from hhc_chassis.consumer import Handler
from hhc_contracts import EVENT_TYPES, Envelope, Topic
from hhc_contracts.v1 import ActionCompleted, ReportReceived, RiskAssessed


async def _record_on_timeline(connection: asyncpg.Connection, envelope: Envelope) -> None:
    topic = EVENT_TYPES[(envelope.event_type, envelope.schema_version)].topic.value
    await connection.execute(
        """INSERT INTO case_events (event_id, case_id, event_type, producer, topic, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING""",
        envelope.event_id,
        envelope.case_id,
        envelope.event_type,
        envelope.producer,
        topic,
        envelope.occurred_at,
    )


async def _project_facts(connection: asyncpg.Connection, payload: Any) -> None:
    if isinstance(payload, ReportReceived) and not payload.further_report:
        await connection.execute(
            """INSERT INTO case_facts (case_id, reported_at, channel, classification, track,
                                       perceived_motivation)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (case_id) DO UPDATE SET reported_at = EXCLUDED.reported_at,
                   channel = EXCLUDED.channel, classification = EXCLUDED.classification,
                   track = EXCLUDED.track, perceived_motivation = EXCLUDED.perceived_motivation""",
            payload.case_id,
            payload.received_at,
            payload.channel.value,
            payload.classification.value,
            payload.track.value,
            [motivation.value for motivation in payload.perceived_motivation],
        )
    elif isinstance(payload, RiskAssessed):
        await connection.execute(
            """INSERT INTO case_facts (case_id, risk_level) VALUES ($1, $2)
               ON CONFLICT (case_id) DO UPDATE SET risk_level = EXCLUDED.risk_level""",
            payload.case_id,
            payload.risk_level.value,
        )
    elif isinstance(payload, ActionCompleted) and payload.first_response:
        await connection.execute(
            """INSERT INTO case_facts (case_id, first_response_at) VALUES ($1, $2)
               ON CONFLICT (case_id) DO UPDATE SET first_response_at = LEAST(
                   case_facts.first_response_at, EXCLUDED.first_response_at)""",
            payload.case_id,
            payload.completed_at,
        )


async def project(connection: asyncpg.Connection, envelope: Envelope, payload: Any) -> None:
    await _record_on_timeline(connection, envelope)
    await _project_facts(connection, payload)


NOT_CONSUMED = frozenset({Topic.AUDIT_ACCESS, Topic.INTAKE_SUBMISSIONS})
"""The audit's events name who looked at which case: about staff, not about the work on
a case, and for the group's security monitoring, not for reporting. Submissions are what
other systems ask of intake: the case's own record starts with intake's report-received
(counting both would count a report twice, and anyone may write submissions)."""

TOPICS: list[str] = [topic.value for topic in Topic if topic not in NOT_CONSUMED]
HANDLERS: dict[str, Handler] = {
    spec.event_type: project for spec in EVENT_TYPES.values() if spec.topic not in NOT_CONSUMED
}
