"""Referrals' HTTP API."""

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from hhc_chassis.service import runtime_of
from hhc_contracts.vocabulary import Partner, ReferralBasis

router = APIRouter(tags=["referrals"])


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
async def list_referrals(case_id: UUID, request: Request) -> list[ReferralOut]:
    rows = await runtime_of(request).pool.fetch(
        "SELECT * FROM referrals WHERE case_id = $1 ORDER BY decided_at, partner", case_id
    )
    return [ReferralOut(**dict(row)) for row in rows]
