"""Overdue clocks: deadlines live in the database; each passes once, whatever restarts.

Every replica runs this loop. Claiming due actions with FOR UPDATE SKIP LOCKED and
marking them in the same transaction as the outbox row means one replica reports
each overdue action, exactly once.
"""

import uuid
from datetime import UTC, datetime

from hhc_chassis.clocks import NEW_DEADLINE_GATHER_SECONDS, durable_clock
from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import BackgroundTask, Runtime
from hhc_contracts.v1 import ActionOverdue
from hhc_risk.escalations import open_escalations
from hhc_risk.settings import RiskSettings


def escalated_to(clause: str) -> str:
    """Who hears of an overdue action: the case's manager; for the immediate-danger
    playbook (3.3.1), the on-call safeguarding lead as well, who may also override
    consent for emergency intervention when staff have not (3.5.2)."""
    if "3.3.1" in clause:
        return "manager,on_call_safeguarding_lead"
    return "manager"


async def report_overdue_actions(runtime: Runtime, batch_size: int = 100) -> int:
    """Publish each passed deadline once, and open its escalations (stopped and completed
    actions have no clock)."""
    async with runtime.pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            """SELECT action_id, case_id, kind, clause, due_at FROM actions
               WHERE state = 'open' AND overdue_reported_at IS NULL AND due_at <= now()
               ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
            batch_size,
        )
        if not rows:
            return 0
        detected_at = datetime.now(UTC)
        await connection.execute(
            "UPDATE actions SET overdue_reported_at = $2 WHERE action_id = ANY($1::uuid[])",
            [row["action_id"] for row in rows],
            detected_at,
        )
        if isinstance(runtime.settings, RiskSettings):
            teams = {
                row["case_id"]: row["team"]
                for row in await connection.fetch(
                    "SELECT case_id, team FROM case_access WHERE case_id = ANY($1::uuid[])",
                    list({row["case_id"] for row in rows}),
                )
            }
            for row in rows:
                await open_escalations(
                    connection,
                    action_id=row["action_id"],
                    case_id=row["case_id"],
                    kind=row["kind"],
                    due_at=row["due_at"],
                    escalated_to=escalated_to(row["clause"]),
                    team=teams.get(row["case_id"]),
                    settings=runtime.settings,
                    detected_at=detected_at,
                )
        await enqueue(
            connection,
            [
                new_envelope(
                    ActionOverdue(
                        action_id=row["action_id"],
                        case_id=row["case_id"],
                        kind=row["kind"],
                        due_at=row["due_at"],
                        detected_at=detected_at,
                        escalated_to=escalated_to(row["clause"]),
                    ),
                    case_id=row["case_id"],
                    occurred_at=detected_at,
                    correlation_id=uuid.uuid4(),
                )
                for row in rows
            ],
        )
    return len(rows)


async def seconds_until_next_deadline(runtime: Runtime, ceiling: float) -> float:
    seconds = await runtime.pool.fetchval(
        """SELECT EXTRACT(EPOCH FROM min(due_at) - now())::float8 FROM actions
           WHERE state = 'open' AND overdue_reported_at IS NULL"""
    )
    if seconds is None:
        return ceiling
    return max(0.0, min(ceiling, float(seconds)))


def overdue_scheduler(poll_seconds: float) -> BackgroundTask:
    """The background task that publishes action-overdue the moment a deadline passes
    (a durable clock: woken when a new deadline is set, so none set while it sleeps is
    missed)."""
    return durable_clock(
        name="overdue check",
        channel="deadlines",
        fire_due=report_overdue_actions,
        seconds_until_next=seconds_until_next_deadline,
        poll_seconds=poll_seconds,
        gather_seconds=NEW_DEADLINE_GATHER_SECONDS,
    )
