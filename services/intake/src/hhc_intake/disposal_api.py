"""Staff and service routes of disposal (policy 3.5.2): case keys for the services that
seal and open personal data, the data protection officer's erasure, and legal holds.

Every answer about a case is audited, a refusal too, as any look at personal data is.
"""

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.sealing import CASE_KEY_LOOKUP_MAX
from hhc_chassis.service import runtime_of
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.vocabulary import DisposalBasis
from hhc_intake.case_keys import DatabaseCaseKeys
from hhc_intake.erasure import (
    CaseErasedAlready,
    ErasureRecord,
    LegalHold,
    UnderLegalHold,
    erase_case,
    erasure_of,
    holds_of,
    lift_hold,
    place_hold,
)
from hhc_intake.lifecycle_store import NoSuchCase
from hhc_intake.settings import intake_settings

router = APIRouter(tags=["disposal"])

KeyUser = Annotated[Caller, Depends(authorised(Permission.USE_CASE_KEYS))]
Eraser = Annotated[Caller, Depends(authorised(Permission.ERASE_CASE))]
HoldKeeper = Annotated[Caller, Depends(authorised(Permission.MANAGE_LEGAL_HOLD))]

KEY_FIELDS = ("case_key",)
ERASURE_FIELDS = ("erasure",)
HOLD_FIELDS = ("legal_holds",)


class Body(StrictInput):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Reason(Body):
    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="Why, in the data protection officer's words; kept by intake only, "
        "never published",
    )


class CaseKeyOut(BaseModel):
    case_id: UUID
    key: str = Field(description="The case's AES-256 key, base64")


class CaseKeyLookup(Body):
    case_ids: list[UUID] = Field(
        min_length=1,
        max_length=CASE_KEY_LOOKUP_MAX,
        description="The cases whose keys are wanted (a case asked twice is answered once)",
    )


class CaseKeysOut(BaseModel):
    keys: list[CaseKeyOut] = Field(description="The key of each case that has one")
    erased: list[UUID] = Field(
        description="Cases whose key was destroyed: their personal data is erased"
    )
    unknown: list[UUID] = Field(description="Cases intake does not have")


class ErasureOut(BaseModel):
    case_id: UUID
    basis: DisposalBasis
    reason: str
    requested_by: str
    erased_at: datetime


class LegalHoldOut(BaseModel):
    hold_id: UUID
    case_id: UUID
    reason: str
    placed_by: str
    placed_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None
    active: bool


def erasure_out(record: ErasureRecord) -> ErasureOut:
    return ErasureOut(
        case_id=record.case_id,
        basis=record.basis,
        reason=record.reason,
        requested_by=record.requested_by,
        erased_at=record.erased_at,
    )


def hold_out(hold: LegalHold) -> LegalHoldOut:
    return LegalHoldOut(
        hold_id=hold.id,
        case_id=hold.case_id,
        reason=hold.reason,
        placed_by=hold.placed_by,
        placed_at=hold.placed_at,
        lifted_by=hold.lifted_by,
        lifted_at=hold.lifted_at,
        active=hold.active,
    )


# ------------------------------------------------------------------------ case keys


@router.get(
    "/v1/case-keys/{case_id}",
    response_model=CaseKeyOut,
    summary="A case's key, for a service that seals or opens its personal data "
    "(services of CASE_KEY_CLIENTS only; every hand-out audited)",
    responses={
        404: {"description": "No such case"},
        410: {"description": "The case's key was destroyed: its personal data is erased"},
    },
)
async def get_case_key(case_id: UUID, request: Request, caller: KeyUser) -> CaseKeyOut:
    await _refused_unless_key_client(request, caller, [case_id])
    known = await _case_keys(request).known_keys([case_id])
    if case_id not in known:
        await audit.not_found(request, caller, what="case", fields=KEY_FIELDS)
    key = known[case_id]
    if key is None:
        await audit.record(
            request, caller, case_id=case_id, fields=KEY_FIELDS, outcome=audit.NOT_FOUND
        )
        raise HTTPException(410, "the case's key was destroyed: its personal data is erased")
    await audit.record(request, caller, case_id=case_id, fields=KEY_FIELDS, outcome=audit.GRANTED)
    return CaseKeyOut(case_id=case_id, key=base64.b64encode(key).decode())


async def _refused_unless_key_client(
    request: Request, caller: Caller, case_ids: Sequence[UUID]
) -> None:
    """403, each case's refusal audited, unless the caller is one of CASE_KEY_CLIENTS:
    reporting keeps aggregates only (3.5); no other service is to read case files."""
    if caller.subject not in intake_settings(request).case_key_clients:
        await audit.record_all(
            request, caller, [(case_id, audit.REFUSED) for case_id in case_ids], fields=KEY_FIELDS
        )
        raise HTTPException(403, "this service may not hold case keys")


def _case_keys(request: Request) -> DatabaseCaseKeys:
    keys = runtime_of(request).case_keys
    assert isinstance(keys, DatabaseCaseKeys)  # intake's definition always has its key store
    return keys


@router.post(
    "/v1/case-key-lookups",
    response_model=CaseKeysOut,
    summary="Many cases' keys at once, for a service opening a batch of events "
    "(services of CASE_KEY_CLIENTS only; every hand-out audited, one record per case)",
)
async def look_up_case_keys(
    lookup: CaseKeyLookup, request: Request, caller: KeyUser
) -> CaseKeysOut:
    """As ``GET /v1/case-keys/{case_id}`` for each case, in one request: an unknown or
    erased case is named in the answer instead of failing the others."""
    case_ids = list(dict.fromkeys(lookup.case_ids))
    await _refused_unless_key_client(request, caller, case_ids)
    known = await _case_keys(request).known_keys(case_ids)
    answer = CaseKeysOut(keys=[], erased=[], unknown=[])
    looks: list[tuple[UUID | None, str]] = []
    for case_id in case_ids:
        if case_id not in known:
            answer.unknown.append(case_id)
            looks.append((None, audit.NOT_FOUND))
        elif (key := known[case_id]) is None:
            answer.erased.append(case_id)
            looks.append((case_id, audit.NOT_FOUND))
        else:
            answer.keys.append(CaseKeyOut(case_id=case_id, key=base64.b64encode(key).decode()))
            looks.append((case_id, audit.GRANTED))
    await audit.record_all(request, caller, looks, fields=KEY_FIELDS)
    return answer


