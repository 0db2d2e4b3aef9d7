"""Intake's HTTP API: decode, decide (pure), store and emit in one transaction."""

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Body, Depends, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission, Role
from hhc_chassis.auth import authorised
from hhc_chassis.db import write_together
from hhc_chassis.service import runtime_of
from hhc_contracts.submission import Consent, ReportSubmitted
from hhc_contracts.vocabulary import (
    Channel,
    ConsentGiver,
    ConsentState,
    PartnerKind,
    ReporterRole,
    RiskLevel,
)
from hhc_intake.cases import (
    CaseNotOpen,
    NewCase,
    add_report,
    change_consent,
    change_team,
    new_case,
    statement_of,
)
from hhc_intake.disposal_api import LegalHoldOut, hold_out
from hhc_intake.domain import consent_refusal
from hhc_intake.erasure import erasure_of, holds_of
from hhc_intake.lifecycle_api import ClosureOut, PendingClosureOut, lifecycle_of
from hhc_intake.settings import intake_settings
from hhc_intake.status import reissue_status_code

router = APIRouter(tags=["reports"])

_BASE_REPORT: dict[str, Any] = {
    "channel": "telephone",
    "survivor": {"is_customer": True, "name": "A. Resident", "phone": "07700 900000"},
    "alleged_perpetrators": [{"kind": "customer"}],
    "incident": {
        "categories": ["verbal_abuse"],
        "perceived_motivation": ["race"],
        "description": "Shouted abuse at my door",
        "occurred_at": "2026-11-20T21:00:00Z",
    },
    "immediate_danger": True,
}
# Only the survivor gives or refuses consent (3.5.2): no one else's report states it.
_SURVIVORS_CONSENT: dict[str, Any] = {
    "consent": {"share_with_partners": True, "by_partner_kind": {"housing": False}}
}

# One example per reporter route (policy 3.2): OpenAPI shows them in /docs.
REPORT_EXAMPLES: dict[str, dict[str, Any]] = {
    "survivor": {
        "summary": "A customer reporting for themselves",
        "value": {**_BASE_REPORT, **_SURVIVORS_CONSENT, "reporter": {"role": "survivor"}},
    },
    "third_party": {
        "summary": "Someone reporting on a customer's behalf (no feedback, 3.2.3)",
        "value": {
            **_BASE_REPORT,
            "reporter": {"role": "third_party", "name": "B. Friend", "contact": "07700 900111"},
        },
    },
    "witness": {
        "summary": "A witness",
        "value": {**_BASE_REPORT, "reporter": {"role": "witness", "name": "C. Passer-by"}},
    },
    "anonymous": {
        "summary": "An anonymous report (validity checked first, 3.2.5)",
        "value": {**_BASE_REPORT, "reporter": {"role": "anonymous"}},
    },
    "staff_observer": {
        "summary": "A member of staff who saw it (3.3.1)",
        "value": {
            **_BASE_REPORT,
            "channel": "in_person",
            "reporter": {"role": "staff_observer", "name": "D. Officer"},
        },
    },
    "partner_agency": {
        "summary": "A partner agency referring a non-customer (Hate Crime Reporting Centre)",
        "value": {
            **_BASE_REPORT,
            "channel": "partner_agency",
            "reporter": {"role": "partner_agency", "name": "Victim Support"},
            "survivor": {"is_customer": False, "name": "E. Member"},
            "alleged_perpetrators": [{"kind": "unknown"}],
        },
    },
    "staff_survivor": {
        "summary": "Staff harmed during their duties (line manager route, 4.3)",
        "value": {
            **_BASE_REPORT,
            **_SURVIVORS_CONSENT,
            "reporter": {"role": "survivor"},
            "survivor": {"is_customer": False, "is_staff": True, "name": "F. Officer"},
        },
    },
}

ReportBody = Annotated[ReportSubmitted, Body(openapi_examples=REPORT_EXAMPLES)]
IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="Retrying with the same key returns the first answer"),
]


