"""HTTP API of intake: decode, decide (pure), store and emit in one transaction."""

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts.v1 import ReportPersonalData, ReportReceived
from hhc_contracts.vocabulary import (
    Channel,
    ConsentState,
    IncidentCategory,
    PerceivedMotivation,
    PerpetratorKind,
    ReporterRole,
)
from hhc_intake.domain import RoutingFacts, case_reference, classify, route

router = APIRouter(tags=["reports"])


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReporterIn(StrictModel):
    role: ReporterRole
    name: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=200)


class SurvivorIn(StrictModel):
    is_customer: bool
    is_staff: bool = Field(
        default=False, description="A member of staff harmed during duties (4.3)"
    )
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    tenancy_reference: str | None = Field(default=None, max_length=40)
    vulnerable_adult: bool = False
    children_in_household: bool = False
    female_staff_requested: bool = False
    capacity_concern: bool = Field(default=False, description="Doubt about capacity (1.6.2)")


class PerpetratorIn(StrictModel):
    kind: PerpetratorKind


class IncidentIn(StrictModel):
    categories: list[IncidentCategory] = Field(min_length=1)
    perceived_motivation: list[PerceivedMotivation] = Field(default_factory=list)
    description: str | None = Field(default=None, max_length=20_000)
    location: str | None = Field(default=None, max_length=500)
    occurred_at: AwareDatetime | None = None


class ConsentIn(StrictModel):
    share_with_partners: bool | None = Field(
        default=None, description="true: given; false: refused; absent: not asked (3.5.2)"
    )


class ReportIn(StrictModel):
    channel: Channel
    reporter: ReporterIn
    survivor: SurvivorIn
    alleged_perpetrators: list[PerpetratorIn] = Field(default_factory=list, max_length=50)
    incident: IncidentIn
    immediate_danger: bool = False
    consent: ConsentIn = Field(default_factory=ConsentIn)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "telephone",
                    "reporter": {"role": "survivor"},
                    "survivor": {
                        "is_customer": True,
                        "name": "A. Resident",
                        "phone": "07700 900000",
                    },
                    "alleged_perpetrators": [{"kind": "customer"}],
                    "incident": {
                        "categories": ["verbal_abuse"],
                        "perceived_motivation": ["race"],
                        "description": "Shouted abuse at my door",
                        "occurred_at": "2026-11-20T21:00:00Z",
                    },
                    "immediate_danger": True,
                    "consent": {"share_with_partners": True},
                }
            ]
        }
    )


class ReportAccepted(BaseModel):
    case_id: UUID
    reference: str


def _consent(consent: ConsentIn) -> ConsentState:
    if consent.share_with_partners is None:
        return ConsentState.NOT_ASKED
    return ConsentState.GIVEN if consent.share_with_partners else ConsentState.REFUSED


def report_received(
    report: ReportIn, *, case_id: UUID, report_id: UUID, reference: str, received_at: datetime
) -> ReportReceived:
    """The event a new report makes: classification and route decided here, purely."""
    perpetrator_kinds = [p.kind for p in report.alleged_perpetrators]
    decided = route(
        RoutingFacts(
            reporter_role=report.reporter.role,
            survivor_is_customer=report.survivor.is_customer,
            survivor_is_staff=report.survivor.is_staff,
            perpetrator_kinds=frozenset(perpetrator_kinds),
            categories=frozenset(report.incident.categories),
        )
    )
    return ReportReceived(
        case_id=case_id,
        report_id=report_id,
        reference=reference,
        channel=report.channel,
        reporter_role=report.reporter.role,
        survivor_is_customer=report.survivor.is_customer,
        survivor_is_staff=report.survivor.is_staff,
        perpetrator_kinds=perpetrator_kinds,
        categories=report.incident.categories,
        perceived_motivation=report.incident.perceived_motivation,
        classification=classify(report.incident.categories, report.incident.perceived_motivation),
        track=decided.track,
        track_clauses=list(decided.clauses),
        immediate_danger=report.immediate_danger,
        vulnerable_adult=report.survivor.vulnerable_adult,
        children_in_household=report.survivor.children_in_household,
        female_staff_requested=report.survivor.female_staff_requested,
        capacity_concern=report.survivor.capacity_concern,
        consent_to_share=_consent(report.consent),
        incident_occurred_at=report.incident.occurred_at,
        received_at=received_at,
        personal=ReportPersonalData(
            survivor_name=report.survivor.name,
            survivor_phone=report.survivor.phone,
            survivor_email=report.survivor.email,
            survivor_tenancy_reference=report.survivor.tenancy_reference,
            reporter_name=report.reporter.name,
            reporter_contact=report.reporter.contact,
            description=report.incident.description,
            location=report.incident.location,
        ),
    )


