"""What intake keeps of risk's events for closure and the worklists: each case's newest
risk level, and its actions while open, with whether risk found them overdue. No
personal data: ids, kinds, levels and times.

Each event is one idempotent write, right in any order of delivery: a duplicate changes
nothing, an assessment older than the one kept is ignored, and an action that ended
stays ended whatever arrives after. So a batch's writes are made grouped by statement
(:class:`hhc_chassis.consumer.Projection`).
"""

from typing import Any
from uuid import UUID

import asyncpg

from hhc_chassis.consumer import Handler, Projection
from hhc_chassis.db import Write
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ActionCompleted,
    ActionOverdue,
    ActionRequired,
    ActionStopped,
    RiskAssessed,
)
from hhc_contracts.vocabulary import RiskLevel

NEWEST_RISK = """INSERT INTO case_risk (case_id, risk_level, assessed_at) VALUES ($1, $2, $3)
    ON CONFLICT (case_id) DO UPDATE
    SET risk_level = EXCLUDED.risk_level, assessed_at = EXCLUDED.assessed_at
    WHERE case_risk.assessed_at <= EXCLUDED.assessed_at"""

ACTION_REQUIRED = """INSERT INTO case_actions (action_id, case_id, kind, due_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (action_id) DO UPDATE SET due_at = EXCLUDED.due_at"""

ACTION_OVERDUE = """INSERT INTO case_actions (action_id, case_id, kind, due_at, overdue)
    VALUES ($1, $2, $3, $4, true)
    ON CONFLICT (action_id) DO UPDATE
    SET overdue = true, due_at = coalesce(case_actions.due_at, EXCLUDED.due_at)"""

ACTION_ENDED = """INSERT INTO case_actions (action_id, case_id, kind, ended_at, ended_how)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (action_id) DO UPDATE
    SET ended_at = coalesce(case_actions.ended_at, EXCLUDED.ended_at),
        ended_how = coalesce(case_actions.ended_how, EXCLUDED.ended_how)"""


def risk_writes(envelope: Envelope, payload: Any) -> list[Write]:
    """What one of risk's events changes in intake's view of the case."""
    match payload:
        case RiskAssessed():
            return [
                (
                    NEWEST_RISK,
                    (payload.case_id, payload.risk_level.value, payload.assessed_at),
                )
            ]
        case ActionRequired():
            return [
                (
                    ACTION_REQUIRED,
                    (payload.action_id, payload.case_id, payload.kind.value, payload.due_at),
                )
            ]
        case ActionOverdue():
            return [
                (
                    ACTION_OVERDUE,
                    (payload.action_id, payload.case_id, payload.kind.value, payload.due_at),
                )
            ]
        case ActionCompleted() | ActionStopped():
            ended_at, how = (
                (payload.completed_at, "completed")
                if isinstance(payload, ActionCompleted)
                else (payload.stopped_at, "stopped")
            )
            return [
                (
                    ACTION_ENDED,
                    (payload.action_id, payload.case_id, payload.kind.value, ended_at, how),
                )
            ]
    return []


_project_risk = Projection(risk_writes)

RISK_HANDLERS: dict[str, Handler] = {
    "risk.risk-assessed": _project_risk,
    "risk.action-required": _project_risk,
    "risk.action-overdue": _project_risk,
    "risk.action-completed": _project_risk,
    "risk.action-stopped": _project_risk,
}


async def newest_risk_level(connection: asyncpg.Connection, case_id: UUID) -> RiskLevel | None:
    """The case's newest risk level as far as intake has heard; None before any."""
    value = await connection.fetchval(
        "SELECT risk_level FROM case_risk WHERE case_id = $1", case_id
    )
    return RiskLevel(value) if value is not None else None
