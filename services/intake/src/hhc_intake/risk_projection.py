"""What intake keeps of risk's events for closure and the worklists: each case's newest
risk level, and its actions while open, with whether risk found them overdue. No
personal data: ids, kinds, levels and times.

Each handler is one idempotent statement, right in any order of delivery: a duplicate
changes nothing, an assessment older than the one kept is ignored, and an action that
ended stays ended whatever arrives after.
"""

from uuid import UUID

import asyncpg

from hhc_chassis.consumer import Handler
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ActionCompleted,
    ActionOverdue,
    ActionRequired,
    ActionStopped,
    RiskAssessed,
)
from hhc_contracts.vocabulary import RiskLevel


async def on_risk_assessed(
    connection: asyncpg.Connection, envelope: Envelope, assessed: RiskAssessed
) -> None:
    await connection.execute(
        """INSERT INTO case_risk (case_id, risk_level, assessed_at) VALUES ($1, $2, $3)
           ON CONFLICT (case_id) DO UPDATE
           SET risk_level = EXCLUDED.risk_level, assessed_at = EXCLUDED.assessed_at
           WHERE case_risk.assessed_at <= EXCLUDED.assessed_at""",
        assessed.case_id,
        assessed.risk_level.value,
        assessed.assessed_at,
    )


async def on_action_required(
    connection: asyncpg.Connection, envelope: Envelope, required: ActionRequired
) -> None:
    await connection.execute(
        """INSERT INTO case_actions (action_id, case_id, kind, due_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (action_id) DO UPDATE SET due_at = EXCLUDED.due_at""",
        required.action_id,
        required.case_id,
        required.kind.value,
        required.due_at,
    )


async def on_action_overdue(
    connection: asyncpg.Connection, envelope: Envelope, overdue: ActionOverdue
) -> None:
    await connection.execute(
        """INSERT INTO case_actions (action_id, case_id, kind, due_at, overdue)
           VALUES ($1, $2, $3, $4, true)
           ON CONFLICT (action_id) DO UPDATE
           SET overdue = true, due_at = coalesce(case_actions.due_at, EXCLUDED.due_at)""",
        overdue.action_id,
        overdue.case_id,
        overdue.kind.value,
        overdue.due_at,
    )


async def _end_action(
    connection: asyncpg.Connection, ended: ActionCompleted | ActionStopped, how: str
) -> None:
    ended_at = ended.completed_at if isinstance(ended, ActionCompleted) else ended.stopped_at
    await connection.execute(
        """INSERT INTO case_actions (action_id, case_id, kind, ended_at, ended_how)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (action_id) DO UPDATE
           SET ended_at = coalesce(case_actions.ended_at, EXCLUDED.ended_at),
               ended_how = coalesce(case_actions.ended_how, EXCLUDED.ended_how)""",
        ended.action_id,
        ended.case_id,
        ended.kind.value,
        ended_at,
        how,
    )


async def on_action_completed(
    connection: asyncpg.Connection, envelope: Envelope, completed: ActionCompleted
) -> None:
    await _end_action(connection, completed, "completed")


async def on_action_stopped(
    connection: asyncpg.Connection, envelope: Envelope, stopped: ActionStopped
) -> None:
    await _end_action(connection, stopped, "stopped")


RISK_HANDLERS: dict[str, Handler] = {
    "risk.risk-assessed": on_risk_assessed,
    "risk.action-required": on_action_required,
    "risk.action-overdue": on_action_overdue,
    "risk.action-completed": on_action_completed,
    "risk.action-stopped": on_action_stopped,
}


async def newest_risk_level(connection: asyncpg.Connection, case_id: UUID) -> RiskLevel | None:
    """The case's newest risk level as far as intake has heard; None before any."""
    value = await connection.fetchval(
        "SELECT risk_level FROM case_risk WHERE case_id = $1", case_id
    )
    return RiskLevel(value) if value is not None else None
