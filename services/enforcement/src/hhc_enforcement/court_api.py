"""Court and legal tracking over HTTP (policy 2.6, 3.3.1, 4.2; issue 11, item 4).

A legal officer or a manager (``decide_enforcement``) records, on an enforcement case, the
hearings listed for its applications, the orders the court made with their terms and
expiry, and breaches of them; whoever reads enforcement reads them back, with the
reminders still to come. Each look at a case is checked and audited, as the case the
enforcement case belongs to. Each write stores its rows, sets its reminders
(:mod:`hhc_enforcement.reminders`) and stages its event in the outbox in one transaction:
``enforcement.hearing-scheduled``, ``enforcement.order-recorded``. A breach publishes
nothing of its own: the legal officer's decision on it (the ladder's ``breach_reported``
step) is the event the case's timeline shows.

A later report that says the behaviour continues is a breach of what is in force on the
case (:func:`record_breaches_on_later_report`, for enforcement's report-received handler).

The rules are :mod:`hhc_enforcement.court`'s; 422 names the field and the reason, 409 says
what on the case stands in the way.
"""

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.events import new_envelope
from hhc_chassis.http import invalid
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.v1 import (
    EnforcementHearingScheduled,
    EnforcementOrderRecorded,
    OrderPersonalData,
    ReportReceived,
)
from hhc_contracts.vocabulary import EnforcementRoute, EnforcementStep, ReminderSubject
from hhc_enforcement.court import (
    Conflict,
    Invalid,
    Obligation,
    breached,
    check_breach_reported_at,
    check_hearing,
    check_order,
    checked_scale,
    court_day,
    expiry_instant,
    hearing_reminders,
    order_expiry_reminders,
    says_behaviour_continues,
    still_ahead,
)
from hhc_enforcement.reminders import schedule_reminders

router = APIRouter(tags=["enforcement: court"])

CourtRecorder = Annotated[Caller, Depends(authorised(Permission.DECIDE_ENFORCEMENT))]
CourtReader = Annotated[Caller, Depends(authorised(Permission.READ_ENFORCEMENT))]

# What each route shows or writes of a case, as the audit names it.
COURT_FIELDS = ("enforcement", "hearings", "court_orders", "order_terms", "breaches")
HEARING_FIELDS = ("enforcement", "hearings")
ORDER_FIELDS = ("enforcement", "court_orders", "order_terms")
BREACH_FIELDS = ("enforcement", "breaches")

CLOCK_LEEWAY = timedelta(minutes=1)
"""How far ahead of this server's clock a caller's 'now' may be."""

CourtName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


def deadline_scale_of(request: Request) -> float:
    """The service's DEADLINE_SCALE (its settings' ``deadline_scale``; 1 when they have
    none): shortens the interval before each reminder, for drills and tests only."""
    scale = getattr(runtime_of(request).settings, "deadline_scale", 1.0)
    return checked_scale(float(scale))


DeadlineScale = Annotated[float, Depends(deadline_scale_of)]


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The court rules' refusals as HTTP answers: 422 naming the field, or 409."""
    try:
        yield
    except Invalid as refused:
        raise invalid(refused.field, refused.reason) from refused
    except Conflict as refused:
        raise HTTPException(409, str(refused)) from refused


# --------------------------------------------------------------------------- models


class HearingIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    step: EnforcementStep = Field(
        description="The application heard: injunction, ex_parte_injunction, "
        "possession_claim or civil_remedy"
    )
    hearing_at: AwareDatetime = Field(description="When the hearing is listed; in the future")
    court: CourtName = Field(description="Which court", examples=["County Court at Leeds"])
    decision_id: UUID | None = Field(
        default=None, description="The ladder decision the application carries out, if known"
    )


class OrderIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    step: EnforcementStep = Field(
        description="What the order is: injunction, ex_parte_injunction, "
        "outcome_order_granted, outcome_suspended or civil_remedy"
    )
    made_on: date = Field(description="The day the court made it; not in the future")
    expires_on: date | None = Field(
        default=None, description="The day it expires, after made_on; none if it does not"
    )
    terms: Text | None = Field(
        default=None, description="What it requires or forbids (personal data)"
    )
    decision_id: UUID | None = Field(
        default=None, description="The ladder decision it follows, if known"
    )


class BreachIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    reported_at: AwareDatetime | None = Field(
        default=None, description="When the breach was reported; now if not given"
    )
    summary: Text = Field(description="What was done in breach (personal data)")
    order_id: UUID | None = Field(
        default=None,
        description="The order breached; if not given, the one in force made last",
    )


class ReminderOut(BaseModel):
    reminder_id: UUID
    about: ReminderSubject
    due_at: datetime
    event_at: datetime | None
    """What it is before: the hearing, or the start of the order's expiry day."""
    hearing_id: UUID | None
    order_id: UUID | None
    decision_id: UUID | None


