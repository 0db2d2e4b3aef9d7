"""Storing risk's decisions and emitting their events, shared by handlers and the API.

Every function here runs inside the caller's transaction.
"""

import json
import uuid
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ActionCompleted,
    ActionOutcomePersonalData,
    ActionRequired,
    RiskAssessed,
    SafeguardingAlertRaised,
)
from hhc_contracts.vocabulary import ActionKind, AppliesTo, ConsentState, Executor
from hhc_risk.assessment import Answers, Assessment, review_interval
from hhc_risk.playbook import PlannedAction


async def record_assessment(
    connection: asyncpg.Connection,
    *,
    case_id: UUID,
    assessment: Assessment,
    answers: Answers,
    basis: str,
    assessed_at: datetime,
    deadline_scale: float,
    cause: Envelope | None,
) -> list[Envelope]:
    """Store an assessment; plan its review (14 days high, 28 medium), superseding the last."""
    interval = review_interval(assessment.level)
    review_due_at = assessed_at + interval * deadline_scale if interval else None
    event = RiskAssessed(
        assessment_id=uuid.uuid4(),
        case_id=case_id,
        risk_level=assessment.level,
        basis=basis,
        reasons=list(assessment.reasons),
        assessed_at=assessed_at,
        review_due_at=review_due_at,
        score=assessment.score,
    )
    await connection.execute(
        """INSERT INTO assessments (assessment_id, case_id, risk_level, basis, reasons,
                                    assessed_at, review_due_at, score, answers)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)""",
        event.assessment_id,
        case_id,
        assessment.level.value,
        basis,
        event.reasons,
        assessed_at,
        review_due_at,
        assessment.score,
        json.dumps(dict(answers)),
    )
    await connection.execute(
        """UPDATE actions SET state = 'superseded', completed_at = $2, outcome = 'reassessed'
           WHERE case_id = $1 AND kind = $3 AND state = 'open'""",
        case_id,
        assessed_at,
        ActionKind.RISK_REVIEW.value,
    )
    outgoing = [_envelope(event, case_id, assessed_at, cause)]
    if review_due_at is not None:
        review = PlannedAction(
            ActionKind.RISK_REVIEW,
            AppliesTo.ALL_REPORTEES,
            "3.3",
            Executor.LANDLORD,
            review_due_at - assessed_at,
        )
        outgoing += await require_actions(
            connection,
            case_id=case_id,
            planned=[review],
            required_at=assessed_at,
            deadline_scale=1.0,
            immediate_danger=False,
            consent=ConsentState.NOT_ASKED,
            cause=cause,
        )
    return outgoing


async def require_actions(
    connection: asyncpg.Connection,
    *,
    case_id: UUID,
    planned: list[PlannedAction],
    required_at: datetime,
    deadline_scale: float,
    immediate_danger: bool,
    consent: ConsentState,
    cause: Envelope | None,
) -> list[Envelope]:
    """Store actions with their deadlines, skipping any the case already has open."""
    open_now = {
        (row["kind"], row["partner"])
        for row in await connection.fetch(
            "SELECT kind, partner FROM actions WHERE case_id = $1 AND state = 'open'", case_id
        )
    }
    outgoing: list[Envelope] = []
    stored: list[ActionRequired] = []
    for action in planned:
        key = (action.kind.value, action.partner.value if action.partner else None)
        if key in open_now:
            continue
        open_now.add(key)
        required = ActionRequired(
            action_id=uuid.uuid4(),
            case_id=case_id,
            kind=action.kind,
            applies_to=action.applies_to,
            clause=action.clause,
            carried_out_by=action.carried_out_by,
            partner=action.partner,
            required_at=required_at,
            due_at=required_at + action.due_in * deadline_scale,
            immediate_danger=immediate_danger,
            consent_to_share=consent,
        )
        stored.append(required)
        # The deadline counts from required_at (the report); the event happens now.
        decided_at = datetime.now(UTC)
        outgoing.append(_envelope(required, case_id, decided_at, cause))
        if action.kind is ActionKind.SAFEGUARDING_ALERT and action.partner is not None:
            alert = SafeguardingAlertRaised(
                alert_id=uuid.uuid4(),
                case_id=case_id,
                partner=action.partner,
                raised_at=decided_at,
            )
            outgoing.append(_envelope(alert, case_id, decided_at, cause))
    if stored:
        # One statement for the whole plan: a report in immediate danger needs a dozen.
        await connection.execute(
            """INSERT INTO actions (action_id, case_id, kind, applies_to, clause,
                                    carried_out_by, partner, required_at, due_at)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                                    $6::text[], $7::text[], $8::timestamptz[],
                                    $9::timestamptz[])""",
            [action.action_id for action in stored],
            [case_id] * len(stored),
            [action.kind.value for action in stored],
            [action.applies_to.value for action in stored],
            [action.clause for action in stored],
            [action.carried_out_by.value for action in stored],
            [action.partner.value if action.partner else None for action in stored],
            [action.required_at for action in stored],
            [action.due_at for action in stored],
        )
    return outgoing


async def complete_action(
    connection: asyncpg.Connection,
    *,
    action_id: UUID,
    outcome: str,
    completed_at: datetime,
    by_staff: bool,
    completed_by: str | None = None,
    notes: str | None = None,
    cause: Envelope | None = None,
) -> asyncpg.Record | None:
    """Mark an open action done; None when there is no such open action.
    ``completed_by`` is the signed-in member of staff, None for a partner's service.

    The first action staff complete for a case is its first response to the request for
    support (5.2); completions reported back by partners' services are not.
    """
    row = await connection.fetchrow(
        """UPDATE actions SET state = 'completed', completed_at = $2, outcome = $3,
                              completed_by = $4
           WHERE action_id = $1 AND state = 'open' RETURNING *""",
        action_id,
        completed_at,
        outcome,
        completed_by,
    )
    if row is None:
        return None
    first_response = by_staff and bool(
        await connection.fetchval(
            """UPDATE cases SET first_response_at = $2
               WHERE case_id = $1 AND first_response_at IS NULL RETURNING true""",
            row["case_id"],
            completed_at,
        )
    )
    event = ActionCompleted(
        action_id=action_id,
        case_id=row["case_id"],
        kind=row["kind"],
        completed_at=completed_at,
        outcome=outcome,
        first_response=first_response,
        personal=ActionOutcomePersonalData(notes=notes),
    )
    await enqueue(connection, [_envelope(event, row["case_id"], completed_at, cause)])
    return row


def _envelope(
    payload: ActionRequired | ActionCompleted | RiskAssessed | SafeguardingAlertRaised,
    case_id: UUID,
    occurred_at: datetime,
    cause: Envelope | None,
) -> Envelope:
    return new_envelope(payload, case_id=case_id, occurred_at=occurred_at, cause=cause)
