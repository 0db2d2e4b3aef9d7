"""Storing risk's decisions and emitting their events, shared by handlers and the API.

Every function here runs inside the caller's transaction.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from hhc_chassis.db import Write, write_together
from hhc_chassis.disposal import Erasure
from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ActionCompleted,
    ActionOutcomePersonalData,
    ActionRequired,
    ActionStopped,
    FirstResponseRecorded,
    RiskAssessed,
    SafeguardingAlertRaised,
)
from hhc_contracts.vocabulary import ActionKind, AppliesTo, ConsentState, Executor, Partner
from hhc_risk.assessment import Answers, Assessment, review_interval
from hhc_risk.first_response import Completion, first_response
from hhc_risk.playbook import PlannedAction

_KEPT_OUTCOMES = (
    "('erased', 'rehousing_requested', 'found_valid', 'found_not_valid', 'consent_withdrawn')"
)

ERASURES = (
    # Policy 3.5.2: once a case is erased (intake.case-erased), risk keeps nothing of it in
    # staff's or the survivor's words. Completion notes never stay here: they leave in
    # action-completed's personal part, and the chassis clears the outbox's copy. What
    # staff typed as an action's outcome is free text, so it goes too. The outcomes the
    # service records itself stay (referral_made, reassessed, ...: no staff name on them;
    # those of a landlord's action recorded elsewhere, handlers.landlord_action_done, come
    # with one), as do ids, kinds, times and states: the clocks, the first response (5.2)
    # and the escalations still add up; consent_withdrawn keeps saying "not done".
    Erasure(
        "action_outcomes",
        f"""UPDATE actions SET outcome = 'erased'
            WHERE case_id = $1 AND completed_by IS NOT NULL AND outcome NOT IN {_KEPT_OUTCOMES}""",
    ),
    # The outcome is published outside action-completed's personal part, so the outbox's
    # copy of the event is not sealed: it is anonymised the same way.
    Erasure(
        "outbox_action_outcomes",
        f"""UPDATE outbox SET payload = jsonb_set(payload, '{{payload,outcome}}', '"erased"')
            WHERE message_key = ($1::uuid)::text AND event_type = 'risk.action-completed'
              AND payload->'payload'->>'outcome' NOT IN {_KEPT_OUTCOMES}
              AND EXISTS (SELECT 1 FROM actions
                          WHERE actions.action_id::text = outbox.payload->'payload'->>'action_id'
                            AND actions.completed_by IS NOT NULL)""",
    ),
)
"""What risk erases of a case (policy 3.5.2); each statement takes the case id ($1)."""


@dataclass(frozen=True, slots=True)
class OpenActions:
    """Whether a case is closed, and the (kind, partner) of its open actions."""

    closed: bool
    kinds: frozenset[tuple[str, str | None]]

    def without(self, kind: ActionKind) -> "OpenActions":
        return OpenActions(self.closed, frozenset(key for key in self.kinds if key[0] != kind))


async def load_open_actions(connection: asyncpg.Connection, case_id: UUID) -> OpenActions:
    # One round trip: whether the case is closed (on every row), and its open actions.
    rows = await connection.fetch(
        """SELECT (SELECT status = 'closed' FROM cases WHERE case_id = $1) AS closed,
                  actions.kind, actions.partner
           FROM (VALUES (1)) AS one
           LEFT JOIN actions ON actions.case_id = $1 AND actions.state = 'open'""",
        case_id,
    )
    return OpenActions(
        bool(rows[0]["closed"]),
        frozenset((row["kind"], row["partner"]) for row in rows if row["kind"] is not None),
    )


@dataclass(frozen=True, slots=True)
class Required:
    """Actions decided: the write that stores them (none if none), their events, and
    the case's open actions with them."""

    writes: list[Write]
    outgoing: list[Envelope]
    open_after: OpenActions


@dataclass(frozen=True, slots=True)
class Assessed:
    """An assessment decided: its writes (the assessment, and the superseding of the
    case's open review), its event, and the review it plans, if its level has one."""

    case_id: UUID
    assessed_at: datetime
    writes: list[Write]
    event: Envelope
    review: PlannedAction | None


def assessment_of(
    *,
    case_id: UUID,
    assessment: Assessment,
    answers: Answers,
    basis: str,
    assessed_at: datetime,
    deadline_scale: float,
    cause: Envelope | None,
) -> Assessed:
    """An assessment and its review (14 days high, 28 medium), superseding the last."""
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
    writes: list[Write] = [
        (
            """INSERT INTO assessments (assessment_id, case_id, risk_level, basis, reasons,
                                        assessed_at, review_due_at, score, answers)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)""",
            (
                event.assessment_id,
                case_id,
                assessment.level.value,
                basis,
                event.reasons,
                assessed_at,
                review_due_at,
                assessment.score,
                json.dumps(dict(answers)),
            ),
        ),
        (
            """UPDATE actions SET state = 'superseded', completed_at = $2,
                                  outcome = 'reassessed'
               WHERE case_id = $1 AND kind = $3 AND state = 'open'""",
            (case_id, assessed_at, ActionKind.RISK_REVIEW.value),
        ),
    ]
    review = (
        PlannedAction(
            ActionKind.RISK_REVIEW,
            AppliesTo.ALL_REPORTEES,
            "3.3",
            Executor.LANDLORD,
            review_due_at - assessed_at,
        )
        if review_due_at is not None
        else None
    )
    return Assessed(
        case_id, assessed_at, writes, _envelope(event, case_id, assessed_at, cause), review
    )