Submitter = Annotated[Caller, Depends(authorised(Permission.SUBMIT_REPORT))]
FurtherReporter = Annotated[Caller, Depends(authorised(Permission.ADD_FURTHER_REPORT))]
ConsentRecorder = Annotated[Caller, Depends(authorised(Permission.RECORD_CONSENT))]
TeamChanger = Annotated[Caller, Depends(authorised(Permission.CHANGE_TEAM))]
CaseReader = Annotated[Caller, Depends(authorised(Permission.READ_CASE))]
CodeIssuer = Annotated[Caller, Depends(authorised(Permission.ISSUE_STATUS_CODE))]


def _consent_is_the_reporters(report: ReportSubmitted) -> None:
    """422 on ``consent`` when someone other than the survivor states it (3.5.2)."""
    refusal = consent_refusal(report.reporter.role, statement_of(report.consent))
    if refusal is not None:
        raise RequestValidationError(
            [{"loc": ("body", "consent"), "msg": refusal, "type": "consent_not_theirs"}]
        )


def _taken_by(caller: Caller) -> str | None:
    """The member of staff who took a report; a system account takes none."""
    return caller.subject if caller.roles - {Role.SYSTEM} else None


REPORT_FIELDS = ("report",)


class ReportAccepted(BaseModel):
    case_id: UUID
    reference: str
    status_code: str | None = Field(
        default=None,
        description="For a reporter who gets feedback, to give them once: with the reference "
        "it shows the report's status on the public pages. Only its hash is kept, so a "
        "retried request's answer has none.",
    )
    linked_case_id: UUID | None = Field(
        default=None,
        description="Set when a further report came after the closed case's reopening "
        "window: case_id is then a new case, following on from this one",
    )
    reopened: bool = Field(default=False, description="The further report reopened its closed case")


async def _idempotent(
    request: Request,
    caller: Caller,
    key: str | None,
    body: BaseModel,
    act: Callable[[asyncpg.Connection], Awaitable[NewCase]],
) -> Any:
    """Run ``act(connection)`` once per Idempotency-Key; a retry gets the first answer.
    The report written is audited in the same transaction; a new case's rows are written
    with the audit's and the key's in one round trip."""
    runtime = runtime_of(request)
    request_hash = hashlib.sha256(
        f"{request.url.path}\n{body.model_dump_json()}".encode()
    ).hexdigest()
    async with runtime.pool.acquire() as connection, connection.transaction():
        if key:
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"idempotency:{key}"
            )
            earlier = await connection.fetchrow(
                "SELECT request_hash, response FROM idempotency_keys WHERE key = $1", key
            )
            if earlier is not None:
                if earlier["request_hash"] != request_hash:
                    raise HTTPException(409, "Idempotency-Key was used for a different request")
                return JSONResponse(status_code=202, content=earlier["response"])
        outcome = await act(connection)
        accepted, writes = outcome.accepted, list(outcome.writes)
        answer = ReportAccepted(
            case_id=accepted.case_id,
            reference=accepted.reference,
            status_code=accepted.status_code,
            linked_case_id=accepted.linked_case_id,
            reopened=accepted.reopened,
        )
        if key:
            writes.append(
                (
                    """INSERT INTO idempotency_keys (key, request_hash, case_id, response)
                       VALUES ($1, $2, $3, $4::text::jsonb)""",
                    (
                        key,
                        request_hash,
                        accepted.case_id,
                        answer.model_dump_json(exclude={"status_code"}),
                    ),
                )
            )
        writes.append(
            audit.appended(
                audit.entry_for(
                    request,
                    caller,
                    case_id=accepted.case_id,
                    fields=REPORT_FIELDS,
                    outcome=audit.GRANTED,
                )
            )
        )
        await write_together(connection, writes)
    return answer


