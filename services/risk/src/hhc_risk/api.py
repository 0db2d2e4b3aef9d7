"""Risk's HTTP API: assessments, the actions of a case, and completing one.

Every route needs a staff token (policy 3.5.1); a route about a case checks that the
caller reaches that case and audits the look (:func:`hhc_chassis.audit.open_case_for`).
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from hhc_chassis import audit
from hhc_chassis.access import Caller, CaseScope, Permission, reaches
from hhc_chassis.auth import authorised
from hhc_chassis.http import invalid
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.vocabulary import (
    ActionKind,
    AppliesTo,
    Executor,
    NotificationChannel,
    Partner,
    RiskLevel,
)
from hhc_risk import casework, escalations
from hhc_risk.assessment import QUESTION_KEYS, QUESTIONS, THRESHOLDS, assess
from hhc_risk.escalations import escalation_state
from hhc_risk.settings import RiskSettings

router = APIRouter(tags=["risk"])

AssessmentRecorder = Annotated[Caller, Depends(authorised(Permission.RECORD_ASSESSMENT))]
RiskReader = Annotated[Caller, Depends(authorised(Permission.READ_RISK))]
ActionCompleter = Annotated[Caller, Depends(authorised(Permission.COMPLETE_ACTION))]

# What each route shows or writes of a case, as the audit names it.
ASSESSMENT_FIELDS = ("assessments",)
ACTION_FIELDS = ("actions",)
COMPLETION_FIELDS = ("actions", "notes")


class ActionOut(BaseModel):
    action_id: UUID
    case_id: UUID
    kind: ActionKind
    applies_to: AppliesTo
    clause: str
    carried_out_by: Executor
    partner: Partner | None
    required_at: datetime
    due_at: datetime
    state: str
    overdue: bool
    completed_at: datetime | None
    completed_by: str | None
    """The subject of the member of staff who completed it; None when a partner's
    service did, or a reassessment superseded it."""
    outcome: str | None
    stated_completed_at: datetime | None = None
    """When the member of staff said it was done, if they did: information only."""


# StrictInput refuses values the vocabulary does not know; it allows unknown fields, so
# each model still forbids them.
class CompletionIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(
        min_length=1,
        max_length=60,
        pattern=r"^[a-z][a-z0-9_-]*$",
        examples=["visited"],
        description="A short code (lower case, digits, _ or -), e.g. visited, advised, "
        "refused: it travels in clear on the actions topic. What was seen or said goes in "
        "notes, which leave sealed with the case's key (3.5)",
    )
    completed_at: AwareDatetime | None = Field(
        default=None,
        description="When it was done, as information: if given, not before the action "
        "was required and not in the future. The completion is recorded at the server's "
        "time of receipt whatever is given (the first response of 5.2 is timed by it)",
    )
    notes: str | None = Field(
        default=None,
        max_length=5000,
        description="What was done; for advice (give_advice), what was advised: required",
    )


class AssessmentIn(StrictInput):
    """A full assessment recorded by staff, usually at the visit."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, bool] = Field(
        description="Yes/no answers keyed by question (GET /v1/assessment-questions)",
        examples=[{"fear_for_safety": True, "repeat_victimisation": True}],
    )
    immediate_danger: bool = False

    @field_validator("answers")
    @classmethod
    def _known_questions(cls, answers: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(answers) - QUESTION_KEYS)
        if unknown:
            raise ValueError(f"unknown questions: {', '.join(unknown)}")
        return answers


class AssessmentOut(BaseModel):
    assessment_id: UUID
    case_id: UUID
    risk_level: RiskLevel
    score: int | None
    basis: str
    reasons: list[str]
    assessed_at: datetime
    review_due_at: datetime | None


def _action_out(row: Any) -> ActionOut:
    return ActionOut(**{key: row[key] for key in ActionOut.model_fields})


def _invalid_completion_time(message: str) -> RequestValidationError:
    return invalid("completed_at", message)


def completion_notes(kind: ActionKind, notes: str | None) -> str | None:
    """The notes of a completion. Advice (3.1, 3.2.6) is recorded with what was advised:
    completing it is the case's first response, and the record of that response is what
    the survivor was told, so its notes must say it."""
    if kind is ActionKind.GIVE_ADVICE and not (notes and notes.strip()):
        raise invalid("notes", "must say what was advised")
    return notes


def completion_time(given: datetime | None, *, required_at: datetime, now: datetime) -> datetime:
    """When an action was done, as staff state it: now unless given. A time given must lie
    between when the action was required and now. It is kept as information only: the
    completion is recorded at the server's time, which times the first response (5.2)."""
    if given is None:
        return now
    if given < required_at:
        raise _invalid_completion_time("must not be before the action was required")
    if given > now:
        raise _invalid_completion_time("must not be in the future")
    return given


