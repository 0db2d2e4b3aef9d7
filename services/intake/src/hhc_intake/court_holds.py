"""Legal holds intake places by itself (policy 3.5.2; issue 9: "a legal hold (an enforcement
case in court, a subject request) stops disposal and is shown"): when enforcement lists a
court hearing for one of its cases, the case's personal data is evidence, and is not to
be disposed of, on request or by the retention schedule, while the proceedings run.

One automatic hold per case at a time: a further hearing while it is active adds
nothing. Enforcement has no "case left court" event, so nothing lifts such a hold by
itself: a person with MANAGE_LEGAL_HOLD (the data protection officer) lifts it, as any
other hold, when the proceedings are over; a hearing listed after that places a new one.
"""

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from hhc_chassis.consumer import Handler
from hhc_contracts import Envelope
from hhc_contracts.v1 import EnforcementHearingScheduled
from hhc_contracts.vocabulary import EnforcementStep
from hhc_intake.erasure import erasure_of, holds_of, place_hold

log = logging.getLogger(__name__)

COURT_HEARINGS = "enforcement"
"""``placed_by`` of the holds placed when enforcement lists a hearing: the automatic
source, never a member of staff's subject (staff place holds through the API under their
own)."""

COURT_TIME_ZONE = ZoneInfo("Europe/London")
"""The courts' calendar, which says on which day a hearing is (as enforcement's)."""

_COURT_NAME_LIMIT = 200
"""Enforcement takes court names of up to 200 characters; the contract bounds none, and
a hold's reason must fit its 2000."""


def hearing_hold_reason(step: EnforcementStep, court: str, hearing_at: datetime) -> str:
    """Why the hold was placed, for the data protection officer and the 409 that names it:
    the step, the court and the day only. No personal data: nobody is named, and the
    hearing's own record stays with enforcement."""
    words = step.value.replace("_", " ")
    day = hearing_at.astimezone(COURT_TIME_ZONE).date()
    return f"Court hearing listed: {words} at {court.strip()[:_COURT_NAME_LIMIT]} on {day:%Y-%m-%d}"


async def on_hearing_scheduled(
    connection: asyncpg.Connection, envelope: Envelope, hearing: EnforcementHearingScheduled
) -> None:
    case_id = hearing.case_id
    # The case's lock, as a hold placed by hand and an erasure take it: an erasure running
    # now is seen finished, and two hearings of one case never both find no hold.
    if not await connection.fetchval(
        "SELECT true FROM cases WHERE case_id = $1 FOR UPDATE", case_id
    ):
        # Enforcement opens its cases from intake's reports; not one of ours (a case of
        # another database, or a test), nothing to hold.
        log.info("hearing for a case intake does not know", extra={"case_id": str(case_id)})
        return
    if await erasure_of(connection, case_id) is not None:
        return  # Nothing is left to hold.
    active = await holds_of(connection, case_id, active_only=True)
    if any(hold.placed_by == COURT_HEARINGS for hold in active):
        return
    hold = await place_hold(
        connection,
        case_id,
        reason=hearing_hold_reason(hearing.step, hearing.court, hearing.hearing_at),
        placed_by=COURT_HEARINGS,
        at=hearing.recorded_at,
    )
    log.info(
        "legal hold placed for a court hearing",
        extra={"case_id": str(case_id), "hold_id": str(hold.id)},
    )


COURT_HANDLERS: dict[str, Handler] = {"enforcement.hearing-scheduled": on_hearing_scheduled}
