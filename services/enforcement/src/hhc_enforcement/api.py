"""Enforcement's HTTP API: a case's enforcement, its alleged perpetrators, the validity of
an anonymous report (3.2.5), and the evidence log (2.5). Staff only (policy 3.5.1); each
look at a case is checked and audited; who recorded anything is who is signed in, never
what a body says. The ladder's proposals, decisions and steps are in
``hhc_enforcement.decisions``."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.events import new_envelope
from hhc_chassis.http import invalid
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.v1 import (
    EnforcementEvidenceRecorded,
    EnforcementValidityRecorded,
    EvidencePersonalData,
    ValidityPersonalData,
)
from hhc_contracts.vocabulary import (
    EvidenceKind,
    EvidenceStrength,
    PerpetratorKind,
)
from hhc_enforcement import casework, store
from hhc_enforcement.evidence import STORED_ELSEWHERE, EvidenceItem, rate
from hhc_enforcement.ladder import Perpetrator, reference_key
from hhc_enforcement.lookup import open_case_of, open_perpetrator
from hhc_enforcement.rules import Admission, awaits_validity
from hhc_enforcement.views import (
    CaseEnforcementOut,
    EvidenceLogOut,
    PerpetratorOut,
    ValidityOut,
    case_enforcement,
    evidence_out,
    perpetrator_out,
    perpetrators_out,
    validity_out,
)

router = APIRouter(tags=["enforcement"])

EnforcementReader = Annotated[Caller, Depends(authorised(Permission.READ_ENFORCEMENT))]
PerpetratorManager = Annotated[Caller, Depends(authorised(Permission.MANAGE_PERPETRATORS))]
ValidityRecorder = Annotated[Caller, Depends(authorised(Permission.RECORD_VALIDITY))]
EvidenceRecorder = Annotated[Caller, Depends(authorised(Permission.RECORD_EVIDENCE))]

CLOCK_LEEWAY = timedelta(minutes=1)
NOT_REACHED: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such case, or one you may not reach (the same answer)"}
}

# What each route shows or writes of a case, as the audit names it.
ENFORCEMENT_FIELDS = ("enforcement", "perpetrators", "evidence", "decisions")
PERPETRATOR_FIELDS = ("perpetrators",)
VALIDITY_FIELDS = ("validity",)
EVIDENCE_FIELDS = ("evidence",)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


@router.get(
    "/v1/cases/{case_id}/enforcement",
    response_model=CaseEnforcementOut,
    summary="A case's enforcement: perpetrators, enforcement cases, evidence level, "
    "decisions, steps taken, the steps allowed next, risk's requests",
)
async def get_enforcement(
    case_id: UUID, request: Request, caller: EnforcementReader
) -> CaseEnforcementOut:
    await audit.open_case_for(
        request, caller, Permission.READ_ENFORCEMENT, case_id, fields=ENFORCEMENT_FIELDS
    )
    async with runtime_of(request).pool.acquire() as connection:
        return await case_enforcement(connection, case_id)


# --------------------------------------------------------------------------- perpetrators


class PerpetratorIn(StrictInput):
    """An alleged perpetrator staff know of (issue 11, item 1)."""

    model_config = ConfigDict(extra="forbid")

    kind: PerpetratorKind
    reference: Reference | None = Field(
        default=None,
        description="Who they are to the landlord: a customer's tenancy reference, an "
        "employee number, a contract reference. Someone already recorded by it is linked "
        "to the case instead of recorded again.",
    )
    description: Text | None = Field(default=None, description="What is known (personal data)")


class PerpetratorChange(StrictInput):
    """What became known of them: any of kind, reference, description."""

    model_config = ConfigDict(extra="forbid")

    kind: PerpetratorKind | None = None
    reference: Reference | None = None
    description: Text | None = None


def _check_reference(kind: PerpetratorKind, reference: str | None) -> None:
    if reference is not None and kind is PerpetratorKind.UNKNOWN:
        raise invalid("kind", "someone identified by a reference is of a known kind")


@router.get(
    "/v1/cases/{case_id}/perpetrators",
    response_model=list[PerpetratorOut],
    summary="The case's alleged perpetrators",
)
async def list_perpetrators(
    case_id: UUID, request: Request, caller: EnforcementReader
) -> list[PerpetratorOut]:
    await audit.open_case_for(
        request, caller, Permission.READ_ENFORCEMENT, case_id, fields=PERPETRATOR_FIELDS
    )
    async with runtime_of(request).pool.acquire() as connection:
        return await perpetrators_out(connection, case_id)


@router.post(
    "/v1/cases/{case_id}/perpetrators",
    response_model=PerpetratorOut,
    status_code=201,
    summary="Record an alleged perpetrator of the case (201), or link someone already "
    "recorded by the same reference (200)",
    responses={
        200: {"description": "Someone already recorded by that reference, now on the case"},
        409: {"description": "The case's reports call for no enforcement (3.1, 1.2, 3.2.6)"},
        **NOT_REACHED,
    },
)
async def add_perpetrator(
    case_id: UUID,
    given: PerpetratorIn,
    request: Request,
    response: Response,
    caller: PerpetratorManager,
) -> PerpetratorOut:
    await audit.open_case_for(
        request, caller, Permission.MANAGE_PERPETRATORS, case_id, fields=PERPETRATOR_FIELDS
    )
    _check_reference(given.kind, given.reference)
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        await store.lock_case(connection, case_id)
        candidate = Perpetrator(given.kind, given.reference)
        key = reference_key(candidate)
        if key is not None:
            await store.lock_reference(connection, key)
        allowed = await casework.case_allows(connection, case_id, given.kind)
        if allowed is Admission.NONE:
            raise HTTPException(
                409,
                "the case's reports call for no enforcement: advice only (3.1), another "
                "policy (1.2) or the Hate Crime Reporting Centre (3.2.6)",
            )
        existing = await store.same_person(connection, candidate, other_than=None)
        if existing is not None:
            perpetrator = existing
            if existing.description is None and given.description is not None:
                perpetrator = await store.update_perpetrator(
                    connection,
                    existing,
                    kind=existing.kind,
                    reference=existing.reference,
                    description=given.description,
                    identified_by=existing.identified_by,
                    identified_at=existing.identified_at,
                )
            response.status_code = 200
        else:
            perpetrator = await store.new_perpetrator(
                connection,
                kind=given.kind,
                known_since=now,
                recorded_by=caller.subject,
                reference=given.reference,
                description=given.description,
            )
        placed = await casework.place(
            connection,
            None,
            perpetrator=perpetrator,
            case_id=case_id,
            allowed=allowed,
            linked_by=caller.subject,
            now=now,
        )
        await enqueue(connection, placed.events)
        return await perpetrator_out(connection, perpetrator, case_id)


@router.patch(
    "/v1/perpetrators/{perpetrator_id}",
    response_model=PerpetratorOut,
    summary="Identify an alleged perpetrator: their kind, reference, what is known. Someone "
    "found to be a person already recorded (the same reference) becomes that person",
    responses=NOT_REACHED,
)
async def change_perpetrator(
    perpetrator_id: UUID, change: PerpetratorChange, request: Request, caller: PerpetratorManager
) -> PerpetratorOut:
    given = change.model_fields_set
    for field in ("kind", "reference", "description"):
        if field in given and getattr(change, field) is None:
            raise invalid(field, "is not cleared once known; give what is known now")
    if not given:
        raise invalid("kind", "give the kind, the reference or what is known")
    case_id = await open_perpetrator(
        request, caller, Permission.MANAGE_PERPETRATORS, perpetrator_id, PERPETRATOR_FIELDS
    )
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        for linked in sorted(await store.cases_of_perpetrator(connection, perpetrator_id)):
            await store.lock_case(connection, linked)
        found = await store.perpetrator(connection, perpetrator_id, for_update=True)
        assert found is not None  # open_perpetrator found its cases
        if found.merged_into is not None:
            raise HTTPException(409, f"recorded since as perpetrator {found.merged_into}")
        kind = change.kind or found.kind
        reference = change.reference or found.reference
        _check_reference(kind, reference)
        key = reference_key(Perpetrator(kind, reference))
        if key is not None:
            await store.lock_reference(connection, key)
        identified = change.reference is not None and change.reference != found.reference
        changed = await store.update_perpetrator(
            connection,
            found,
            kind=kind,
            reference=reference,
            description=change.description or found.description,
            identified_by=caller.subject if identified else found.identified_by,
            identified_at=now if identified else found.identified_at,
        )
        same = await store.same_person(
            connection, changed.as_ladder, other_than=changed.perpetrator_id
        )
        if same is not None:
            events = await casework.merge(
                connection, duplicate=changed, into=same, linked_by=caller.subject, now=now
            )
            shown = same
        else:
            events = await casework.place_everywhere(
                connection, None, perpetrator=changed, linked_by=caller.subject, now=now
            )
            shown = changed
        await enqueue(connection, events)
        return await perpetrator_out(connection, shown, case_id)


# --------------------------------------------------------------------------- validity


class ValidityIn(StrictInput):
    """What the validity investigation of an anonymous report found (3.2.5)."""

    model_config = ConfigDict(extra="forbid")

    valid: bool
    reason: Text = Field(description="What the investigation found (personal data)")


@router.post(
    "/v1/cases/{case_id}/validity",
    response_model=ValidityOut,
    status_code=201,
    summary="Record whether an anonymous report was found valid (3.2.5); found valid, "
    "enforcement opens for the case's alleged perpetrators",
    responses={
        409: {"description": "No anonymous report, or found valid already"},
        **NOT_REACHED,
    },
)
async def record_validity(
    case_id: UUID, finding: ValidityIn, request: Request, caller: ValidityRecorder
) -> ValidityOut:
    await audit.open_case_for(
        request, caller, Permission.RECORD_VALIDITY, case_id, fields=VALIDITY_FIELDS
    )
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        await store.lock_case(connection, case_id)
        if not awaits_validity(await store.report_facts(connection, [case_id])):
            raise HTTPException(409, "the case has no anonymous report to find valid (3.2.5)")
        if await store.validity_confirmed(connection, case_id):
            raise HTTPException(409, "the case was found valid already; enforcement acts on it")
        row = await store.record_finding(
            connection,
            case_id=case_id,
            valid=finding.valid,
            reason=finding.reason,
            recorded_by=caller.subject,
            recorded_at=now,
        )
        recorded = EnforcementValidityRecorded(
            finding_id=row["finding_id"],
            case_id=case_id,
            valid=finding.valid,
            recorded_by=caller.subject,
            recorded_at=now,
            personal=ValidityPersonalData(reason=finding.reason),
        )
        events = [new_envelope(recorded, case_id=case_id, occurred_at=now)]
        if finding.valid:
            for perpetrator in await store.perpetrators_on_case(connection, case_id):
                placed = await casework.place(
                    connection,
                    None,
                    perpetrator=perpetrator,
                    case_id=case_id,
                    allowed=await casework.case_allows(connection, case_id, perpetrator.kind),
                    linked_by=caller.subject,
                    now=now,
                )
                events += placed.events
        await enqueue(connection, events)
        return validity_out(row)


# --------------------------------------------------------------------------- evidence


class EvidenceIn(StrictInput):
    """An entry of the evidence log: never the file of a photograph or recording, only
    where it is kept."""

    model_config = ConfigDict(extra="forbid")

    kind: EvidenceKind
    strength: EvidenceStrength = Field(description="As the officer assesses it")
    source: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ] = Field(description="Who it comes from: the survivor, a named witness, a police force")
    occurred_at: AwareDatetime | None = Field(
        default=None, description="When what it shows happened; not in the future"
    )
    reference: Reference | None = Field(
        default=None, description="The crime number, police incident number, document reference"
    )
    storage_reference: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = Field(default=None, description="Where a photograph or recording is kept")
    media_type: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, max_length=100, pattern=r"^[a-z0-9.+-]+/[a-z0-9.+-]+$"
            ),
        ]
        | None
    ) = Field(default=None, examples=["image/jpeg"])
    summary: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
        | None
    ) = None


def _evidence_item(given: EvidenceIn, *, recorded_by: str, now: datetime) -> EvidenceItem:
    if given.occurred_at is not None and given.occurred_at > now + CLOCK_LEEWAY:
        raise invalid("occurred_at", "must not be in the future")
    if given.kind in STORED_ELSEWHERE and given.storage_reference is None:
        raise invalid(
            "storage_reference",
            f"a {given.kind.value.replace('_', ' ')} needs where it is stored (not the file)",
        )
    if given.kind is EvidenceKind.CRIME_NUMBER and given.reference is None:
        raise invalid("reference", "a crime number needs the number")
    return EvidenceItem(
        kind=given.kind,
        strength=given.strength,
        recorded_by=recorded_by,
        recorded_at=now,
        source=given.source,
        storage_reference=given.storage_reference,
        reference=given.reference,
        occurred_at=given.occurred_at,
        media_type=given.media_type,
        summary=given.summary,
    )


@router.post(
    "/v1/enforcement-cases/{enforcement_case_id}/evidence",
    response_model=EvidenceLogOut,
    status_code=201,
    summary="Add to an enforcement case's evidence log (2.5); answers the log as rated now",
    responses={409: {"description": "The enforcement case is closed"}, **NOT_REACHED},
)
async def add_evidence(
    enforcement_case_id: UUID, given: EvidenceIn, request: Request, caller: EvidenceRecorder
) -> EvidenceLogOut:
    case_id = await open_case_of(
        request,
        caller,
        Permission.RECORD_EVIDENCE,
        "enforcement case",
        enforcement_case_id,
        EVIDENCE_FIELDS,
    )
    now = datetime.now(UTC)
    item = _evidence_item(given, recorded_by=caller.subject, now=now)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        enforcement_case = await store.enforcement_case(
            connection, enforcement_case_id, for_update=True
        )
        assert enforcement_case is not None  # open_case_of found it
        if enforcement_case.closed_at is not None:
            raise HTTPException(
                409, f"the enforcement case is closed: {enforcement_case.closed_reason}"
            )
        row = await store.add_evidence(
            connection,
            evidence_id=uuid4(),
            enforcement_case_id=enforcement_case_id,
            case_id=case_id,
            item=item,
        )
        rows = await store.evidence_rows(connection, enforcement_case_id)
        level = rate(store.evidence_item(r) for r in rows)
        event = EnforcementEvidenceRecorded(
            evidence_id=row["evidence_id"],
            enforcement_case_id=enforcement_case_id,
            case_id=case_id,
            kind=item.kind,
            strength=item.strength,
            recorded_by=item.recorded_by,
            recorded_at=now,
            evidence_level=level,
            personal=EvidencePersonalData(
                source=item.source,
                reference=item.reference,
                storage_reference=item.storage_reference,
                summary=item.summary,
            ),
        )
        await enqueue(connection, [new_envelope(event, case_id=case_id, occurred_at=now)])
    return EvidenceLogOut(
        enforcement_case_id=enforcement_case_id,
        evidence_level=level,
        items=[evidence_out(r) for r in rows],
    )


@router.get(
    "/v1/enforcement-cases/{enforcement_case_id}/evidence",
    response_model=EvidenceLogOut,
    summary="An enforcement case's evidence log, oldest first, and its level",
    responses=NOT_REACHED,
)
async def list_evidence(
    enforcement_case_id: UUID, request: Request, caller: EnforcementReader
) -> EvidenceLogOut:
    await open_case_of(
        request,
        caller,
        Permission.READ_ENFORCEMENT,
        "enforcement case",
        enforcement_case_id,
        EVIDENCE_FIELDS,
    )
    async with runtime_of(request).pool.acquire() as connection:
        rows = await store.evidence_rows(connection, enforcement_case_id)
    return EvidenceLogOut(
        enforcement_case_id=enforcement_case_id,
        evidence_level=rate(store.evidence_item(r) for r in rows),
        items=[evidence_out(r) for r in rows],
    )