@router.get(
    "/v1/assessment-questions",
    summary="The risk matrix: questions and thresholds",
    # No case and no personal data: nothing to audit.
    dependencies=[Depends(authorised(Permission.READ_REFERENCE_DATA))],
)
async def assessment_questions() -> dict[str, Any]:
    return {
        "questions": [
            {"key": q.key, "text": q.text, "weight": q.weight, "makes_high": q.makes_high}
            for q in QUESTIONS
        ],
        "thresholds": {level.value: lowest for level, lowest in THRESHOLDS},
        "immediate_danger": "always high (3.3.1)",
    }


@router.post(
    "/v1/cases/{case_id}/assessments",
    response_model=AssessmentOut,
    status_code=201,
    summary="Record a full risk assessment (at the visit)",
)
async def record_assessment(
    case_id: UUID,
    body: Annotated[AssessmentIn, Body()],
    request: Request,
    caller: AssessmentRecorder,
) -> AssessmentOut:
    await audit.open_case_for(
        request, caller, Permission.RECORD_ASSESSMENT, case_id, fields=ASSESSMENT_FIELDS
    )
    runtime = runtime_of(request)
    settings = runtime.settings
    scale = settings.deadline_scale if isinstance(settings, RiskSettings) else 1.0
    assessed_at = datetime.now(UTC)
    async with runtime.pool.acquire() as connection, connection.transaction():
        if not await connection.fetchval("SELECT true FROM cases WHERE case_id = $1", case_id):
            raise HTTPException(404, "no such case")
        outgoing = await casework.record_assessment(
            connection,
            case_id=case_id,
            assessment=assess(body.answers, immediate_danger=body.immediate_danger),
            answers=body.answers,
            basis="visit",
            assessed_at=assessed_at,
            deadline_scale=scale,
            cause=None,
        )
        await enqueue(connection, outgoing)
        row = await connection.fetchrow(
            "SELECT * FROM assessments WHERE case_id = $1 ORDER BY assessed_at DESC LIMIT 1",
            case_id,
        )
    return AssessmentOut(**{key: row[key] for key in AssessmentOut.model_fields})


@router.get("/v1/cases/{case_id}/assessments", response_model=list[AssessmentOut])
async def list_assessments(
    case_id: UUID, request: Request, caller: RiskReader
) -> list[AssessmentOut]:
    await audit.open_case_for(
        request, caller, Permission.READ_RISK, case_id, fields=ASSESSMENT_FIELDS
    )
    rows = await runtime_of(request).pool.fetch(
        "SELECT * FROM assessments WHERE case_id = $1 ORDER BY assessed_at", case_id
    )
    return [AssessmentOut(**{key: row[key] for key in AssessmentOut.model_fields}) for row in rows]


@router.get("/v1/cases/{case_id}/actions", response_model=list[ActionOut])
async def list_actions(case_id: UUID, request: Request, caller: RiskReader) -> list[ActionOut]:
    await audit.open_case_for(request, caller, Permission.READ_RISK, case_id, fields=ACTION_FIELDS)
    rows = await runtime_of(request).pool.fetch(
        """SELECT *, (state = 'open' AND due_at <= now()) AS overdue
           FROM actions WHERE case_id = $1 ORDER BY due_at, kind""",
        case_id,
    )
    return [_action_out(row) for row in rows]


@router.get(
    "/v1/actions/overdue",
    response_model=list[ActionOut],
    summary="Open actions past their deadline, in the cases you reach (managers' escalations)",
)
async def list_overdue_actions(
    request: Request,
    caller: RiskReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ActionOut]:
    """Escalated clocks (3.3.1, 5.2) for a manager's team, a safeguarding lead's cases ...:
    the same reach as every case route, decided by the same rule, oldest deadline first."""
    rows = await runtime_of(request).pool.fetch(
        """SELECT a.*, true AS overdue, c.team, c.survivor_is_staff, c.safeguarding,
                  c.taken_by
           FROM actions a JOIN case_access c USING (case_id)
           WHERE a.state = 'open' AND a.due_at <= now()
           ORDER BY a.due_at, a.kind""",
    )
    reached = [
        row
        for row in rows
        if reaches(
            caller,
            Permission.READ_RISK,
            CaseScope(
                team=row["team"],
                survivor_is_staff=row["survivor_is_staff"],
                safeguarding=row["safeguarding"],
                taken_by=row["taken_by"],
            ),
        )
    ][:limit]
    await audit.record(request, caller, case_id=None, fields=ACTION_FIELDS, outcome=audit.GRANTED)
    return [_action_out(row) for row in reached]


