"""Referrals' HTTP API (policy 3.5.2, 3.6).

Staff read a case's referrals, confirm the ones they made by telephone, override consent
with a reason when someone is in immediate danger, and record a partner's answer; the
data protection officer lists every override; a partner's system reports back on the
referrals sent to it. Each look at a case is checked and audited.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.http import invalid
from hhc_chassis.service import runtime_of
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.v1 import ReferralConfirmationPersonalData
from hhc_contracts.vocabulary import (
    DeliveryChannel,
    Partner,
    ReferralBasis,
    ReferralStatus,
)
from hhc_referrals.catalogue import PartnerCatalogue
from hhc_referrals.lifecycle import Step
from hhc_referrals.partners_api import catalogue_of
from hhc_referrals.sharing import SharingRefused, share
from hhc_referrals.store import StepNotAllowed, load_details, mark_sent, move

router = APIRouter(tags=["referrals"])

ReferralsReader = Annotated[Caller, Depends(authorised(Permission.READ_REFERRALS))]
ReferralConfirmer = Annotated[Caller, Depends(authorised(Permission.CONFIRM_REFERRAL))]
ConsentOverrider = Annotated[Caller, Depends(authorised(Permission.OVERRIDE_CONSENT))]
OverridesReader = Annotated[Caller, Depends(authorised(Permission.READ_CONSENT_OVERRIDES))]
PartnerSystem = Annotated[Caller, Depends(authorised(Permission.REPORT_REFERRAL_OUTCOME))]
Catalogue = Annotated[PartnerCatalogue, Depends(catalogue_of)]

CLOCK_LEEWAY = timedelta(minutes=1)


class ReferralOut(BaseModel):
    referral_id: UUID
    case_id: UUID
    action_id: UUID | None
    covers_action_ids: list[UUID]
    partner: Partner
    channel: DeliveryChannel | None
    status: ReferralStatus
    basis: ReferralBasis | None
    withheld_reason: str | None
    override_proposed: bool
    seek_consent_by: datetime | None
    decided_at: datetime
    shared_fields: list[str] | None
    """Exactly what the partner was given (3.5.2)."""
    sent_at: datetime | None
    shared_by: str | None
    """The member of staff who telephoned, or 'referrals service' for a delivery."""
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    acknowledge_by: datetime | None
    acknowledged_at: datetime | None
    answered_at: datetime | None
    partner_reference: str | None
    chased_at: datetime | None
    escalated_at: datetime | None
    withdrawal_noted_at: datetime | None
    confirmed_by: str | None
    called_at: datetime | None
    spoke_to: str | None
    incident_number: str | None
    overrides: list["OverrideOut"]


class OverrideOut(BaseModel):
    override_id: UUID
    case_id: UUID
    referral_id: UUID
    partner: Partner
    overridden_by: str
    reason: str
    overridden_at: datetime


async def _referral_out(connection: asyncpg.Connection, row: asyncpg.Record) -> ReferralOut:
    covered = await connection.fetch(
        "SELECT action_id FROM referral_actions WHERE referral_id = $1 ORDER BY linked_at",
        row["referral_id"],
    )
    overrides = await connection.fetch(
        "SELECT * FROM consent_overrides WHERE referral_id = $1 ORDER BY overridden_at",
        row["referral_id"],
    )
    fields = {name: row[name] for name in ReferralOut.model_fields if name in row}
    return ReferralOut(
        **fields,
        covers_action_ids=[record["action_id"] for record in covered],
        overrides=[OverrideOut(**dict(record)) for record in overrides],
    )


@router.get("/v1/cases/{case_id}/referrals", response_model=list[ReferralOut])
async def list_referrals(
    case_id: UUID, request: Request, caller: ReferralsReader
) -> list[ReferralOut]:
    await audit.open_case_for(
        request, caller, Permission.READ_REFERRALS, case_id, fields=("referrals",)
    )
    async with runtime_of(request).pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT * FROM referrals WHERE case_id = $1 ORDER BY decided_at, partner", case_id
        )
        return [await _referral_out(connection, row) for row in rows]


async def _open_referral(
    request: Request,
    caller: Caller,
    permission: Permission,
    referral_id: UUID,
    fields: Sequence[str],
) -> UUID:
    """The case of a referral the caller may act on, or 404 (audited as a look at it)."""
    case_id: UUID | None = await runtime_of(request).pool.fetchval(
        "SELECT case_id FROM referrals WHERE referral_id = $1", referral_id
    )
    return await audit.open_case_of(
        request, caller, permission, what="referral", case_id=case_id, fields=fields
    )


@router.get("/v1/referrals/{referral_id}", response_model=ReferralOut)
async def get_referral(referral_id: UUID, request: Request, caller: ReferralsReader) -> ReferralOut:
    await _open_referral(request, caller, Permission.READ_REFERRALS, referral_id, ("referrals",))
    async with runtime_of(request).pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT * FROM referrals WHERE referral_id = $1", referral_id
        )
        return await _referral_out(connection, row)


class ConfirmationIn(StrictInput):
    """A referral made by telephone (999, 101): who was called, when, and what they said."""

    model_config = ConfigDict(extra="forbid")

    called_at: AwareDatetime | None = Field(
        default=None, description="When the call was made; now if not given. Not in the future."
    )
    spoke_to: str = Field(min_length=1, max_length=200, description="Whom they spoke to.")
    incident_number: str | None = Field(default=None, max_length=100)
    override_reason: str | None = Field(
        default=None,
        min_length=10,
        max_length=2000,
        description="For a referral awaiting consent whose survivor is in immediate danger: "
        "the caller overrides consent, for this reason (3.5.2), as they record the call.",
    )


@router.post(
    "/v1/referrals/{referral_id}/confirmation",
    response_model=ReferralOut,
    summary="Record a referral made by telephone by the signed-in member of staff",
)
async def confirm_referral(
    referral_id: UUID,
    confirmation: ConfirmationIn,
    request: Request,
    caller: ReferralConfirmer,
    catalogue: Catalogue,
) -> ReferralOut:
    await _open_referral(
        request, caller, Permission.CONFIRM_REFERRAL, referral_id, ("referrals", "confirmation")
    )
    now = datetime.now(UTC)
    called_at = confirmation.called_at or now
    if called_at > now + CLOCK_LEEWAY:
        raise invalid("called_at", "must not be in the future")
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        referral = await connection.fetchrow(
            "SELECT * FROM referrals WHERE referral_id = $1 FOR UPDATE", referral_id
        )
        if referral["channel"] != DeliveryChannel.TELEPHONE.value:
            raise HTTPException(409, "this referral is delivered by the service, not by phone")
        if called_at < referral["decided_at"] - CLOCK_LEEWAY:
            raise invalid("called_at", "must not be before the referral was asked for")
        if (
            referral["status"] == ReferralStatus.PENDING_CONSENT.value
            and confirmation.override_reason is not None
        ):
            referral = await _override(
                connection, referral, caller, confirmation.override_reason, now
            )
        entry = catalogue.get(Partner(referral["partner"]))
        details = await load_details(connection, referral["case_id"]) or {}
        if entry is None:
            raise HTTPException(409, "this partner is not in the catalogue")
        if referral["status"] != ReferralStatus.READY.value:
            raise HTTPException(
                409,
                f"a referral that is {referral['status']} cannot be confirmed"
                + (
                    " (it awaits consent: give override_reason to override it, 3.5.2)"
                    if referral["override_proposed"]
                    else ""
                ),
            )
        try:
            shared = share(
                entry, details, referral_id=referral_id, basis=ReferralBasis(referral["basis"])
            )
        except SharingRefused as refused:
            raise HTTPException(409, str(refused)) from refused
        await mark_sent(
            connection,
            referral,
            Step.CONFIRMED_BY_STAFF,
            at=called_at,
            channel=DeliveryChannel.TELEPHONE,
            shared_fields=shared.fields,
            shared_by=caller.subject,
            acknowledge_by=None,  # on the telephone, the partner answered there and then
            detail="telephoned",
            confirmation=ReferralConfirmationPersonalData(
                spoke_to=confirmation.spoke_to, incident_number=confirmation.incident_number
            ),
            confirmed_by=caller.subject,
            called_at=called_at,
        )
        row = await connection.fetchrow(
            "SELECT * FROM referrals WHERE referral_id = $1", referral_id
        )
        return await _referral_out(connection, row)


async def _override(
    connection: asyncpg.Connection,
    referral: asyncpg.Record,
    caller: Caller,
    reason: str,
    now: datetime,
) -> asyncpg.Record:
    """3.5.2: share without consent, recorded with who, when and why."""
    if not referral["override_proposed"]:
        raise HTTPException(
            409,
            f"{referral['partner']} may not be told without consent: only emergency "
            "intervention for someone in immediate danger may (3.5.2)",
        )
    await connection.execute(
        """INSERT INTO consent_overrides (override_id, case_id, referral_id, partner,
                                          overridden_by, reason, overridden_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        uuid.uuid4(),
        referral["case_id"],
        referral["referral_id"],
        referral["partner"],
        caller.subject,
        reason,
        now,
    )
    await move(
        connection,
        referral,
        Step.CONSENT_OVERRIDDEN,
        at=now,
        cause=None,
        note="consent-overridden",
        columns={
            "basis": ReferralBasis.IMMEDIATE_HARM_OVERRIDE.value,
            "overridden_at": now,
            "withheld_reason": None,
            "next_attempt_at": now,
        },
    )
    updated: asyncpg.Record = await connection.fetchrow(
        "SELECT * FROM referrals WHERE referral_id = $1", referral["referral_id"]
    )
    return updated


class OverrideIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    partners: list[Partner] = Field(min_length=1, description="Whom to tell without consent.")
    reason: str = Field(
        min_length=10,
        max_length=2000,
        description="Why the survivor is believed to be in danger of immediate harm and "
        "emergency intervention is required (3.5.2).",
    )


@router.post(
    "/v1/cases/{case_id}/consent-overrides",
    response_model=list[ReferralOut],
    status_code=201,
    summary="Override consent for emergency intervention, by name and with a reason (3.5.2)",
)
async def override_consent(
    case_id: UUID, override: OverrideIn, request: Request, caller: ConsentOverrider
) -> list[ReferralOut]:
    await audit.open_case_for(
        request, caller, Permission.OVERRIDE_CONSENT, case_id, fields=("referrals", "consent")
    )
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            """SELECT * FROM referrals WHERE case_id = $1 AND partner = ANY($2::text[])
                 AND status = 'pending_consent' FOR UPDATE""",
            case_id,
            [partner.value for partner in override.partners],
        )
        waiting = {row["partner"]: row for row in rows}
        missing = [partner.value for partner in override.partners if partner not in waiting]
        if missing:
            raise HTTPException(
                409, f"no referral awaits consent for: {', '.join(sorted(missing))}"
            )
        overridden = [
            await _override(connection, row, caller, override.reason, now)
            for row in waiting.values()
        ]
        return [await _referral_out(connection, row) for row in overridden]