def review_required(
    assessed: Assessed, open_now: OpenActions, *, cause: Envelope | None
) -> Required:
    """The review an assessment plans (:func:`assessment_of`), unless the case is closed;
    the review it supersedes is no longer open."""
    open_now = open_now.without(ActionKind.RISK_REVIEW)
    if assessed.review is None:
        return Required([], [], open_now)
    return actions_required(
        open_now,
        case_id=assessed.case_id,
        planned=[assessed.review],
        required_at=assessed.assessed_at,
        deadline_scale=1.0,
        immediate_danger=False,
        consent=ConsentState.NOT_ASKED,
        cause=cause,
    )


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
    assessed = assessment_of(
        case_id=case_id,
        assessment=assessment,
        answers=answers,
        basis=basis,
        assessed_at=assessed_at,
        deadline_scale=deadline_scale,
        cause=cause,
    )
    review = review_required(assessed, await load_open_actions(connection, case_id), cause=cause)
    await write_together(connection, [*assessed.writes, *review.writes])
    return [assessed.event, *review.outgoing]


def actions_required(
    open_now: OpenActions,
    *,
    case_id: UUID,
    planned: list[PlannedAction],
    required_at: datetime,
    deadline_scale: float,
    immediate_danger: bool,
    consent: ConsentState,
    cause: Envelope | None,
) -> Required:
    """The planned actions the case has not open already, with their deadlines. A closed
    case gets none: its clocks are stopped until intake reopens it."""
    if open_now.closed:
        return Required([], [], open_now)
    kinds = set(open_now.kinds)
    outgoing: list[Envelope] = []
    stored: list[ActionRequired] = []
    for action in planned:
        key = (action.kind.value, action.partner.value if action.partner else None)
        if key in kinds:
            continue
        kinds.add(key)
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
    # One statement for the whole plan: a report in immediate danger needs a dozen.
    writes: list[Write] = [_stored_actions(case_id, stored)] if stored else []
    return Required(writes, outgoing, OpenActions(False, frozenset(kinds)))


def _stored_actions(case_id: UUID, stored: list[ActionRequired]) -> Write:
    return (
        """INSERT INTO actions (action_id, case_id, kind, applies_to, clause,
                                carried_out_by, partner, required_at, due_at)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                                $6::text[], $7::text[], $8::timestamptz[],
                                $9::timestamptz[])""",
        (
            [action.action_id for action in stored],
            [case_id] * len(stored),
            [action.kind.value for action in stored],
            [action.applies_to.value for action in stored],
            [action.clause for action in stored],
            [action.carried_out_by.value for action in stored],
            [action.partner.value if action.partner else None for action in stored],
            [action.required_at for action in stored],
            [action.due_at for action in stored],
        ),
    )


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
    """Store actions with their deadlines, skipping any the case already has open; their
    events, to enqueue (:func:`actions_required`)."""
    required = actions_required(
        await load_open_actions(connection, case_id),
        case_id=case_id,
        planned=planned,
        required_at=required_at,
        deadline_scale=deadline_scale,
        immediate_danger=immediate_danger,
        consent=consent,
        cause=cause,
    )
    await write_together(connection, required.writes)
    return required.outgoing


async def complete_action(
    connection: asyncpg.Connection,
    *,
    action_id: UUID,
    outcome: str,
    completed_at: datetime,
    completed_by: str | None = None,
    stated_completed_at: datetime | None = None,
    notes: str | None = None,
    cause: Envelope | None = None,
) -> asyncpg.Record | None:
    """Mark an open action done; None when there is no such open action.
    ``completed_at`` is the server's time; ``completed_by`` the signed-in member of staff,
    None for a partner's service; ``stated_completed_at`` the time staff said it was
    done, kept as information only. The case's first response (5.2) is recorded when
    this completion makes one."""
    row = await connection.fetchrow(
        """UPDATE actions SET state = 'completed', completed_at = $2, outcome = $3,
                              completed_by = $4, stated_completed_at = $5
           WHERE action_id = $1 AND state = 'open' RETURNING *""",
        action_id,
        completed_at,
        outcome,
        completed_by,
        stated_completed_at,
    )
    if row is None:
        return None
    recorded = await record_first_response(connection, case_id=row["case_id"], cause=cause)
    event = ActionCompleted(
        action_id=action_id,
        case_id=row["case_id"],
        kind=row["kind"],
        completed_at=completed_at,
        outcome=outcome,
        first_response=recorded is not None and recorded.action_id == action_id,
        personal=ActionOutcomePersonalData(notes=notes),
    )
    outgoing = [_envelope(event, row["case_id"], completed_at, cause)]
    if recorded is not None:
        outgoing.append(_envelope(recorded, row["case_id"], completed_at, cause))
    await enqueue(connection, outgoing)
    return row