def carried_out_elsewhere(executor: Executor) -> bool:
    """Referrals and enforcement carry out their actions and say when they did (a decision
    is not a deed): closing one here would claim a referral made or a step taken that
    nobody recorded. An executor the vocabulary does not know is not known to be risk's."""
    return executor is not Executor.LANDLORD


@router.post(
    "/v1/actions/{action_id}/complete",
    response_model=ActionOut,
    responses={
        404: {"description": "No such action, or one of a case you may not reach"},
        409: {"description": "The action is no longer open, or another service carries it out"},
    },
)
async def complete_action(
    action_id: UUID,
    completion: Annotated[CompletionIn, Body()],
    request: Request,
    caller: ActionCompleter,
) -> ActionOut:
    runtime = runtime_of(request)
    action = await runtime.pool.fetchrow(
        "SELECT case_id, kind, required_at, carried_out_by FROM actions WHERE action_id = $1",
        action_id,
    )
    if action is None:
        raise HTTPException(404, "no such action")
    try:
        await audit.open_case_for(
            request, caller, Permission.COMPLETE_ACTION, action["case_id"], fields=COMPLETION_FIELDS
        )
    except HTTPException as refused:
        # The same answer as for an unknown action: a refusal reveals nothing of the case.
        raise HTTPException(404, "no such action") from refused
    if carried_out_elsewhere(Executor(action["carried_out_by"])):
        raise HTTPException(
            409,
            f"this action is carried out in the {action['carried_out_by']} service: it closes "
            "when the referral reaches the partner or the step is recorded as taken there",
        )
    received_at = datetime.now(UTC)
    # The recorded completion is the server's time of receipt: it is what the first
    # response of 5.2 is timed by, which no client may move. A time the member of staff
    # states is checked and kept beside it, as information.
    stated_completed_at = (
        completion_time(completion.completed_at, required_at=action["required_at"], now=received_at)
        if completion.completed_at is not None
        else None
    )
    notes = completion_notes(ActionKind(action["kind"]), completion.notes)
    async with runtime.pool.acquire() as connection, connection.transaction():
        row = await casework.complete_action(
            connection,
            action_id=action_id,
            outcome=completion.outcome,
            completed_at=received_at,
            # Who completed it is who is signed in, never what the body says.
            completed_by=caller.subject,
            stated_completed_at=stated_completed_at,
            notes=notes,
        )
        if row is None:
            state = await connection.fetchval(
                "SELECT state FROM actions WHERE action_id = $1", action_id
            )
            raise HTTPException(409, f"action is already {state}")
    return _action_out({**dict(row), "overdue": False})


# Escalations of overdue actions (issue 12)

EscalationAcknowledger = Annotated[Caller, Depends(authorised(Permission.ACKNOWLEDGE_ESCALATION))]
ESCALATION_FIELDS = ("escalations",)


class EscalationDeliveryOut(BaseModel):
    channel: NotificationChannel
    state: str
    """'notified' when the channel accepted the latest notice; 'pending' while the first
    is on its way, or a retry after a failure is."""
    attempts: int
    notified: int
    """Notices the channel accepted: the first and each repeat."""
    last_notified_at: datetime | None
    last_error: str | None
    next_attempt_at: datetime


class EscalationOut(BaseModel):
    escalation_id: UUID
    action_id: UUID
    case_id: UUID
    case_reference: str | None
    kind: ActionKind
    due_at: datetime
    recipient_role: str
    team: str | None
    created_at: datetime
    state: str
    """pending, notified, no-channel-configured, acknowledged, or resolved (the action
    was completed or stopped since)."""
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    deliveries: list[EscalationDeliveryOut]


_ESCALATIONS_SQL = """
    SELECT e.*, c.reference AS case_reference, a.state = 'open' AS action_open,
           ca.team AS case_team, ca.survivor_is_staff, ca.safeguarding, ca.taken_by,
           ca.staff_perpetrator,
           coalesce(json_agg(d ORDER BY d.channel) FILTER (WHERE d.channel IS NOT NULL),
                    '[]') AS deliveries
    FROM escalations e
    JOIN actions a ON a.action_id = e.action_id
    JOIN cases c ON c.case_id = e.case_id
    JOIN case_access ca ON ca.case_id = e.case_id
    LEFT JOIN escalation_deliveries d ON d.escalation_id = e.escalation_id
"""