@router.get(
    "/v1/consent-overrides",
    response_model=list[OverrideOut],
    summary="Every override of consent, newest first, for the data protection officer",
)
async def list_overrides(
    request: Request, caller: OverridesReader, since: AwareDatetime | None = None
) -> list[OverrideOut]:
    await audit.record(
        request, caller, case_id=None, fields=("consent_overrides",), outcome=audit.GRANTED
    )
    rows = await runtime_of(request).pool.fetch(
        """SELECT * FROM consent_overrides WHERE $1::timestamptz IS NULL OR overridden_at >= $1
           ORDER BY overridden_at DESC LIMIT 1000""",
        since,
    )
    return [OverrideOut(**dict(row)) for row in rows]


_ANSWERS: dict[str, Step] = {
    "acknowledged": Step.ACKNOWLEDGED,
    "accepted": Step.ACCEPTED,
    "declined": Step.DECLINED,
    "closed": Step.CLOSED,
}


class PartnerAnswerIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    status: Literal["acknowledged", "accepted", "declined"]
    partner_reference: str | None = Field(
        default=None, max_length=100, description="The partner's own reference for it."
    )


class StaffAnswerIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    status: Literal["acknowledged", "accepted", "declined", "closed"]
    partner_reference: str | None = Field(default=None, max_length=100)


async def _answer(
    request: Request, referral_id: UUID, status: str, partner_reference: str | None
) -> None:
    now = datetime.now(UTC)
    step = _ANSWERS[status]
    columns: dict[str, object] = {}
    if step is Step.ACKNOWLEDGED:
        columns["acknowledged_at"] = now
    elif step in (Step.ACCEPTED, Step.DECLINED):
        columns["answered_at"] = now
    if partner_reference is not None:
        columns["partner_reference"] = partner_reference
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        referral = await connection.fetchrow(
            "SELECT * FROM referrals WHERE referral_id = $1 FOR UPDATE", referral_id
        )
        if referral["status"] == status:
            return  # said again (a partner's retry): already so
        try:
            await move(connection, referral, step, at=now, cause=None, columns=columns)
        except StepNotAllowed as refused:
            raise HTTPException(409, str(refused)) from refused


@router.post(
    "/v1/partner-callbacks/referrals/{referral_id}",
    status_code=204,
    summary="A partner acknowledges, accepts or declines a referral sent to it",
)
async def partner_callback(
    referral_id: UUID, answer: PartnerAnswerIn, request: Request, caller: PartnerSystem
) -> None:
    # A partner reaches the referrals sent to it and no others; any other is 404, as
    # one that does not exist.
    row = await runtime_of(request).pool.fetchrow(
        "SELECT case_id, partner FROM referrals WHERE referral_id = $1", referral_id
    )
    reached = row is not None and row["partner"] == caller.subject
    await audit.record(
        request,
        caller,
        case_id=row["case_id"] if reached and row else None,
        fields=("referral_status",),
        outcome=audit.GRANTED if reached else audit.NOT_FOUND,
    )
    if not reached:
        raise HTTPException(404, "no such referral")
    await _answer(request, referral_id, answer.status, answer.partner_reference)


@router.post(
    "/v1/referrals/{referral_id}/status",
    response_model=ReferralOut,
    summary="Record a partner's answer given to staff, or close a referral",
)
async def record_answer(
    referral_id: UUID, answer: StaffAnswerIn, request: Request, caller: ReferralConfirmer
) -> ReferralOut:
    await _open_referral(
        request, caller, Permission.CONFIRM_REFERRAL, referral_id, ("referral_status",)
    )
    await _answer(request, referral_id, answer.status, answer.partner_reference)
    async with runtime_of(request).pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT * FROM referrals WHERE referral_id = $1", referral_id
        )
        return await _referral_out(connection, row)