async def record_first_response(
    connection: asyncpg.Connection, *, case_id: UUID, cause: Envelope | None
) -> FirstResponseRecorded | None:
    """The case's first response (5.2, :func:`first_response.first_response`), stored
    once; None when the case has one already or has none yet. The caller emits it."""
    case = await connection.fetchrow(
        "SELECT reported_at, first_response_at FROM cases WHERE case_id = $1 FOR UPDATE",
        case_id,
    )
    if case is None or case["first_response_at"] is not None:
        return None
    rows = await connection.fetch(
        """SELECT action_id, kind, outcome, completed_at FROM actions
           WHERE case_id = $1 AND state = 'completed' ORDER BY completed_at, action_id""",
        case_id,
    )
    first = first_response(
        Completion(
            action_id=row["action_id"],
            kind=ActionKind(row["kind"]),
            outcome=row["outcome"] or "",
            recorded_at=row["completed_at"],
        )
        for row in rows
    )
    if first is None:
        return None
    await connection.execute(
        """UPDATE cases SET first_response_at = $2, first_response_action_id = $3
           WHERE case_id = $1""",
        case_id,
        first.recorded_at,
        first.action_id,
    )
    return FirstResponseRecorded(
        case_id=case_id,
        action_id=first.action_id,
        kind=first.kind,
        responded_at=first.recorded_at,
        received_at=case["reported_at"],
    )


CASE_CLOSED = "case-closed"


async def stop_case_clocks(
    connection: asyncpg.Connection, *, case_id: UUID, stopped_at: datetime, cause: Envelope
) -> list[Envelope]:
    """A closed case's clocks stop: its open actions are stopped (not completed: nothing
    was done), nothing new is planned while it is closed, and its escalations stop
    repeating. Running it again stops nothing more."""
    await connection.execute(
        """UPDATE cases SET status = 'closed', closed_at = coalesce(closed_at, $2)
           WHERE case_id = $1""",
        case_id,
        stopped_at,
    )
    rows = await connection.fetch(
        """UPDATE actions SET state = 'stopped', stopped_at = $2, stopped_reason = $3
           WHERE case_id = $1 AND state = 'open' RETURNING action_id, kind""",
        case_id,
        stopped_at,
        CASE_CLOSED,
    )
    return [
        _envelope(
            ActionStopped(
                action_id=row["action_id"],
                case_id=case_id,
                kind=ActionKind(row["kind"]),
                reason=CASE_CLOSED,
                stopped_at=stopped_at,
            ),
            case_id,
            stopped_at,
            cause,
        )
        for row in rows
    ]


async def restart_case_clocks(
    connection: asyncpg.Connection, *, case_id: UUID, restarted_at: datetime, cause: Envelope
) -> list[Envelope]:
    """A reopened case's clocks run again: every action stopped at its closure is
    required anew, as a new action (a new id, so that referrals and enforcement see a
    new request, never a stopped one revived) due as long after ``restarted_at`` as the
    stopped one was after it was required. Each stopped action is re-planned once."""
    case = await connection.fetchrow(
        """UPDATE cases SET status = 'open', closed_at = NULL
           WHERE case_id = $1 AND status = 'closed'
           RETURNING immediate_danger, consent_to_share""",
        case_id,
    )
    if case is None:
        return []
    stopped = await connection.fetch(
        """UPDATE actions SET replanned_at = $2
           WHERE case_id = $1 AND state = 'stopped' AND stopped_reason = $3
             AND replanned_at IS NULL
           RETURNING *""",
        case_id,
        restarted_at,
        CASE_CLOSED,
    )
    planned = [
        PlannedAction(
            kind=ActionKind(row["kind"]),
            applies_to=AppliesTo(row["applies_to"]),
            clause=row["clause"],
            carried_out_by=Executor(row["carried_out_by"]),
            # Already scaled when it was first required.
            due_in=row["due_at"] - row["required_at"],
            partner=Partner(row["partner"]) if row["partner"] else None,
        )
        for row in sorted(stopped, key=lambda row: (row["due_at"], row["kind"]))
    ]
    return await require_actions(
        connection,
        case_id=case_id,
        planned=planned,
        required_at=restarted_at,
        deadline_scale=1.0,
        immediate_danger=case["immediate_danger"],
        consent=ConsentState(case["consent_to_share"]),
        cause=cause,
    )


def _envelope(
    payload: ActionRequired
    | ActionCompleted
    | ActionStopped
    | FirstResponseRecorded
    | RiskAssessed
    | SafeguardingAlertRaised,
    case_id: UUID,
    occurred_at: datetime,
    cause: Envelope | None,
) -> Envelope:
    return new_envelope(payload, case_id=case_id, occurred_at=occurred_at, cause=cause)