def _delivery_out(delivery: dict[str, Any]) -> EscalationDeliveryOut:
    notified = delivery["notified"] > 0 and delivery["failures"] == 0
    return EscalationDeliveryOut(
        channel=NotificationChannel(delivery["channel"]),
        state="notified" if notified else "pending",
        attempts=delivery["attempts"],
        notified=delivery["notified"],
        last_notified_at=delivery["last_notified_at"],
        last_error=delivery["last_error"],
        next_attempt_at=delivery["next_attempt_at"],
    )


def _escalation_out(row: Any) -> EscalationOut:
    deliveries = [_delivery_out(delivery) for delivery in row["deliveries"]]
    return EscalationOut(
        escalation_id=row["escalation_id"],
        action_id=row["action_id"],
        case_id=row["case_id"],
        case_reference=row["case_reference"],
        kind=ActionKind(row["kind"]),
        due_at=row["due_at"],
        recipient_role=row["recipient_role"],
        team=row["team"],
        created_at=row["created_at"],
        state=escalation_state(
            acknowledged=row["acknowledged_at"] is not None,
            action_open=row["action_open"],
            no_channel=row["no_channel"],
            notified=any(delivery.state == "notified" for delivery in deliveries),
        ),
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        deliveries=deliveries,
    )


def _scope(row: Any) -> CaseScope:
    return CaseScope(
        team=row["case_team"],
        survivor_is_staff=row["survivor_is_staff"],
        safeguarding=row["safeguarding"],
        taken_by=row["taken_by"],
        staff_perpetrator=row["staff_perpetrator"],
    )


@router.get(
    "/v1/escalations",
    response_model=list[EscalationOut],
    summary="Escalations of overdue actions in the cases you reach, and their deliveries",
)
async def list_escalations(
    request: Request,
    caller: EscalationAcknowledger,
    state: Annotated[
        Literal["open", "all"],
        Query(description="open: not acknowledged, its action still open; all: every one"),
    ] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[EscalationOut]:
    """A manager sees their team's, a safeguarding lead the safeguarding cases': the same
    reach as every case route, oldest deadline first."""
    where = "WHERE e.acknowledged_at IS NULL AND a.state = 'open'" if state == "open" else ""
    rows = await runtime_of(request).pool.fetch(
        f"""{_ESCALATIONS_SQL} {where}
            GROUP BY e.escalation_id, c.reference, a.state, ca.case_id
            ORDER BY e.due_at, e.created_at"""
    )
    reached = [
        row for row in rows if reaches(caller, Permission.ACKNOWLEDGE_ESCALATION, _scope(row))
    ][:limit]
    await audit.record(
        request, caller, case_id=None, fields=ESCALATION_FIELDS, outcome=audit.GRANTED
    )
    return [_escalation_out(row) for row in reached]


async def _escalation(connection: Any, escalation_id: UUID) -> Any:
    return await connection.fetchrow(
        f"""{_ESCALATIONS_SQL} WHERE e.escalation_id = $1
            GROUP BY e.escalation_id, c.reference, a.state, ca.case_id""",
        escalation_id,
    )


@router.post(
    "/v1/escalations/{escalation_id}/acknowledge",
    response_model=EscalationOut,
    summary="Acknowledge an escalation: who and when are recorded, its repeats stop",
    responses={
        404: {"description": "No such escalation, or one of a case you may not reach"},
        409: {"description": "Already acknowledged"},
    },
)
async def acknowledge_escalation(
    escalation_id: UUID, request: Request, caller: EscalationAcknowledger
) -> EscalationOut:
    runtime = runtime_of(request)
    case_id = await runtime.pool.fetchval(
        "SELECT case_id FROM escalations WHERE escalation_id = $1", escalation_id
    )
    if case_id is None:
        raise HTTPException(404, "no such escalation")
    try:
        await audit.open_case_for(
            request, caller, Permission.ACKNOWLEDGE_ESCALATION, case_id, fields=ESCALATION_FIELDS
        )
    except HTTPException as refused:
        raise HTTPException(404, "no such escalation") from refused
    async with runtime.pool.acquire() as connection, connection.transaction():
        acknowledged = await escalations.acknowledge(
            connection, escalation_id=escalation_id, by=caller.subject, at=datetime.now(UTC)
        )
        row = await _escalation(connection, escalation_id)
    if acknowledged is None:
        raise HTTPException(
            409,
            f"escalation already acknowledged by {row['acknowledged_by']} "
            f"at {row['acknowledged_at'].isoformat()}",
        )
    return _escalation_out(row)
