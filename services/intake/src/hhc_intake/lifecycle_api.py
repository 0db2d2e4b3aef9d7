"""Staff routes of the case lifecycle: owner, status, closure and its agreement, and the
track of a report that turned out otherwise. Each checks the caller's right to that very
case (audited), then decides and stores in one transaction (:mod:`lifecycle_store`)."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission, reaches
from hhc_chassis.auth import authorised
from hhc_chassis.case_access import load_scope
from hhc_chassis.http import invalid
from hhc_chassis.service import runtime_of
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.vocabulary import CaseStatus, ClosureReason, ReporterRole, RiskLevel, Track
from hhc_intake.lifecycle import ClosureRequest, Refused
from hhc_intake.lifecycle_store import (
    NoSuchCase,
    agree_closure,
    assign_owner,
    change_status,
    change_track,
    request_closure,
)

router = APIRouter(tags=["case lifecycle"])

Assigner = Annotated[Caller, Depends(authorised(Permission.ASSIGN_CASE))]
CaseManager = Annotated[Caller, Depends(authorised(Permission.MANAGE_CASE))]
ClosureAgreer = Annotated[Caller, Depends(authorised(Permission.AGREE_CLOSURE))]

STAFF_WORDS = Field(default=None, max_length=2000)


class Body(StrictInput):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class OwnerChange(Body):
    owner: str = Field(
        min_length=1, max_length=200, description="Subject (staff account id) of the new owner"
    )


class StatusChange(Body):
    status: CaseStatus = Field(
        description="in_progress, awaiting_closure or reopened; close through /closure"
    )


class ClosureBody(Body):
    reason: ClosureReason
    detail: str | None = Field(
        default=None,
        max_length=2000,
        description="Why no further action; to which policy or agency it was transferred",
    )
    contact_attempts: list[AwareDatetime] = Field(
        default_factory=list,
        max_length=50,
        description="When the survivor was tried, for could_not_contact: at least 3, on "
        "different days",
    )


class TrackChange(Body):
    track: Track | None = Field(
        default=None, description="The track expected; refused when it is not the one it gets"
    )
    reason: str | None = STAFF_WORDS
    confirmed_by_survivor: bool = Field(
        default=False,
        description="The survivor confirmed the report at the discreet contact (3.2.4)",
    )


class ClosureOut(BaseModel):
    reason: ClosureReason
    detail: str | None
    contact_attempts: list[datetime]
    closed_at: datetime
    closed_by: str
    agreed_by: str | None


class PendingClosureOut(BaseModel):
    reason: ClosureReason
    detail: str | None
    contact_attempts: list[datetime]
    requested_by: str
    requested_at: datetime


class LifecycleOut(BaseModel):
    case_id: UUID
    status: CaseStatus
    owner: str | None
    team: str
    risk_level: RiskLevel | None = Field(description="Newest, as intake heard it from risk")
    closure: ClosureOut | None
    pending_closure: PendingClosureOut | None = Field(
        description="A high-risk closure waiting for a manager's agreement"
    )
    linked_case_id: UUID | None = Field(description="The closed case this one follows on from")
    linked_cases: list[UUID] = Field(description="Cases opened later that follow on from this")


class OwnerOut(BaseModel):
    case_id: UUID
    owner: str
    previous_owner: str | None
    team: str


class TrackOut(BaseModel):
    case_id: UUID
    track: Track
    previous_track: Track
    track_clauses: list[str]
    reporter_role: ReporterRole
    changed_by: str
    changed_at: datetime


async def lifecycle_of(connection: asyncpg.Connection, case_id: UUID) -> LifecycleOut:
    """The case's place in its lifecycle, in one query."""
    row = await connection.fetchrow(
        """SELECT c.*, r.risk_level,
                  p.reason AS pending_reason, p.detail AS pending_detail,
                  p.contact_attempts AS pending_attempts, p.requested_by, p.requested_at,
                  coalesce((SELECT array_agg(l.case_id ORDER BY l.opened_at) FROM cases l
                            WHERE l.linked_case_id = c.case_id), '{}') AS linked_cases
           FROM cases c
           LEFT JOIN case_risk r USING (case_id)
           LEFT JOIN closure_requests p USING (case_id)
           WHERE c.case_id = $1""",
        case_id,
    )
    if row is None:
        raise HTTPException(404, "no such case")
    closed = row["status"] == CaseStatus.CLOSED and row["closed_at"] is not None
    return LifecycleOut(
        case_id=case_id,
        status=CaseStatus(row["status"]),
        owner=row["owner"],
        team=row["team"],
        risk_level=RiskLevel(row["risk_level"]) if row["risk_level"] else None,
        closure=ClosureOut(
            reason=ClosureReason(row["closure_reason"]),
            detail=row["closure_detail"],
            contact_attempts=row["closure_contact_attempts"],
            closed_at=row["closed_at"],
            closed_by=row["closed_by"],
            agreed_by=row["closure_agreed_by"],
        )
        if closed
        else None,
        pending_closure=PendingClosureOut(
            reason=ClosureReason(row["pending_reason"]),
            detail=row["pending_detail"],
            contact_attempts=row["pending_attempts"],
            requested_by=row["requested_by"],
            requested_at=row["requested_at"],
        )
        if row["pending_reason"]
        else None,
        linked_case_id=row["linked_case_id"],
        linked_cases=row["linked_cases"],
    )