@router.post(
    "/v1/reports",
    status_code=202,
    response_model=ReportAccepted,
    summary="Report harassment or a hate incident; opens a case",
    responses={409: {"description": "Idempotency-Key reused for a different report"}},
)
async def submit_report(
    report: ReportBody,
    request: Request,
    caller: Submitter,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    _consent_is_the_reporters(report)
    teams = intake_settings(request).team_assignment

    async def act(connection: asyncpg.Connection) -> NewCase:
        return await new_case(
            connection,
            report,
            received_at=datetime.now(UTC),
            teams=teams,
            taken_by=_taken_by(caller),
        )

    return await _idempotent(request, caller, idempotency_key, report, act)


@router.post(
    "/v1/cases/{case_id}/reports",
    status_code=202,
    response_model=ReportAccepted,
    summary="A further report on a case: joins it, and risk reassesses. On a closed case it "
    "reopens it within REOPEN_WINDOW of closure, or else opens a new case linked to it "
    "(linked_case_id in the answer)",
    responses={404: {"description": "No case with this id"}},
)
async def submit_further_report(
    case_id: UUID,
    report: ReportBody,
    request: Request,
    caller: FurtherReporter,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    _consent_is_the_reporters(report)
    await audit.open_case_for(
        request, caller, Permission.ADD_FURTHER_REPORT, case_id, fields=REPORT_FIELDS
    )
    reopen_window = intake_settings(request).reopen_window

    async def act(connection: asyncpg.Connection) -> NewCase:
        try:
            accepted = await add_report(
                connection,
                case_id,
                report,
                received_at=datetime.now(UTC),
                reopen_window=reopen_window,
                taken_by=_taken_by(caller),
            )
        except CaseNotOpen:
            raise HTTPException(404, "no case with this id") from None
        return NewCase(accepted, writes=())  # written already

    return await _idempotent(request, caller, idempotency_key, report, act)


class RecordedConsent(Consent):
    """Consent recorded anew by staff: it replaces the case's whole. Staff say who gave or
    refused it: the survivor, or someone with authority to act for them (3.5.2)."""

    given_by: ConsentGiver = Field(
        description="Who gave or refused it (3.5.2): the survivor, or someone with "
        "authority to act for them"
    )


class ConsentOut(BaseModel):
    case_id: UUID
    consent_to_share: ConsentState
    by_partner_kind: dict[PartnerKind, ConsentState] = Field(
        description="Consent per kind of partner where it differs from consent_to_share"
    )
    given_by: ConsentGiver | None
    changed_at: datetime


@router.put(
    "/v1/cases/{case_id}/consent",
    response_model=ConsentOut,
    summary="Record the survivor's consent anew; the change is published (3.5.2)",
)
async def put_consent(
    case_id: UUID,
    consent: RecordedConsent,
    request: Request,
    caller: ConsentRecorder,
) -> ConsentOut:
    await audit.open_case_for(
        request, caller, Permission.RECORD_CONSENT, case_id, fields=("consent",)
    )
    # Who recorded it is who is signed in, whatever the body says.
    consent = consent.model_copy(update={"recorded_by": caller.subject})
    changed_at = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        try:
            event = await change_consent(connection, case_id, consent, changed_at=changed_at)
        except CaseNotOpen:
            raise HTTPException(404, "no such case") from None
    return ConsentOut(
        case_id=case_id,
        consent_to_share=event.consent_to_share,
        by_partner_kind=event.by_partner_kind,
        given_by=event.given_by,
        changed_at=changed_at,
    )


class StatusCodeIssued(BaseModel):
    case_id: UUID
    reference: str
    status_code: str = Field(description="The new code; the one before stops working")


@router.post(
    "/v1/cases/{case_id}/status-code",
    response_model=StatusCodeIssued,
    summary="A new status code for the survivor, to give by phone (the old one stops working)",
    responses={404: {"description": "No such case, or its reporter gets no feedback (3.2.3)"}},
)
async def issue_status_code(
    case_id: UUID, request: Request, caller: CodeIssuer
) -> StatusCodeIssued:
    await audit.open_case_for(
        request, caller, Permission.ISSUE_STATUS_CODE, case_id, fields=("status_code",)
    )
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        code = await reissue_status_code(connection, case_id)
        reference = await connection.fetchval(
            "SELECT reference FROM cases WHERE case_id = $1", case_id
        )
    if code is None or reference is None:
        # 3.2.3: a third-party or anonymous reporter is given no way to read the case.
        raise HTTPException(404, "no case whose reporter gets feedback")
    return StatusCodeIssued(case_id=case_id, reference=reference, status_code=code)


class TeamChange(BaseModel):
    team: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class TeamOut(BaseModel):
    case_id: UUID
    team: str
    previous_team: str
    changed_at: datetime


@router.put(
    "/v1/cases/{case_id}/team",
    response_model=TeamOut,
    summary="Move a case to another team (managers); every service hears of it",
)
async def put_team(
    case_id: UUID,
    change: TeamChange,
    request: Request,
    caller: TeamChanger,
) -> TeamOut:
    await audit.open_case_for(request, caller, Permission.CHANGE_TEAM, case_id, fields=("team",))
    changed_at = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        try:
            event = await change_team(
                connection,
                case_id,
                change.team,
                changed_by=caller.subject,
                changed_at=changed_at,
            )
        except CaseNotOpen:
            raise HTTPException(404, "no such case") from None
    return TeamOut(
        case_id=case_id, team=event.team, previous_team=event.previous_team, changed_at=changed_at
    )


class ReportOut(BaseModel):
    report_id: UUID
    received_at: datetime
    channel: Channel
    reporter_role: ReporterRole
    further_report: bool
    report: dict[str, Any]


class ConsentRecord(BaseModel):
    consent_to_share: ConsentState
    by_partner_kind: dict[PartnerKind, ConsentState]
    given_by: ConsentGiver | None = Field(
        description="Who gave or refused it; None while not asked, or when recorded before "
        "the giver was"
    )
    safe_contact: dict[str, bool]
    recorded_by: str | None
    recorded_at: datetime


class CaseOut(BaseModel):
    case_id: UUID
    reference: str
    status: str
    track: str
    track_clauses: list[str]
    classification: str
    consent_to_share: ConsentState
    consent_by_partner_kind: dict[PartnerKind, ConsentState]
    consent_given_by: ConsentGiver | None
    reporter_receives_feedback: bool
    related_policy: str | None
    opened_at: datetime
    team: str
    owner: str | None
    risk_level: RiskLevel | None = Field(description="Newest, as intake heard it from risk")
    closure: ClosureOut | None
    pending_closure: PendingClosureOut | None = Field(
        description="A high-risk closure waiting for a manager's agreement"
    )
    linked_case_id: UUID | None = Field(description="The closed case this one follows on from")
    linked_cases: list[UUID] = Field(description="Cases opened later that follow on from this")
    reports: list[ReportOut]
    consent_history: list[ConsentRecord]
    erased_at: datetime | None = Field(
        default=None,
        description="When the case's personal data was erased (3.5.2): nothing in it names "
        "or describes anyone since",
    )
    legal_holds: list[LegalHoldOut] = Field(
        default_factory=list,
        description="Active legal holds: the case's personal data is not disposed of while any is",
    )


@router.get(
    "/v1/cases/{case_id}",
    response_model=CaseOut,
    summary="A case with its reports and consent history (staff only: personal data)",
)
async def get_case(case_id: UUID, request: Request, caller: CaseReader) -> CaseOut:
    await audit.open_case_for(
        request, caller, Permission.READ_CASE, case_id, fields=("reports", "consent_history")
    )
    async with runtime_of(request).pool.acquire() as connection:
        case = await connection.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
        if case is None:
            raise HTTPException(404, "no such case")
        reports = await connection.fetch(
            "SELECT * FROM reports WHERE case_id = $1 ORDER BY received_at", case_id
        )
        consents = await connection.fetch(
            "SELECT * FROM consents WHERE case_id = $1 ORDER BY recorded_at, id", case_id
        )
        lifecycle = await lifecycle_of(connection, case_id)
        erasure = await erasure_of(connection, case_id)
        holds = await holds_of(connection, case_id, active_only=True)
    return CaseOut(
        **{
            **dict(case),
            **lifecycle.model_dump(
                include={
                    "owner",
                    "risk_level",
                    "closure",
                    "pending_closure",
                    "linked_case_id",
                    "linked_cases",
                }
            ),
        },
        reports=[
            ReportOut(
                report=row["body"],
                **{
                    k: row[k]
                    for k in (
                        "report_id",
                        "received_at",
                        "channel",
                        "reporter_role",
                        "further_report",
                    )
                },
            )
            for row in reports
        ],
        consent_history=[
            ConsentRecord(**{k: row[k] for k in ConsentRecord.model_fields}) for row in consents
        ],
        erased_at=erasure.erased_at if erasure else None,
        legal_holds=[hold_out(hold) for hold in holds],
    )
