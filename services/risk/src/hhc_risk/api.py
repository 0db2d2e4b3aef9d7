"""Risk's HTTP API: actions of a case, and completing one."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts.v1 import ActionCompleted, ActionOutcomePersonalData
from hhc_contracts.vocabulary import ActionKind, AppliesTo, Executor, Partner

router = APIRouter(tags=["actions"])


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


@router.get("/v1/cases/{case_id}/actions", response_model=list[ActionOut])
async def list_actions(case_id: UUID, request: Request) -> list[ActionOut]:
    rows = await runtime_of(request).pool.fetch(
        """SELECT *, (state = 'open' AND due_at <= now()) AS overdue
           FROM actions WHERE case_id = $1 ORDER BY due_at, kind""",
        case_id,
    )
    return [ActionOut(**{key: row[key] for key in ActionOut.model_fields}) for row in rows]


@router.post("/v1/actions/{action_id}/complete", response_model=ActionOut)
async def complete_action(
    action_id: UUID, completion: Annotated[CompletionIn, Body()], request: Request
) -> ActionOut:
    runtime = runtime_of(request)
    completed_at = completion.completed_at or datetime.now(UTC)
    async with runtime.pool.acquire() as connection, connection.transaction():
        action = await connection.fetchrow(
            "SELECT * FROM actions WHERE action_id = $1 FOR UPDATE", action_id
        )
        if action is None:
            raise HTTPException(404, "no such action")
        if action["state"] == "completed":
            raise HTTPException(409, "action already completed")
        # 5.2: the first completed action of a case is its first response.
        first_response = await connection.fetchval(
            """UPDATE cases SET first_response_at = $2
               WHERE case_id = $1 AND first_response_at IS NULL RETURNING true""",
            action["case_id"],
            completed_at,
        )
        await connection.execute(
            """UPDATE actions SET state = 'completed', completed_at = $2, outcome = $3
               WHERE action_id = $1""",
            action_id,
            completed_at,
            completion.outcome,
        )
        event = ActionCompleted(
            action_id=action_id,
            case_id=action["case_id"],
            kind=action["kind"],
            completed_at=completed_at,
            outcome=completion.outcome,
            first_response=bool(first_response),
            personal=ActionOutcomePersonalData(notes=completion.notes),
        )
        await enqueue(
            connection, [new_envelope(event, case_id=action["case_id"], occurred_at=completed_at)]
        )
        row = await connection.fetchrow(
            "SELECT *, false AS overdue FROM actions WHERE action_id = $1", action_id
        )
    return ActionOut(**{key: row[key] for key in ActionOut.model_fields})
