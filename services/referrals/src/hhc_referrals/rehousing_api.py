"""Rehousing and exemptions over HTTP (policy 3.3.2, 3.4).

Staff read the evidence a case holds for rehousing and ask the housing allocations
system for a priority banding with it; they ask for a tenancy rule to be set aside
(3.4.2), naming the statutory or multi-agency support the survivor's case has (3.4.3);
a manager other than the one who asked decides. Each look at a case is checked and
audited; each request and decision is stored with its event in one transaction.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.v1 import (
    ExemptionDecided,
    RehousingAssessment,
    RehousingEvidence,
    RehousingIncident,
    RehousingRequested,
)
from hhc_contracts.vocabulary import IncidentCategory, Partner, RiskLevel
from hhc_referrals.rehousing import (
    Evidence,
    Exemption,
    ExemptionStatus,
    decision_refused,
    evidence_from,
)
from hhc_referrals.store import envelope_of

router = APIRouter(tags=["rehousing"])

ReferralsReader = Annotated[Caller, Depends(authorised(Permission.READ_REFERRALS))]
ReferralConfirmer = Annotated[Caller, Depends(authorised(Permission.CONFIRM_REFERRAL))]
Manager = Annotated[Caller, Depends(authorised(Permission.CHANGE_TEAM))]
"""Deciding an exemption is a manager's (issue 10): the one permission only managers hold."""

Text = Annotated[str, StringConstraints(strip_whitespace=True)]


class IncidentOut(BaseModel):
    report_id: UUID
    occurred_at: datetime | None
    """When it happened, where the report says."""
    received_at: datetime
    categories: list[IncidentCategory]
    description: str | None


class AssessmentOut(BaseModel):
    assessment_id: UUID
    risk_level: RiskLevel
    assessed_at: datetime


class PoliceReferenceOut(BaseModel):
    reference: str
    partner: Partner
    called_at: datetime | None
    """When staff telephoned and were given the reference."""


class EvidenceOut(BaseModel):
    """The evidence for rehousing (3.3.2): personal data."""

    case_id: UUID
    incidents: list[IncidentOut]
    assessments: list[AssessmentOut]
    police_references: list[PoliceReferenceOut]
    highest_risk_level: RiskLevel | None


def _evidence_out(case_id: UUID, evidence: Evidence) -> EvidenceOut:
    return EvidenceOut(
        case_id=case_id,
        incidents=[
            IncidentOut(
                report_id=incident.report_id,
                occurred_at=incident.occurred_at,
                received_at=incident.received_at,
                categories=list(incident.categories),
                description=incident.description,
            )
            for incident in evidence.incidents
        ],
        assessments=[
            AssessmentOut(
                assessment_id=assessment.assessment_id,
                risk_level=assessment.risk_level,
                assessed_at=assessment.assessed_at,
            )
            for assessment in evidence.assessments
        ],
        police_references=[
            PoliceReferenceOut(
                reference=police.reference, partner=police.partner, called_at=police.called_at
            )
            for police in evidence.police_references
        ],
        highest_risk_level=evidence.highest_risk_level,
    )


async def _load_evidence(connection: asyncpg.Connection, case_id: UUID) -> Evidence:
    return evidence_from(
        await connection.fetch("SELECT * FROM case_incidents WHERE case_id = $1", case_id),
        await connection.fetch("SELECT * FROM case_assessments WHERE case_id = $1", case_id),
        await connection.fetch(
            """SELECT partner, incident_number, called_at FROM referrals
               WHERE case_id = $1 AND incident_number IS NOT NULL""",
            case_id,
        ),
    )


@router.get(
    "/v1/cases/{case_id}/rehousing-evidence",
    response_model=EvidenceOut,
    summary="The case's evidence for rehousing: incidents, assessments, police references",
)
async def get_rehousing_evidence(
    case_id: UUID, request: Request, caller: ReferralsReader
) -> EvidenceOut:
    await audit.open_case_for(
        request, caller, Permission.READ_REFERRALS, case_id, fields=("rehousing_evidence",)
    )
    async with runtime_of(request).pool.acquire() as connection:
        return _evidence_out(case_id, await _load_evidence(connection, case_id))


class RehousingRequestIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    banding: Literal["emergency", "priority", "standard"] = Field(
        description="The banding asked of the choice based lettings scheme (3.3.2)."
    )
    notes: Text | None = Field(
        default=None, max_length=2000, description="For the allocations team, with the evidence."
    )


class RehousingRequestOut(BaseModel):
    request_id: UUID
    case_id: UUID
    banding: str
    notes: str | None
    requested_by: str
    requested_at: datetime
    evidence: EvidenceOut
    """Exactly what the allocations system was given."""


@router.post(
    "/v1/cases/{case_id}/rehousing-requests",
    response_model=RehousingRequestOut,
    status_code=201,
    summary="Ask the housing allocations system for a priority banding, with the evidence",
    responses={409: {"description": "The case has no incident recorded yet"}},
)
async def request_rehousing(
    case_id: UUID, body: RehousingRequestIn, request: Request, caller: ReferralConfirmer
) -> RehousingRequestOut:
    await audit.open_case_for(
        request,
        caller,
        Permission.CONFIRM_REFERRAL,
        case_id,
        fields=("rehousing_evidence", "rehousing_requests"),
    )
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        evidence = await _load_evidence(connection, case_id)
        if not evidence.incidents:
            raise HTTPException(
                409, "the case has no incident recorded yet: there is no evidence to send"
            )
        out = RehousingRequestOut(
            request_id=uuid.uuid4(),
            case_id=case_id,
            banding=body.banding,
            notes=body.notes or None,
            requested_by=caller.subject,
            requested_at=now,
            evidence=_evidence_out(case_id, evidence),
        )
        await connection.execute(
            """INSERT INTO rehousing_requests (request_id, case_id, banding, notes, requested_by,
                                               requested_at, highest_risk_level, evidence)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            out.request_id,
            case_id,
            out.banding,
            out.notes,
            out.requested_by,
            now,
            evidence.highest_risk_level.value if evidence.highest_risk_level else None,
            out.evidence.model_dump(mode="json"),
        )
        requested = RehousingRequested(
            request_id=out.request_id,
            case_id=case_id,
            banding=out.banding,
            requested_by=out.requested_by,
            requested_at=now,
            incident_count=len(evidence.incidents),
            assessment_count=len(evidence.assessments),
            police_reference_count=len(evidence.police_references),
            highest_risk_level=evidence.highest_risk_level,
            personal=RehousingEvidence(
                incidents=[
                    RehousingIncident(
                        occurred_at=incident.occurred_at,
                        received_at=incident.received_at,
                        categories=list(incident.categories),
                        description=incident.description,
                    )
                    for incident in evidence.incidents
                ],
                assessments=[
                    RehousingAssessment(
                        assessed_at=assessment.assessed_at, risk_level=assessment.risk_level
                    )
                    for assessment in evidence.assessments
                ],
                # v1 carries the references alone; their dates are in the stored request.
                police_references=[police.reference for police in evidence.police_references],
                notes=out.notes,
            ),
        )
        await enqueue(connection, [envelope_of(requested, None)])
    return out


class ExemptionRequestIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    rule: Text = Field(
        min_length=3,
        max_length=200,
        description="The tenancy or allocations rule to set aside, e.g. the rent arrears bar "
        "on a transfer (3.4.2).",
    )
    reason: Text = Field(min_length=10, max_length=2000, description="Why it should be.")
    supported_by: Text = Field(
        min_length=2,
        max_length=200,
        description="The statutory agency (police, social services) or multi-agency group "
        "(a Joint Action Group) whose support for the survivor's case is recorded (3.4.3).",
    )
    support_reference: Text | None = Field(
        default=None, max_length=100, description="Their reference, or the meeting's."
    )


class ExemptionOut(BaseModel):
    exemption_id: UUID
    case_id: UUID
    rule: str
    reason: str
    supported_by: str
    support_reference: str | None
    requested_by: str
    requested_at: datetime
    status: ExemptionStatus
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


def _exemption_out(row: asyncpg.Record) -> ExemptionOut:
    return ExemptionOut(**{name: row[name] for name in ExemptionOut.model_fields})


@router.post(
    "/v1/cases/{case_id}/exemption-requests",
    response_model=ExemptionOut,
    status_code=201,
    summary="Ask for a tenancy rule to be set aside for the survivor (3.4.2, 3.4.3)",
)
async def request_exemption(
    case_id: UUID, body: ExemptionRequestIn, request: Request, caller: ReferralConfirmer
) -> ExemptionOut:
    await audit.open_case_for(
        request, caller, Permission.CONFIRM_REFERRAL, case_id, fields=("exemption_requests",)
    )
    row = await runtime_of(request).pool.fetchrow(
        """INSERT INTO exemption_requests (exemption_id, case_id, rule, reason, supported_by,
                                           support_reference, requested_by, requested_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        uuid.uuid4(),
        case_id,
        body.rule,
        body.reason,
        body.supported_by,
        body.support_reference or None,
        caller.subject,
        datetime.now(UTC),
    )
    return _exemption_out(row)


@router.get(
    "/v1/cases/{case_id}/exemption-requests",
    response_model=list[ExemptionOut],
    summary="The case's exemption requests, oldest first, decided or not",
)
async def list_exemptions(
    case_id: UUID, request: Request, caller: ReferralsReader
) -> list[ExemptionOut]:
    await audit.open_case_for(
        request, caller, Permission.READ_REFERRALS, case_id, fields=("exemption_requests",)
    )
    rows = await runtime_of(request).pool.fetch(
        "SELECT * FROM exemption_requests WHERE case_id = $1 ORDER BY requested_at", case_id
    )
    return [_exemption_out(row) for row in rows]


async def _open_exemption(
    request: Request,
    caller: Caller,
    permission: Permission,
    exemption_id: UUID,
    fields: Sequence[str],
) -> UUID:
    """The case of an exemption request the caller may act on, or 404 (audited)."""
    case_id: UUID | None = await runtime_of(request).pool.fetchval(
        "SELECT case_id FROM exemption_requests WHERE exemption_id = $1", exemption_id
    )
    return await audit.open_case_of(
        request, caller, permission, what="exemption request", case_id=case_id, fields=fields
    )


class ExemptionDecisionIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    approved: bool
    reason: Text = Field(min_length=10, max_length=2000, description="Why, for the record.")


@router.post(
    "/v1/exemption-requests/{exemption_id}/decision",
    response_model=ExemptionOut,
    summary="A manager, not the one who asked, approves or refuses an exemption (3.4.3)",
    responses={
        404: {"description": "No such exemption request, or one you may not reach"},
        409: {"description": "Already decided, or it would be decided by the one who asked"},
    },
)
async def decide_exemption(
    exemption_id: UUID, decision: ExemptionDecisionIn, request: Request, caller: Manager
) -> ExemptionOut:
    await _open_exemption(
        request, caller, Permission.CHANGE_TEAM, exemption_id, ("exemption_requests",)
    )
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            "SELECT * FROM exemption_requests WHERE exemption_id = $1 FOR UPDATE", exemption_id
        )
        exemption = Exemption(
            requested_by=row["requested_by"],
            supported_by=row["supported_by"],
            status=ExemptionStatus(row["status"]),
        )
        refused = decision_refused(exemption, caller, approved=decision.approved)
        if refused is not None:
            raise HTTPException(409, refused)
        status = ExemptionStatus.APPROVED if decision.approved else ExemptionStatus.REFUSED
        row = await connection.fetchrow(
            """UPDATE exemption_requests
               SET status = $2, decided_by = $3, decided_at = $4, decision_reason = $5
               WHERE exemption_id = $1 RETURNING *""",
            exemption_id,
            status.value,
            caller.subject,
            now,
            decision.reason,
        )
        decided = ExemptionDecided(
            exemption_id=exemption_id,
            case_id=row["case_id"],
            rule=row["rule"],
            approved=decision.approved,
            supported_by=row["supported_by"],
            requested_by=row["requested_by"],
            decided_by=caller.subject,
            decided_at=now,
        )
        await enqueue(connection, [envelope_of(decided, None)])
        return _exemption_out(row)
