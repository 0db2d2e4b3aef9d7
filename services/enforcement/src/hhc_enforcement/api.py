"""Enforcement's HTTP API: staff only (policy 3.5.1), each look at a case checked and
audited."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.service import runtime_of
from hhc_contracts.vocabulary import EnforcementRoute, PerpetratorKind

router = APIRouter(tags=["enforcement"])

EnforcementReader = Annotated[Caller, Depends(authorised(Permission.READ_ENFORCEMENT))]


class StepOut(BaseModel):
    action: str
    action_id: UUID | None
    taken_at: datetime


class EnforcementCaseOut(BaseModel):
    enforcement_case_id: UUID
    case_id: UUID
    route: EnforcementRoute
    perpetrator_kind: PerpetratorKind
    opened_at: datetime
    steps: list[StepOut]


@router.get("/v1/cases/{case_id}/enforcement", response_model=list[EnforcementCaseOut])
async def list_enforcement(
    case_id: UUID, request: Request, caller: EnforcementReader
) -> list[EnforcementCaseOut]:
    await audit.open_case_for(
        request, caller, Permission.READ_ENFORCEMENT, case_id, fields=("enforcement",)
    )
    async with runtime_of(request).pool.acquire() as connection:
        cases = await connection.fetch(
            "SELECT * FROM enforcement_cases WHERE case_id = $1 ORDER BY opened_at", case_id
        )
        steps = await connection.fetch(
            """SELECT s.* FROM enforcement_steps s JOIN enforcement_cases c USING
               (enforcement_case_id) WHERE c.case_id = $1 ORDER BY s.taken_at""",
            case_id,
        )
    return [
        EnforcementCaseOut(
            **dict(case),
            steps=[
                StepOut(action=s["action"], action_id=s["action_id"], taken_at=s["taken_at"])
                for s in steps
                if s["enforcement_case_id"] == case["enforcement_case_id"]
            ],
        )
        for case in cases
    ]
