"""Multi-agency meetings a case was taken to (policy 2.8, 3.6.3): a coordinated response
with other agencies, recorded with the date, the agencies present and the actions agreed.

Staff record a meeting (the same permission as recording a referral made by telephone)
and read a case's meetings; each look at a case is checked and audited. A meeting
recorded is published as ``referrals.multi-agency-meeting-recorded`` through the outbox,
in the transaction that stores it. The actions agreed are free text about people:
personal data, in the event's personal part only.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.events import new_envelope
from hhc_chassis.http import invalid
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.v1 import MultiAgencyMeetingPersonalData, MultiAgencyMeetingRecorded

router = APIRouter(tags=["multi-agency meetings"])

MeetingRecorder = Annotated[Caller, Depends(authorised(Permission.CONFIRM_REFERRAL))]
MeetingsReader = Annotated[Caller, Depends(authorised(Permission.READ_REFERRALS))]

# What each route shows or writes of a case, as the audit names it.
MEETING_FIELDS = ("multi_agency_meetings", "actions_agreed")

EARLIEST_MEETING = date(2000, 1, 1)
"""No case system record goes back further: an earlier date is a typing slip."""

Agency = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ActionAgreed = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
]


def a_year_after(day: date) -> date:
    """The same day a year later; 29 February gives 28 February."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def meeting_date(held_on: date, *, today: date) -> date:
    """When the meeting is held: one already held, or one planned up to a year ahead (a
    case is often put on the next meeting's agenda), never before 2000."""
    if held_on < EARLIEST_MEETING:
        raise invalid("held_on", f"must not be before {EARLIEST_MEETING.isoformat()}")
    if held_on > a_year_after(today):
        raise invalid("held_on", "must not be more than a year ahead")
    return held_on


def distinct_agencies(agencies: Sequence[str]) -> list[str]:
    """Each agency once, as first written: 'Police' and 'police ' are one agency."""
    seen: set[str] = set()
    distinct: list[str] = []
    for agency in agencies:
        key = " ".join(agency.split()).casefold()
        if key not in seen:
            seen.add(key)
            distinct.append(agency)
    return distinct


class MeetingIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    held_on: date = Field(
        description="The day of the meeting: held, or planned up to a year ahead",
        examples=["2026-03-10"],
    )
    agencies: list[Agency] = Field(
        min_length=1,
        max_length=50,
        description="The agencies present (each once)",
        examples=[["Police", "Adult Social Services", "PCHA Community Safety Team"]],
    )
    actions_agreed: list[ActionAgreed] = Field(
        default_factory=list,
        max_length=100,
        description="What the meeting agreed, one action each (personal data)",
    )

    @field_validator("agencies")
    @classmethod
    def _each_agency_once(cls, agencies: list[str]) -> list[str]:
        return distinct_agencies(agencies)


class MeetingOut(BaseModel):
    meeting_id: UUID
    case_id: UUID
    held_on: date
    agencies: list[str]
    actions_agreed: list[str]
    recorded_by: str
    """The member of staff who recorded it, as signed in."""
    recorded_at: datetime


def _meeting_out(row: asyncpg.Record) -> MeetingOut:
    return MeetingOut(**{key: row[key] for key in MeetingOut.model_fields})


@router.post(
    "/v1/cases/{case_id}/multi-agency-meetings",
    response_model=MeetingOut,
    status_code=201,
    summary="Record a multi-agency meeting the case was taken to (2.8, 3.6.3)",
    responses={404: {"description": "No such case, or one you may not reach"}},
)
async def record_meeting(
    case_id: UUID, meeting: MeetingIn, request: Request, caller: MeetingRecorder
) -> MeetingOut:
    await audit.open_case_for(
        request, caller, Permission.CONFIRM_REFERRAL, case_id, fields=MEETING_FIELDS
    )
    recorded_at = datetime.now(UTC)
    held_on = meeting_date(meeting.held_on, today=recorded_at.date())
    event = MultiAgencyMeetingRecorded(
        meeting_id=uuid.uuid4(),
        case_id=case_id,
        held_on=held_on,
        agencies=meeting.agencies,
        # Who recorded it is who is signed in, never what the body says.
        recorded_by=caller.subject,
        recorded_at=recorded_at,
        personal=MultiAgencyMeetingPersonalData(actions_agreed=meeting.actions_agreed),
    )
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            """INSERT INTO multi_agency_meetings (meeting_id, case_id, held_on, agencies,
                                                  actions_agreed, recorded_by, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
            event.meeting_id,
            case_id,
            held_on,
            event.agencies,
            event.personal.actions_agreed,
            event.recorded_by,
            recorded_at,
        )
        await enqueue(
            connection, [new_envelope(event, case_id=case_id, occurred_at=recorded_at, cause=None)]
        )
    return _meeting_out(row)


@router.get(
    "/v1/cases/{case_id}/multi-agency-meetings",
    response_model=list[MeetingOut],
    summary="The multi-agency meetings a case was taken to, in the order they were held",
)
async def list_meetings(
    case_id: UUID, request: Request, caller: MeetingsReader
) -> list[MeetingOut]:
    await audit.open_case_for(
        request, caller, Permission.READ_REFERRALS, case_id, fields=MEETING_FIELDS
    )
    rows = await runtime_of(request).pool.fetch(
        """SELECT * FROM multi_agency_meetings WHERE case_id = $1
           ORDER BY held_on, recorded_at""",
        case_id,
    )
    return [_meeting_out(row) for row in rows]