@contextmanager
def decided() -> Iterator[None]:
    """The rules' refusals as answers: 422 naming the field, or 409 for the case's state."""
    try:
        yield
    except Refused as refused:
        if refused.field:
            raise invalid(refused.field, refused.message) from None
        raise HTTPException(409, refused.message) from None
    except NoSuchCase:
        raise HTTPException(404, "no such case") from None


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The case's state does not allow it (a closed case, ...)"}
}


@router.put(
    "/v1/cases/{case_id}/owner",
    response_model=OwnerOut,
    summary="Name the member of staff who owns the case (managers)",
    responses=CONFLICT,
)
async def put_owner(
    case_id: UUID, change: OwnerChange, request: Request, caller: Assigner
) -> OwnerOut:
    await audit.open_case_for(request, caller, Permission.ASSIGN_CASE, case_id, fields=("owner",))
    async with runtime_of(request).pool.acquire() as connection:
        with decided():
            async with connection.transaction():
                event = await assign_owner(
                    connection,
                    case_id,
                    change.owner,
                    assigned_by=caller.subject,
                    assigned_at=datetime.now(UTC),
                )
        if event is not None:
            return OwnerOut(
                case_id=case_id,
                owner=event.owner,
                previous_owner=event.previous_owner,
                team=event.team,
            )
        now = await lifecycle_of(connection, case_id)
    return OwnerOut(case_id=case_id, owner=change.owner, previous_owner=change.owner, team=now.team)


@router.post(
    "/v1/cases/{case_id}/status",
    response_model=LifecycleOut,
    summary="Move the case along: in_progress, awaiting_closure, or reopened once closed",
    responses=CONFLICT,
)
async def post_status(
    case_id: UUID, change: StatusChange, request: Request, caller: CaseManager
) -> LifecycleOut:
    await audit.open_case_for(request, caller, Permission.MANAGE_CASE, case_id, fields=("status",))
    async with runtime_of(request).pool.acquire() as connection:
        with decided():
            async with connection.transaction():
                await change_status(
                    connection,
                    case_id,
                    change.status,
                    changed_by=caller.subject,
                    changed_at=datetime.now(UTC),
                )
        return await lifecycle_of(connection, case_id)


@router.post(
    "/v1/cases/{case_id}/closure",
    response_model=LifecycleOut,
    summary="Close the case with a reason; a high-risk case waits for a manager's agreement "
    "(202) unless a manager of its team asks",
    responses={202: {"description": "Waiting for a manager's agreement"}, **CONFLICT},
)
async def post_closure(
    case_id: UUID, body: ClosureBody, request: Request, caller: CaseManager
) -> Any:
    await audit.open_case_for(
        request, caller, Permission.MANAGE_CASE, case_id, fields=("status", "closure")
    )
    closure = ClosureRequest(
        reason=body.reason,
        detail=body.detail,
        contact_attempts=tuple(body.contact_attempts),
        requested_by=caller.subject,
    )
    async with runtime_of(request).pool.acquire() as connection:
        with decided():
            async with connection.transaction():
                scope = await load_scope(connection, case_id)
                outcome = await request_closure(
                    connection,
                    case_id,
                    closure,
                    # A manager of the case's team agrees by asking.
                    caller_agrees=scope is not None
                    and reaches(caller, Permission.AGREE_CLOSURE, scope),
                    at=datetime.now(UTC),
                )
        now = await lifecycle_of(connection, case_id)
    if outcome.closure.close:
        return now
    return JSONResponse(status_code=202, content=now.model_dump(mode="json"))


@router.post(
    "/v1/cases/{case_id}/closure/agreement",
    response_model=LifecycleOut,
    summary="A manager agrees the closure waiting on a high-risk case, which closes it "
    "(not the one who asked)",
    responses=CONFLICT,
)
async def post_closure_agreement(
    case_id: UUID, request: Request, caller: ClosureAgreer
) -> LifecycleOut:
    await audit.open_case_for(
        request, caller, Permission.AGREE_CLOSURE, case_id, fields=("status", "closure")
    )
    async with runtime_of(request).pool.acquire() as connection:
        with decided():
            async with connection.transaction():
                await agree_closure(
                    connection, case_id, agreeing=caller.subject, at=datetime.now(UTC)
                )
        return await lifecycle_of(connection, case_id)


@router.post(
    "/v1/cases/{case_id}/track",
    response_model=TrackOut,
    summary="A third-party report the survivor confirmed (3.2.4), or an anonymous one found "
    "valid (3.2.5): the case takes the track it now qualifies for",
    responses=CONFLICT,
)
async def post_track(
    case_id: UUID, change: TrackChange, request: Request, caller: CaseManager
) -> TrackOut:
    await audit.open_case_for(request, caller, Permission.MANAGE_CASE, case_id, fields=("track",))
    async with runtime_of(request).pool.acquire() as connection:
        with decided():
            async with connection.transaction():
                event = await change_track(
                    connection,
                    case_id,
                    confirmed_by_survivor=change.confirmed_by_survivor,
                    wanted=change.track,
                    reason=change.reason,
                    changed_by=caller.subject,
                    changed_at=datetime.now(UTC),
                )
    return TrackOut(
        case_id=case_id,
        track=event.track,
        previous_track=event.previous_track,
        track_clauses=event.track_clauses,
        reporter_role=event.reporter_role,
        changed_by=event.changed_by,
        changed_at=event.changed_at,
    )