# -------------------------------------------------------------------------- erasure


def _under_hold(refused: UnderLegalHold) -> JSONResponse:
    return JSONResponse(
        status_code=409,
        content={
            "detail": "the case is under a legal hold: its personal data may not be erased "
            "until every hold is lifted",
            "legal_holds": [
                hold_out(hold).model_dump(mode="json", include={"hold_id", "reason", "placed_at"})
                for hold in refused.holds
            ],
        },
    )


@router.post(
    "/v1/cases/{case_id}/erasure",
    response_model=ErasureOut,
    status_code=201,
    summary="Erase the case's personal data on the survivor's request (3.5.2): its key is "
    "destroyed and every service erases what it keeps. Once only: asked again, the first "
    "erasure's record (200)",
    responses={
        200: {"description": "Erased before: the first erasure's record", "model": ErasureOut},
        409: {"description": "The case is under a legal hold; the holds are named"},
    },
)
async def post_erasure(case_id: UUID, body: Reason, request: Request, caller: Eraser) -> Any:
    await audit.open_case_for(
        request, caller, Permission.ERASE_CASE, case_id, fields=ERASURE_FIELDS
    )
    try:
        async with runtime_of(request).pool.acquire() as connection, connection.transaction():
            erased = await erase_case(
                connection,
                case_id,
                basis=DisposalBasis.SUBJECT_REQUEST,
                reason=body.reason,
                requested_by=caller.subject,
                at=datetime.now(UTC),
            )
    except UnderLegalHold as refused:
        return _under_hold(refused)
    except NoSuchCase:
        raise HTTPException(404, "no such case") from None
    answer = erasure_out(erased.record)
    if erased.new:
        return answer
    return JSONResponse(status_code=200, content=answer.model_dump(mode="json"))


@router.get(
    "/v1/cases/{case_id}/erasure",
    response_model=ErasureOut,
    summary="The case's erasure, if it was erased",
    responses={404: {"description": "No such case, or it was not erased"}},
)
async def get_erasure(case_id: UUID, request: Request, caller: Eraser) -> ErasureOut:
    await audit.open_case_for(
        request, caller, Permission.ERASE_CASE, case_id, fields=ERASURE_FIELDS
    )
    async with runtime_of(request).pool.acquire() as connection:
        record = await erasure_of(connection, case_id)
    if record is None:
        raise HTTPException(404, "the case was not erased")
    return erasure_out(record)


# ----------------------------------------------------------------------- legal holds


@router.post(
    "/v1/cases/{case_id}/legal-holds",
    response_model=LegalHoldOut,
    status_code=201,
    summary="Place a legal hold: the case's personal data is not disposed of, on request "
    "or by the retention schedule, until it is lifted",
    responses={409: {"description": "The case's personal data was erased already"}},
)
async def post_legal_hold(
    case_id: UUID, body: Reason, request: Request, caller: HoldKeeper
) -> LegalHoldOut:
    await audit.open_case_for(
        request, caller, Permission.MANAGE_LEGAL_HOLD, case_id, fields=HOLD_FIELDS
    )
    try:
        async with runtime_of(request).pool.acquire() as connection, connection.transaction():
            hold = await place_hold(
                connection, case_id, reason=body.reason, placed_by=caller.subject, at=_now()
            )
    except CaseErasedAlready:
        raise HTTPException(409, "the case's personal data was erased already") from None
    except NoSuchCase:
        raise HTTPException(404, "no such case") from None
    return hold_out(hold)


@router.get(
    "/v1/cases/{case_id}/legal-holds",
    response_model=list[LegalHoldOut],
    summary="The case's legal holds, active and lifted",
)
async def get_legal_holds(
    case_id: UUID, request: Request, caller: HoldKeeper
) -> list[LegalHoldOut]:
    await audit.open_case_for(
        request, caller, Permission.MANAGE_LEGAL_HOLD, case_id, fields=HOLD_FIELDS
    )
    async with runtime_of(request).pool.acquire() as connection:
        holds = await holds_of(connection, case_id)
    return [hold_out(hold) for hold in holds]


@router.post(
    "/v1/cases/{case_id}/legal-holds/{hold_id}/lift",
    response_model=LegalHoldOut,
    summary="Lift a legal hold (one lifted already stays as it was)",
    responses={404: {"description": "No such case, or no such hold of it"}},
)
async def post_lift_legal_hold(
    case_id: UUID, hold_id: UUID, request: Request, caller: HoldKeeper
) -> LegalHoldOut:
    await audit.open_case_for(
        request, caller, Permission.MANAGE_LEGAL_HOLD, case_id, fields=HOLD_FIELDS
    )
    try:
        async with runtime_of(request).pool.acquire() as connection, connection.transaction():
            hold = await lift_hold(
                connection, case_id, hold_id, lifted_by=caller.subject, at=_now()
            )
    except NoSuchCase:
        raise HTTPException(404, "no such case") from None
    if hold is None:
        raise HTTPException(404, "no such legal hold of this case")
    return hold_out(hold)


def _now() -> datetime:
    return datetime.now(UTC)
