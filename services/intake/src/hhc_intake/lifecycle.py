"""A case from first report to closure: the rules alone, no I/O (issue 12; policy 3.2,
3.3, 5.1). Handlers load the case, ask these, then store and announce what they say.

A case is ``open`` when its first report opens it; staff take it ``in_progress``, ask
for it to close (``awaiting_closure`` while a high-risk closure waits for a manager),
close it with a reason, and may reopen it (``reopened``), as a further report within
the reopening window does too.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from hhc_contracts.vocabulary import (
    CaseStatus,
    ClosureReason,
    ReporterRole,
    RiskLevel,
    Track,
    is_recognised,
)
from hhc_intake.domain import Route, RoutingFacts, route

S = CaseStatus

# Where staff may take a case from each status. ``closed`` is reached only through a
# closure (it needs a reason, and for high risk a manager's agreement); ``open`` only by
# a case's first report. A closed case changes no further but by reopening: its clocks
# are stopped and the survivor has been offered the survey (5.1).
TRANSITIONS: Mapping[CaseStatus, frozenset[CaseStatus]] = {
    S.OPEN: frozenset({S.IN_PROGRESS, S.AWAITING_CLOSURE, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.AWAITING_CLOSURE, S.CLOSED}),
    # Back to work when the closure is not agreed, or new information came.
    S.AWAITING_CLOSURE: frozenset({S.IN_PROGRESS, S.CLOSED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.IN_PROGRESS, S.AWAITING_CLOSURE, S.CLOSED}),
}

STAFF_SET_STATUSES = frozenset({S.IN_PROGRESS, S.AWAITING_CLOSURE, S.REOPENED})
"""What ``POST /v1/cases/{id}/status`` may ask for; closure has its own route."""


class Refused(Exception):
    """A request the rules refuse. ``field`` names the body field at fault (422); None
    means the case's state does not allow it (409)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def status_of(value: str) -> CaseStatus:
    """A stored status; one this version does not know is treated as open, so that staff
    can still work on the case and close it."""
    status = CaseStatus(value)
    return status if is_recognised(status) else S.OPEN


def is_closed(status: CaseStatus) -> bool:
    return status is S.CLOSED


def next_status(current: CaseStatus, wanted: CaseStatus) -> CaseStatus | None:
    """The status a staff request takes the case to, or None when it is there already
    (asking twice changes nothing and announces nothing). Refused: a status staff do not
    set this way (422), or one the case cannot reach from where it is (409)."""
    if wanted not in STAFF_SET_STATUSES:
        raise Refused(
            "staff set only in_progress, awaiting_closure or reopened; close a case "
            "through /closure, with a reason",
            field="status",
        )
    if wanted == current:
        return None
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise Refused(f"a case {current.value} cannot become {wanted.value}")
    return wanted


def refuse_if_closed(status: CaseStatus, what: str) -> None:
    if is_closed(status):
        raise Refused(f"the case is closed: reopen it before changing its {what}")


# --- closure --------------------------------------------------------------------------

# The policy names no number of attempts to contact a survivor before a case may close as
# "could not contact" (3.2.4 says only that PCHA "will endeavour to make contact"). Until
# it does, three recorded attempts, on different days, are asked for: a single missed
# call must not close a case on someone who may be in danger.
CONTACT_ATTEMPTS_EXPECTED = 3

# Reasons whose closure says nothing on its own: staff say why (no further action) or to
# whom (transferred to another policy of the landlord, 3.4/1.2, or another agency).
DETAIL_REQUIRED = {
    ClosureReason.NO_FURTHER_ACTION: "say why no further action is taken",
    ClosureReason.TRANSFERRED: "say to which policy or agency the case was transferred",
}


@dataclass(frozen=True, slots=True)
class ClosureRequest:
    reason: ClosureReason
    detail: str | None
    contact_attempts: tuple[datetime, ...]
    requested_by: str


@dataclass(frozen=True, slots=True)
class Closure:
    """Close now (``agreed_by``: the manager whose agreement it needed, if any), or wait
    for a manager's agreement (``close`` false)."""

    close: bool
    agreed_by: str | None = None


def needs_agreement(risk_level: RiskLevel | None) -> bool:
    """A high-risk case closes only with a manager's agreement (issue 12; 3.3.1: someone
    at risk of harm). A case whose level is not known yet, or is a level this version
    does not know, is treated as high: better a manager looks than a case at risk closes
    unseen."""
    return risk_level is None or risk_level is RiskLevel.HIGH or not is_recognised(risk_level)