class HearingOut(BaseModel):
    hearing_id: UUID
    enforcement_case_id: UUID
    case_id: UUID
    step: EnforcementStep
    hearing_at: datetime
    court: str
    decision_id: UUID | None
    recorded_by: str
    """The member of staff who recorded it, as signed in."""
    recorded_at: datetime
    reminders: list[ReminderOut]
    """Its reminders still to come."""


class OrderOut(BaseModel):
    order_id: UUID
    enforcement_case_id: UUID
    case_id: UUID
    step: EnforcementStep
    made_on: date
    expires_on: date | None
    terms: str | None
    decision_id: UUID | None
    recorded_by: str
    recorded_at: datetime
    reminders: list[ReminderOut]
    """Its reminders still to come."""


class BreachOut(BaseModel):
    breach_id: UUID
    enforcement_case_id: UUID
    case_id: UUID
    order_id: UUID | None
    decision_id: UUID | None
    """The agreement breached, where it was not an order."""
    reported_at: datetime
    source: str
    """``staff`` (recorded here) or ``later_report`` (a report said it continues)."""
    report_id: UUID | None
    summary: str | None
    recorded_by: str | None
    recorded_at: datetime


class CourtOut(BaseModel):
    enforcement_case_id: UUID
    case_id: UUID
    route: EnforcementRoute
    hearings: list[HearingOut]
    orders: list[OrderOut]
    breaches: list[BreachOut]
    reminders: list[ReminderOut]
    """Every reminder on the enforcement case still to come, soonest first."""


# --------------------------------------------------------------------------- storage


def _fields(model: type[BaseModel], row: asyncpg.Record) -> dict[str, object]:
    return {name: row[name] for name in model.model_fields if name in row}


async def _pending_reminders(
    connection: asyncpg.Connection, enforcement_case_id: UUID
) -> list[ReminderOut]:
    rows = await connection.fetch(
        """SELECT * FROM reminders WHERE enforcement_case_id = $1 AND reported_at IS NULL
           ORDER BY due_at, reminder_id""",
        enforcement_case_id,
    )
    return [ReminderOut(**_fields(ReminderOut, row)) for row in rows]


async def _court_of(connection: asyncpg.Connection, case: asyncpg.Record) -> CourtOut:
    enforcement_case_id = case["enforcement_case_id"]
    reminders = await _pending_reminders(connection, enforcement_case_id)
    hearings = await connection.fetch(
        "SELECT * FROM hearings WHERE enforcement_case_id = $1 ORDER BY hearing_at, recorded_at",
        enforcement_case_id,
    )
    orders = await connection.fetch(
        "SELECT * FROM court_orders WHERE enforcement_case_id = $1 ORDER BY made_on, recorded_at",
        enforcement_case_id,
    )
    breaches = await connection.fetch(
        """SELECT * FROM breaches WHERE enforcement_case_id = $1
           ORDER BY reported_at, recorded_at""",
        enforcement_case_id,
    )
    return CourtOut(
        enforcement_case_id=enforcement_case_id,
        case_id=case["case_id"],
        route=EnforcementRoute(case["route"]),
        hearings=[
            HearingOut(
                **_fields(HearingOut, row),
                reminders=[r for r in reminders if r.hearing_id == row["hearing_id"]],
            )
            for row in hearings
        ],
        orders=[
            OrderOut(
                **_fields(OrderOut, row),
                reminders=[r for r in reminders if r.order_id == row["order_id"]],
            )
            for row in orders
        ],
        breaches=[BreachOut(**_fields(BreachOut, row)) for row in breaches],
        reminders=reminders,
    )


async def _orders_of(connection: asyncpg.Connection, enforcement_case_id: UUID) -> list[Obligation]:
    """What can be breached on the enforcement case: its court orders. (Agreements, the
    ladder's acceptable behaviour agreements, are the ladder's records, not these.)"""
    rows = await connection.fetch(
        """SELECT order_id, step, made_on, expires_on FROM court_orders
           WHERE enforcement_case_id = $1""",
        enforcement_case_id,
    )
    return [
        Obligation(
            obligation_id=row["order_id"],
            step=EnforcementStep(row["step"]),
            made_on=row["made_on"],
            expires_on=row["expires_on"],
        )
        for row in rows
    ]


