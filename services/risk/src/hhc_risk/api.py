"""Risk's HTTP API: assessments, the actions of a case, and completing one."""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts.vocabulary import ActionKind, AppliesTo, Executor, Partner, RiskLevel
from hhc_risk import casework
from hhc_risk.assessment import QUESTION_KEYS, QUESTIONS, THRESHOLDS, assess
from hhc_risk.settings import RiskSettings

router = APIRouter(tags=["risk"])


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
    outcome: str | None


class CompletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(min_length=1, max_length=60, examples=["visited"])
    completed_at: AwareDatetime | None = Field(default=None, description="Defaults to now")
    notes: str | None = Field(default=None, max_length=5000)


class AssessmentIn(BaseModel):
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


@router.get("/v1/assessment-questions", summary="The risk matrix: questions and thresholds")
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
    case_id: UUID, body: Annotated[AssessmentIn, Body()], request: Request
) -> AssessmentOut:
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
async def list_assessments(case_id: UUID, request: Request) -> list[AssessmentOut]:
    rows = await runtime_of(request).pool.fetch(
        "SELECT * FROM assessments WHERE case_id = $1 ORDER BY assessed_at", case_id
    )
    return [AssessmentOut(**{key: row[key] for key in AssessmentOut.model_fields}) for row in rows]


@router.get("/v1/cases/{case_id}/actions", response_model=list[ActionOut])
async def list_actions(case_id: UUID, request: Request) -> list[ActionOut]:
    rows = await runtime_of(request).pool.fetch(
        """SELECT *, (state = 'open' AND due_at <= now()) AS overdue
           FROM actions WHERE case_id = $1 ORDER BY due_at, kind""",
        case_id,
    )
    return [_action_out(row) for row in rows]


@router.post("/v1/actions/{action_id}/complete", response_model=ActionOut)
async def complete_action(
    action_id: UUID, completion: Annotated[CompletionIn, Body()], request: Request
) -> ActionOut:
    completed_at = completion.completed_at or datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        row = await casework.complete_action(
            connection,
            action_id=action_id,
            outcome=completion.outcome,
            completed_at=completed_at,
            by_staff=True,
            notes=completion.notes,
        )
        if row is None:
            state = await connection.fetchval(
                "SELECT state FROM actions WHERE action_id = $1", action_id
            )
            if state is None:
                raise HTTPException(404, "no such action")
            raise HTTPException(409, f"action is already {state}")
    return _action_out({**dict(row), "overdue": False})