@router.post(
    "/v1/reports",
    status_code=202,
    response_model=ReportAccepted,
    summary="Report harassment or a hate incident; opens a case",
    responses={409: {"description": "Idempotency-Key reused with a different report"}},
)
async def submit_report(
    report: ReportIn,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    runtime = runtime_of(request)
    request_hash = hashlib.sha256(report.model_dump_json().encode()).hexdigest()
    async with runtime.pool.acquire() as connection, connection.transaction():
        if idempotency_key:
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"idempotency:{idempotency_key}"
            )
            earlier = await connection.fetchrow(
                "SELECT request_hash, response FROM idempotency_keys WHERE key = $1",
                idempotency_key,
            )
            if earlier is not None:
                if earlier["request_hash"] != request_hash:
                    raise HTTPException(409, "Idempotency-Key was used for a different report")
                return JSONResponse(status_code=202, content=earlier["response"])
        received_at = datetime.now(UTC)
        case_id, report_id = uuid.uuid4(), uuid.uuid4()
        sequence_number = await connection.fetchval("SELECT nextval('case_reference_seq')")
        reference = case_reference(received_at.year, sequence_number)
        event = report_received(
            report,
            case_id=case_id,
            report_id=report_id,
            reference=reference,
            received_at=received_at,
        )
        await connection.execute(
            """INSERT INTO cases (case_id, reference, track, track_clauses, classification,
                                  consent_to_share, opened_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            case_id,
            reference,
            event.track.value,
            event.track_clauses,
            event.classification.value,
            event.consent_to_share.value,
            received_at,
        )
        await connection.execute(
            """INSERT INTO reports (report_id, case_id, received_at, channel, reporter_role, body)
               VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)""",
            report_id,
            case_id,
            received_at,
            report.channel.value,
            report.reporter.role.value,
            report.model_dump_json(),
        )
        await enqueue(connection, [new_envelope(event, case_id=case_id, occurred_at=received_at)])
        accepted = ReportAccepted(case_id=case_id, reference=reference)
        if idempotency_key:
            await connection.execute(
                """INSERT INTO idempotency_keys (key, request_hash, case_id, response)
                   VALUES ($1, $2, $3, $4::text::jsonb)""",
                idempotency_key,
                request_hash,
                case_id,
                accepted.model_dump_json(),
            )
    return accepted


class ReportOut(BaseModel):
    report_id: UUID
    received_at: datetime
    channel: Channel
    reporter_role: ReporterRole
    report: dict[str, Any]


class CaseOut(BaseModel):
    case_id: UUID
    reference: str
    status: str
    track: str
    track_clauses: list[str]
    classification: str
    consent_to_share: ConsentState
    opened_at: datetime
    reports: list[ReportOut]


@router.get("/v1/cases/{case_id}", response_model=CaseOut, summary="A case with its reports")
async def get_case(case_id: UUID, request: Request) -> CaseOut:
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as connection:
        case = await connection.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
        if case is None:
            raise HTTPException(404, "no such case")
        reports = await connection.fetch(
            "SELECT * FROM reports WHERE case_id = $1 ORDER BY received_at", case_id
        )
    return CaseOut(
        **dict(case),
        reports=[
            ReportOut(
                report_id=row["report_id"],
                received_at=row["received_at"],
                channel=row["channel"],
                reporter_role=row["reporter_role"],
                report=row["body"] if isinstance(row["body"], dict) else json.loads(row["body"]),
            )
            for row in reports
        ],
    )