async def _insert_breach(
    connection: asyncpg.Connection,
    *,
    enforcement_case_id: UUID,
    case_id: UUID,
    of: Obligation,
    reported_at: datetime,
    source: str,
    report_id: UUID | None,
    summary: str | None,
    recorded_by: str | None,
    recorded_at: datetime,
) -> UUID | None:
    """The breach stored; None when this later report was already stored as one."""
    breach_id: UUID | None = await connection.fetchval(
        """INSERT INTO breaches (breach_id, enforcement_case_id, case_id, order_id, decision_id,
                                 reported_at, source, report_id, summary, recorded_by,
                                 recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (enforcement_case_id, report_id) DO NOTHING
           RETURNING breach_id""",
        uuid.uuid4(),
        enforcement_case_id,
        case_id,
        of.obligation_id if of.is_order else None,
        None if of.is_order else of.obligation_id,
        reported_at,
        source,
        report_id,
        summary,
        recorded_by,
        recorded_at,
    )
    return breach_id


async def record_breaches_on_later_report(
    connection: asyncpg.Connection, report: ReportReceived
) -> list[UUID]:
    """A later report that says the behaviour continues is a breach of the order in force
    on each of its case's enforcement cases, if there is one, the day it was received;
    once per report, however often it is delivered. For the report-received handler, in
    its transaction. The report's own words stay in intake: the breach names the report."""
    if not says_behaviour_continues(report):
        return []
    recorded_at = datetime.now(UTC)
    cases = await connection.fetch(
        "SELECT enforcement_case_id FROM enforcement_cases WHERE case_id = $1", report.case_id
    )
    stored: list[UUID] = []
    for case in cases:
        enforcement_case_id = case["enforcement_case_id"]
        of = breached(
            await _orders_of(connection, enforcement_case_id), court_day(report.received_at)
        )
        if of is None:
            continue
        breach_id = await _insert_breach(
            connection,
            enforcement_case_id=enforcement_case_id,
            case_id=report.case_id,
            of=of,
            reported_at=report.received_at,
            source="later_report",
            report_id=report.report_id,
            summary=None,
            recorded_by=None,
            recorded_at=recorded_at,
        )
        if breach_id is not None:
            stored.append(breach_id)
    return stored


# --------------------------------------------------------------------------- routes


async def _open_enforcement_case(
    request: Request,
    caller: Caller,
    permission: Permission,
    enforcement_case_id: UUID,
    fields: Sequence[str],
) -> asyncpg.Record:
    """The enforcement case, if the caller may act on its case; else 404 (audited as a look
    at it), the same for one that does not exist and one they may not reach."""
    case: asyncpg.Record | None = await runtime_of(request).pool.fetchrow(
        """SELECT enforcement_case_id, case_id, route FROM enforcement_cases
           WHERE enforcement_case_id = $1""",
        enforcement_case_id,
    )
    if case is None:
        await audit.not_found(request, caller, what="enforcement case", fields=fields)
    await audit.open_case_for(request, caller, permission, case["case_id"], fields=fields)
    return case


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such enforcement case, or one you may not reach"}
}


@router.get(
    "/v1/enforcement-cases/{enforcement_case_id}/court",
    response_model=CourtOut,
    summary="An enforcement case's hearings, orders, breaches and reminders to come",
    responses=NOT_FOUND,
)
async def get_court(enforcement_case_id: UUID, request: Request, caller: CourtReader) -> CourtOut:
    case = await _open_enforcement_case(
        request, caller, Permission.READ_ENFORCEMENT, enforcement_case_id, COURT_FIELDS
    )
    async with runtime_of(request).pool.acquire() as connection:
        return await _court_of(connection, case)


