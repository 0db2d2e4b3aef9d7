"""Court and legal tracking (policy 2.6, 3.3.1, 3.3.2, 4.2; issue 11, item 4): which steps
go before a court, when a hearing or an order may be recorded, what a breach can be a
breach of, and when the reminders before a hearing and before an order expires fall due.
Pure: no I/O.

=============================  =======  =====  ====================  ======================
step                           hearing  order  route                 clause
=============================  =======  =====  ====================  ======================
injunction                     yes      yes    tenancy enforcement   2.6, 3.3.2, 4.2
ex parte injunction            yes      yes    tenancy enforcement   3.3.1 (customers only)
possession claim               yes      no     tenancy enforcement   2.6, 3.3.2, 4.2
outcome: order granted         no       yes    tenancy enforcement   2.6, 4.2
outcome: suspended             no       yes    tenancy enforcement   2.6, 4.2
civil remedy                   yes      yes    police and civil      2.6 ("civil actions,
                                                                     other legal remedies")
=============================  =======  =====  ====================  ======================

A possession claim is heard, and what the court does with it is recorded as its outcome
(the order granted, or suspended); a dismissed claim makes no order. Every other step of
the ladder (warnings, agreements, notices, referrals, the disciplinary route) is not
before a court.

- A hearing is listed ahead: one at or before the moment it is recorded is refused.
- An order is one the court has made: made today at the latest (and not before 2000), and,
  if it expires, it expires after the day it was made.
- A breach is of an order or an agreement (an acceptable behaviour agreement) in force on
  the day it is reported: made on or before that day, and expiring on or after it. Staff
  report one, or a later report on the case says the behaviour continues.

Reminders (durable clocks: stored, and published once each by
:mod:`hhc_enforcement.reminders`) come 7 days and 1 day before a hearing, and 28 days and
7 days before an order expires. An order expiring on a day is taken to expire at the
start of that day, in England's time, so that its reminders come early rather than late.
``deadline_scale`` shortens the interval before the event (drills and tests only): a
reminder falls due at ``event - lead * deadline_scale``. Reminders whose time has already
passed when the hearing or order is recorded are not set: whoever records it knows.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from hhc_contracts.v1 import ReportReceived
from hhc_contracts.vocabulary import EnforcementRoute, EnforcementStep

EARLIEST = date(2000, 1, 1)
"""No case system record goes back further: an earlier order or breach is a typing slip."""

COURT_TIME_ZONE = ZoneInfo("Europe/London")
"""Where the courts sit (England): the day an order is made or expires is theirs."""

HEARING_REMINDER_LEADS: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=1))
ORDER_EXPIRY_REMINDER_LEADS: tuple[timedelta, ...] = (timedelta(days=28), timedelta(days=7))

_S = EnforcementStep
_TENANCY = EnforcementRoute.TENANCY_ENFORCEMENT
_POLICE_AND_CIVIL = EnforcementRoute.POLICE_AND_CIVIL

COURT_ROUTE: dict[EnforcementStep, EnforcementRoute] = {
    _S.INJUNCTION: _TENANCY,
    _S.EX_PARTE_INJUNCTION: _TENANCY,
    _S.POSSESSION_CLAIM: _TENANCY,
    _S.OUTCOME_ORDER_GRANTED: _TENANCY,
    _S.OUTCOME_SUSPENDED: _TENANCY,
    _S.CIVIL_REMEDY: _POLICE_AND_CIVIL,
}
"""The route each step before a court belongs to (the table above)."""

HEARING_STEPS: frozenset[EnforcementStep] = frozenset(
    {_S.INJUNCTION, _S.EX_PARTE_INJUNCTION, _S.POSSESSION_CLAIM, _S.CIVIL_REMEDY}
)
ORDER_STEPS: frozenset[EnforcementStep] = frozenset(
    {
        _S.INJUNCTION,
        _S.EX_PARTE_INJUNCTION,
        _S.OUTCOME_ORDER_GRANTED,
        _S.OUTCOME_SUSPENDED,
        _S.CIVIL_REMEDY,
    }
)
AGREEMENT_STEPS: frozenset[EnforcementStep] = frozenset({_S.ACCEPTABLE_BEHAVIOUR_AGREEMENT})
"""Not a court's order, but breached all the same (2.6)."""


class Invalid(ValueError):
    """What was given cannot be so (a 422 naming ``field``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Conflict(ValueError):
    """What was given does not fit the enforcement case as it stands (a 409)."""


def checked_scale(deadline_scale: float) -> float:
    """``deadline_scale`` as risk's DEADLINE_SCALE takes it: above 0, at most 1."""
    if not 0 < deadline_scale <= 1:
        raise ValueError(f"deadline_scale must be above 0 and at most 1, not {deadline_scale}")
    return deadline_scale


def _before(
    event_at: datetime, leads: Sequence[timedelta], deadline_scale: float
) -> list[datetime]:
    scale = checked_scale(deadline_scale)
    return [event_at - lead * scale for lead in leads]


