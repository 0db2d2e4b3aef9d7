"""Staff endpoints of the satisfaction survey (policy 5.1): where a case's offer stands,
a link for staff to pass on by the survivor's safe method when it was not mailed, and the
answers with the survivor's own words, for managers."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.service import runtime_of
from hhc_contracts.vocabulary import ContactMethod, SaferFeeling
from hhc_intake.settings import intake_settings
from hhc_intake.survey import Delivery, fresh_link_refusal, link_state, new_token, survey_link
from hhc_intake.survey_store import answers_of_case, offers_of_case, set_link

router = APIRouter(tags=["satisfaction"])

CaseReader = Annotated[Caller, Depends(authorised(Permission.READ_CASE))]
LinkIssuer = Annotated[Caller, Depends(authorised(Permission.ISSUE_STATUS_CODE))]
CommentReader = Annotated[Caller, Depends(authorised(Permission.READ_SATISFACTION_COMMENTS))]


class SurveyOfferOut(BaseModel):
    survey_id: UUID
    contact_method: ContactMethod
    delivery: Delivery = Field(
        description="pending: being mailed; delivered: the survivor's mail server took it; "
        "by_staff: a member of staff passes the link on by the survivor's safe method"
    )
    state: str = Field(description="pending, open, answered or expired")
    offered_at: datetime | None
    expires_at: datetime | None
    link_issued_at: datetime | None
    mail_attempts: int
    last_error: str | None = Field(description="Why the last mail did not go: a short code")


class SurveyOffersOut(BaseModel):
    case_id: UUID
    offers: list[SurveyOfferOut] = Field(
        description="Empty when none was made: the case is not closed, or only a third-party "
        "or anonymous reporter, or no safe contact, is known (3.2.3-3.2.5)"
    )


@router.get(
    "/v1/cases/{case_id}/satisfaction-survey",
    response_model=SurveyOffersOut,
    summary="The satisfaction survey offered at closure, and whether it reached the survivor",
)
async def get_survey_offers(case_id: UUID, request: Request, caller: CaseReader) -> SurveyOffersOut:
    await audit.open_case_for(
        request, caller, Permission.READ_CASE, case_id, fields=("satisfaction_survey",)
    )
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection:
        rows = await offers_of_case(connection, case_id)
    offers = []
    for row in rows:
        delivery = Delivery(row["delivery"])
        state = (
            "pending"
            if delivery is Delivery.PENDING or row["expires_at"] is None
            else link_state(answered_at=row["answered_at"], expires_at=row["expires_at"], now=now)
        )
        offers.append(
            SurveyOfferOut(
                survey_id=row["survey_id"],
                contact_method=ContactMethod(row["contact_method"]),
                delivery=delivery,
                state=state,
                offered_at=row["offered_at"],
                expires_at=row["expires_at"],
                link_issued_at=row["link_issued_at"],
                mail_attempts=row["attempts"],
                last_error=row["last_error"],
            )
        )
    return SurveyOffersOut(case_id=case_id, offers=offers)


class SurveyLinkOut(BaseModel):
    survey_id: UUID
    link: str = Field(description="To read out or send by the survivor's safe method; works once")
    contact_method: ContactMethod
    expires_at: datetime


@router.post(
    "/v1/cases/{case_id}/satisfaction-survey/link",
    response_model=SurveyLinkOut,
    summary="A fresh survey link to pass on to the survivor (an earlier one stops working)",
    responses={
        404: {"description": "No such case, or no survey was offered for it"},
        409: {"description": "The survey was mailed, is answered, or has expired"},
    },
)
async def issue_survey_link(case_id: UUID, request: Request, caller: LinkIssuer) -> SurveyLinkOut:
    """Like a new status code, given by phone: for an offer that was not mailed, staff pass
    the link on by the survivor's safe method. Only the newest offer of the case."""
    await audit.open_case_for(
        request, caller, Permission.ISSUE_STATUS_CODE, case_id, fields=("satisfaction_survey_link",)
    )
    settings = intake_settings(request)
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        offer = await connection.fetchrow(
            """SELECT survey_id, contact_method, delivery, expires_at, answered_at
               FROM satisfaction_surveys WHERE case_id = $1
               ORDER BY created_at DESC LIMIT 1 FOR UPDATE""",
            case_id,
        )
        if offer is None:
            raise HTTPException(404, "no satisfaction survey was offered for this case")
        refusal = fresh_link_refusal(
            delivery=Delivery(offer["delivery"]),
            answered_at=offer["answered_at"],
            expires_at=offer["expires_at"],
            now=now,
        )
        if refusal is not None:
            raise HTTPException(409, refusal)
        token = new_token()
        await set_link(connection, offer["survey_id"], token, issued_at=now)
    return SurveyLinkOut(
        survey_id=offer["survey_id"],
        link=survey_link(settings.public_base_url, token),
        contact_method=ContactMethod(offer["contact_method"]),
        expires_at=offer["expires_at"],
    )


class SatisfactionAnswerOut(BaseModel):
    survey_id: UUID
    handling_score: int = Field(description="1 very dissatisfied .. 5 very satisfied")
    feels_safer: SaferFeeling
    comments: str | None = Field(description="The survivor's own words")
    answered_at: datetime


class SatisfactionOut(BaseModel):
    case_id: UUID
    answers: list[SatisfactionAnswerOut]


@router.get(
    "/v1/cases/{case_id}/satisfaction",
    response_model=SatisfactionOut,
    summary="The survivor's answers to the satisfaction survey, their comments included "
    "(managers; audited)",
)
async def get_satisfaction(
    case_id: UUID, request: Request, caller: CommentReader
) -> SatisfactionOut:
    await audit.open_case_for(
        request,
        caller,
        Permission.READ_SATISFACTION_COMMENTS,
        case_id,
        fields=("satisfaction_answers", "satisfaction_comments"),
    )
    async with runtime_of(request).pool.acquire() as connection:
        rows = await answers_of_case(connection, case_id)
    return SatisfactionOut(
        case_id=case_id,
        answers=[
            SatisfactionAnswerOut(
                survey_id=row["survey_id"],
                handling_score=row["handling_score"],
                feels_safer=SaferFeeling(row["feels_safer"]),
                comments=row["comments"],
                answered_at=row["answered_at"],
            )
            for row in rows
        ],
    )