@router.post(
    "/v1/enforcement-cases/{enforcement_case_id}/hearings",
    response_model=HearingOut,
    status_code=201,
    summary="Record a hearing listed for an application; reminders 7 days and 1 day before",
    responses={
        **NOT_FOUND,
        409: {"description": "The step is not on this case's route, or already listed then"},
    },
)
async def schedule_hearing(
    enforcement_case_id: UUID,
    hearing: HearingIn,
    request: Request,
    caller: CourtRecorder,
    scale: DeadlineScale,
) -> HearingOut:
    case = await _open_enforcement_case(
        request, caller, Permission.DECIDE_ENFORCEMENT, enforcement_case_id, HEARING_FIELDS
    )
    now = datetime.now(UTC)
    with _refusals():
        check_hearing(hearing.step, hearing.hearing_at, route=case["route"], now=now)
    event = EnforcementHearingScheduled(
        hearing_id=uuid.uuid4(),
        enforcement_case_id=enforcement_case_id,
        case_id=case["case_id"],
        step=hearing.step,
        hearing_at=hearing.hearing_at,
        court=hearing.court,
        # Who recorded it is who is signed in, never what the body says.
        recorded_by=caller.subject,
        recorded_at=now,
    )
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        try:
            await connection.execute(
                """INSERT INTO hearings (hearing_id, enforcement_case_id, case_id, step,
                                         decision_id, hearing_at, court, recorded_by,
                                         recorded_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                event.hearing_id,
                enforcement_case_id,
                event.case_id,
                event.step.value,
                hearing.decision_id,
                event.hearing_at,
                event.court,
                event.recorded_by,
                event.recorded_at,
            )
        except asyncpg.UniqueViolationError as listed:
            raise HTTPException(409, "this application is already listed for then") from listed
        await schedule_reminders(
            connection,
            enforcement_case_id=enforcement_case_id,
            case_id=event.case_id,
            about=ReminderSubject.HEARING,
            due=still_ahead(hearing_reminders(event.hearing_at, scale), now),
            event_at=event.hearing_at,
            hearing_id=event.hearing_id,
            decision_id=hearing.decision_id,
        )
        await enqueue(connection, [new_envelope(event, case_id=event.case_id, occurred_at=now)])
        court = await _court_of(connection, case)
    return next(h for h in court.hearings if h.hearing_id == event.hearing_id)


@router.post(
    "/v1/enforcement-cases/{enforcement_case_id}/orders",
    response_model=OrderOut,
    status_code=201,
    summary="Record an order the court made; reminders 28 days and 7 days before it expires",
    responses={**NOT_FOUND, 409: {"description": "The step is not on this case's route"}},
)
async def record_order(
    enforcement_case_id: UUID,
    order: OrderIn,
    request: Request,
    caller: CourtRecorder,
    scale: DeadlineScale,
) -> OrderOut:
    case = await _open_enforcement_case(
        request, caller, Permission.DECIDE_ENFORCEMENT, enforcement_case_id, ORDER_FIELDS
    )
    now = datetime.now(UTC)
    with _refusals():
        check_order(
            order.step, order.made_on, order.expires_on, route=case["route"], today=court_day(now)
        )
    event = EnforcementOrderRecorded(
        order_id=uuid.uuid4(),
        enforcement_case_id=enforcement_case_id,
        case_id=case["case_id"],
        step=order.step,
        made_on=order.made_on,
        expires_on=order.expires_on,
        recorded_by=caller.subject,
        recorded_at=now,
        personal=OrderPersonalData(terms=order.terms),
    )
    reminders = (
        still_ahead(order_expiry_reminders(order.expires_on, scale), now)
        if order.expires_on is not None
        else []
    )
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        await connection.execute(
            """INSERT INTO court_orders (order_id, enforcement_case_id, case_id, step,
                                         decision_id, made_on, expires_on, terms, recorded_by,
                                         recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            event.order_id,
            enforcement_case_id,
            event.case_id,
            event.step.value,
            order.decision_id,
            event.made_on,
            event.expires_on,
            order.terms,
            event.recorded_by,
            event.recorded_at,
        )
        await schedule_reminders(
            connection,
            enforcement_case_id=enforcement_case_id,
            case_id=event.case_id,
            about=ReminderSubject.ORDER_EXPIRY,
            due=reminders,
            event_at=expiry_instant(order.expires_on) if order.expires_on is not None else None,
            order_id=event.order_id,
            decision_id=order.decision_id,
        )
        await enqueue(connection, [new_envelope(event, case_id=event.case_id, occurred_at=now)])
        court = await _court_of(connection, case)
    return next(o for o in court.orders if o.order_id == event.order_id)


@router.post(
    "/v1/enforcement-cases/{enforcement_case_id}/breaches",
    response_model=BreachOut,
    status_code=201,
    summary="Record a breach of an order in force, reported by the signed-in member of staff",
    responses={**NOT_FOUND, 409: {"description": "No order in force to breach then"}},
)
async def record_breach(
    enforcement_case_id: UUID, breach: BreachIn, request: Request, caller: CourtRecorder
) -> BreachOut:
    case = await _open_enforcement_case(
        request, caller, Permission.DECIDE_ENFORCEMENT, enforcement_case_id, BREACH_FIELDS
    )
    now = datetime.now(UTC)
    reported_at = breach.reported_at or now
    with _refusals():
        check_breach_reported_at(reported_at, now=now, leeway=CLOCK_LEEWAY)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        orders = await _orders_of(connection, enforcement_case_id)
        if breach.order_id is not None and breach.order_id not in {
            order.obligation_id for order in orders
        }:
            raise invalid("order_id", "is no order of this enforcement case")
        on = court_day(reported_at)
        of = breached(orders, on, named=breach.order_id)
        if of is None:
            raise HTTPException(
                409,
                f"no order {'named ' if breach.order_id else ''}was in force on "
                f"{on.isoformat()}: a breach is of an order in force",
            )
        breach_id = await _insert_breach(
            connection,
            enforcement_case_id=enforcement_case_id,
            case_id=case["case_id"],
            of=of,
            reported_at=reported_at,
            source="staff",
            report_id=None,
            summary=breach.summary,
            recorded_by=caller.subject,
            recorded_at=now,
        )
        row = await connection.fetchrow("SELECT * FROM breaches WHERE breach_id = $1", breach_id)
    return BreachOut(**_fields(BreachOut, row))
