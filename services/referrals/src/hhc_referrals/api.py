"""Referrals' HTTP API: staff only (policy 3.5.1), each look at a case checked and audited."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.service import runtime_of
from hhc_contracts.vocabulary import Partner, ReferralBasis

router = APIRouter(tags=["referrals"])

ReferralsReader = Annotated[Caller, Depends(authorised(Permission.READ_REFERRALS))]


class ReferralOut(BaseModel):
    referral_id: UUID
    case_id: UUID
    action_id: UUID | None
    partner: Partner
    status: str
    basis: ReferralBasis | None
    withheld_reason: str | None
    override_by: str | None
    override_reason: str | None
    decided_at: datetime


@router.get("/v1/cases/{case_id}/referrals", response_model=list[ReferralOut])
async def list_referrals(
    case_id: UUID, request: Request, caller: ReferralsReader
) -> list[ReferralOut]:
    await audit.open_case_for(
        request, caller, Permission.READ_REFERRALS, case_id, fields=("referrals",)
    )
    rows = await runtime_of(request).pool.fetch(
        "SELECT * FROM referrals WHERE case_id = $1 ORDER BY decided_at, partner", case_id
    )
    return [ReferralOut(**dict(row)) for row in rows]