def check_closure_request(request: ClosureRequest, *, opened_at: datetime, now: datetime) -> None:
    """What a closure must say (422 naming the field otherwise)."""
    if not is_recognised(request.reason):
        raise Refused("not a closure reason this service knows", field="reason")
    if request.reason in DETAIL_REQUIRED and not (request.detail or "").strip():
        raise Refused(DETAIL_REQUIRED[request.reason], field="detail")
    if request.reason is ClosureReason.COULD_NOT_CONTACT:
        days = {attempt.date() for attempt in request.contact_attempts}
        if len(days) < CONTACT_ATTEMPTS_EXPECTED:
            raise Refused(
                f"record at least {CONTACT_ATTEMPTS_EXPECTED} attempts to contact the "
                "survivor, on different days, before closing as could not contact",
                field="contact_attempts",
            )
        if any(not opened_at <= attempt <= now for attempt in request.contact_attempts):
            raise Refused(
                "attempts to contact are made after the case opened, and not in the future",
                field="contact_attempts",
            )


def decide_closure(
    status: CaseStatus,
    request: ClosureRequest,
    *,
    risk_level: RiskLevel | None,
    caller_agrees: bool,
    opened_at: datetime,
    now: datetime,
) -> Closure:
    """Close, or wait for a manager. ``caller_agrees``: the caller is a manager who may
    agree this very case's closure; their own request is then their agreement."""
    if is_closed(status):
        raise Refused("the case is closed already")
    check_closure_request(request, opened_at=opened_at, now=now)
    if not needs_agreement(risk_level):
        return Closure(close=True)
    if caller_agrees:
        return Closure(close=True, agreed_by=request.requested_by)
    return Closure(close=False)


def check_agreement(
    status: CaseStatus, pending: ClosureRequest | None, *, agreeing: str
) -> ClosureRequest:
    """The pending request a manager's agreement closes; refused (409) when none waits,
    or when the manager is who asked: agreement is a second person's (issue 12)."""
    if status is not S.AWAITING_CLOSURE or pending is None:
        raise Refused("no closure of this case waits for agreement")
    if pending.requested_by == agreeing:
        raise Refused("a closure is agreed by a manager other than who asked for it")
    return pending


# --- further reports on a closed case -------------------------------------------------


class FurtherReport(StrEnum):
    JOIN = "join"
    """The case is not closed: the report joins it."""
    RESUME = "resume"
    """The case awaits closure: the closure asked for lapses (no manager agrees it with
    news unseen), the case is back in progress, and the report joins it."""
    REOPEN = "reopen"
    """Closed within the reopening window: the case reopens and the report joins it."""
    NEW_LINKED_CASE = "new_linked_case"
    """Closed longer ago: a new case, linked to the closed one."""


def further_report_on(
    status: CaseStatus, closed_at: datetime | None, *, received_at: datetime, window: timedelta
) -> FurtherReport:
    """Where a further report goes. Harassment is often "continuing or repeated" (3.1):
    soon after closure it is the same matter, and its history, owner and actions belong
    together; long after, a new case (linked, so staff see the history)."""
    if status is S.AWAITING_CLOSURE:
        return FurtherReport.RESUME
    if not is_closed(status):
        return FurtherReport.JOIN
    if closed_at is None or received_at - closed_at <= window:
        return FurtherReport.REOPEN
    return FurtherReport.NEW_LINKED_CASE


# --- reports that turn out otherwise (3.2.4, 3.2.5) ------------------------------------

TRACKS_THAT_TURN = frozenset({Track.THIRD_PARTY_DISCREET_CONTACT, Track.ANONYMOUS_VALIDITY_CHECK})


@dataclass(frozen=True, slots=True)
class TrackChange:
    route: Route
    reporter_role: ReporterRole
    """Whose report the case counts as from now on."""


def track_after(
    track: Track,
    first_report: RoutingFacts,
    *,
    confirmed_by_survivor: bool,
    wanted: Track | None = None,
) -> TrackChange:
    """The track a case turns to once its report is confirmed or found valid, routed as
    the report it now counts as:

    - a third-party or witness report (3.2.2-3.2.4) the survivor confirmed at the
      discreet contact: as the survivor's own;
    - an anonymous report found valid (3.2.5): as the survivor's own if they confirmed
      it, else as one made for them by someone else, so a customer is still contacted
      discreetly (3.2.4) before anything is done in their name.

    Refused: any other track (409), a third-party report the survivor did not confirm
    (422 on confirmed_by_survivor), or a ``wanted`` track it does not qualify for (422).
    """
    if track not in TRACKS_THAT_TURN:
        raise Refused(f"a case on the {track.value} track does not change track this way")
    if track is Track.THIRD_PARTY_DISCREET_CONTACT and not confirmed_by_survivor:
        raise Refused(
            "a report made for someone else changes track only once the survivor has "
            "confirmed it at the discreet contact (3.2.4)",
            field="confirmed_by_survivor",
        )
    role = ReporterRole.SURVIVOR if confirmed_by_survivor else ReporterRole.THIRD_PARTY
    decided = route(replace(first_report, reporter_role=role))
    if decided.track == track:
        raise Refused(f"the case stays on the {track.value} track")
    if wanted is not None and wanted != decided.track:
        raise Refused(
            f"the case qualifies for the {decided.track.value} track, not {wanted.value}",
            field="track",
        )
    return TrackChange(decided, role)