def hearing_reminders(hearing_at: datetime, deadline_scale: float = 1.0) -> list[datetime]:
    """When to remind of a hearing: 7 days and 1 day before it, earliest first."""
    return _before(hearing_at, HEARING_REMINDER_LEADS, deadline_scale)


def expiry_instant(expires_on: date) -> datetime:
    """The moment an order expiring on ``expires_on`` is taken to expire: the start of that
    day in England (module docstring)."""
    return datetime.combine(expires_on, time(0), tzinfo=COURT_TIME_ZONE)


def order_expiry_reminders(expires_on: date, deadline_scale: float = 1.0) -> list[datetime]:
    """When to remind that an order expires: 28 days and 7 days before, earliest first."""
    return _before(expiry_instant(expires_on), ORDER_EXPIRY_REMINDER_LEADS, deadline_scale)


def still_ahead(times: Iterable[datetime], now: datetime) -> list[datetime]:
    """The reminders worth setting at ``now``: those not yet due."""
    return [at for at in times if at > now]


def court_day(now: datetime) -> date:
    """Today, where the courts sit."""
    return now.astimezone(COURT_TIME_ZONE).date()


def _in_words(step: EnforcementStep) -> str:
    words = step.value.replace("_", " ")
    return f"an {words}" if words[0] in "aeiou" else f"a {words}"


def _check_route(step: EnforcementStep, route: str) -> None:
    expected = COURT_ROUTE[step]
    if route != expected.value:
        raise Conflict(
            f"{_in_words(step)} belongs to the {expected.value} route, and this enforcement "
            f"case is on the {route} route (2.6)"
        )


def check_hearing(
    step: EnforcementStep, hearing_at: datetime, *, route: str, now: datetime
) -> None:
    """A hearing may be listed for a step heard in court (``HEARING_STEPS``) on that
    step's route, ahead of ``now``."""
    if step not in HEARING_STEPS:
        raise Invalid("step", f"{_in_words(step)} has no hearing: one of {_listed(HEARING_STEPS)}")
    if hearing_at <= now:
        raise Invalid("hearing_at", "must be in the future")
    _check_route(step, route)


def check_order(
    step: EnforcementStep,
    made_on: date,
    expires_on: date | None,
    *,
    route: str,
    today: date,
) -> None:
    """An order of a step a court makes orders for (``ORDER_STEPS``), on that step's route,
    made by ``today``, and expiring (if it does) after the day it was made."""
    if step not in ORDER_STEPS:
        raise Invalid("step", f"{_in_words(step)} is no order: one of {_listed(ORDER_STEPS)}")
    if made_on < EARLIEST:
        raise Invalid("made_on", f"must not be before {EARLIEST.isoformat()}")
    if made_on > today:
        raise Invalid("made_on", "must not be in the future: record an order once it is made")
    if expires_on is not None and expires_on <= made_on:
        raise Invalid("expires_on", "must be after made_on")
    _check_route(step, route)


def check_breach_reported_at(reported_at: datetime, *, now: datetime, leeway: timedelta) -> None:
    if reported_at > now + leeway:
        raise Invalid("reported_at", "must not be in the future")
    if reported_at.date() < EARLIEST:
        raise Invalid("reported_at", f"must not be before {EARLIEST.isoformat()}")


def _listed(steps: Iterable[EnforcementStep]) -> str:
    return ", ".join(sorted(step.value for step in steps))


@dataclass(frozen=True, slots=True)
class Obligation:
    """What a breach can be of: a court's order, or an acceptable behaviour agreement."""

    obligation_id: UUID
    step: EnforcementStep
    made_on: date
    expires_on: date | None = None

    @property
    def is_order(self) -> bool:
        return self.step in ORDER_STEPS


def in_force(obligation: Obligation, on: date) -> bool:
    """Made on or before ``on`` and not expired before it (the expiry day still counts)."""
    if obligation.step not in ORDER_STEPS | AGREEMENT_STEPS:
        return False
    if obligation.made_on > on:
        return False
    return obligation.expires_on is None or on <= obligation.expires_on


def breached(
    obligations: Iterable[Obligation], on: date, *, named: UUID | None = None
) -> Obligation | None:
    """What a breach reported on ``on`` is a breach of: the one ``named``, if it is in force
    then; otherwise the one in force made last (an order before an agreement made the same
    day). None: there is nothing to breach, so there is no breach."""
    candidates = [
        obligation
        for obligation in obligations
        if in_force(obligation, on) and (named is None or obligation.obligation_id == named)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda obligation: (obligation.made_on, obligation.is_order))


def says_behaviour_continues(report: ReportReceived) -> bool:
    """A later report on a case that says the behaviour is continuing or repeated: on a
    case with an order or agreement in force, a breach of it."""
    return report.further_report and report.ongoing
