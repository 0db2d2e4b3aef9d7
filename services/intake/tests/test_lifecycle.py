"""The case lifecycle's rules alone (hhc_intake.lifecycle): where staff may take a case,
what a closure needs, where a further report on a closed case goes, and the track a
report that turned out otherwise (3.2.4, 3.2.5) takes."""

from datetime import UTC, datetime, timedelta

import pytest

from hhc_contracts.vocabulary import (
    CaseStatus,
    ClosureReason,
    IncidentCategory,
    PerpetratorKind,
    ReporterRole,
    RiskLevel,
    Track,
)
from hhc_intake.domain import RoutingFacts, reporter_receives_feedback, route
from hhc_intake.lifecycle import (
    Closure,
    ClosureRequest,
    FurtherReport,
    Refused,
    check_agreement,
    decide_closure,
    further_report_on,
    next_status,
    track_after,
)

S = CaseStatus
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
OPENED = NOW - timedelta(days=30)


def refusal(call: object) -> tuple[str | None, str]:
    """(field or None for a 409, message) of a refused call."""
    assert callable(call)
    with pytest.raises(Refused) as refused:
        call()
    return refused.value.field, refused.value.message


# --------------------------------------------------------------------------- status

TRANSITIONS = [
    (S.OPEN, S.IN_PROGRESS, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.AWAITING_CLOSURE, S.AWAITING_CLOSURE),
    (S.AWAITING_CLOSURE, S.IN_PROGRESS, S.IN_PROGRESS),
    (S.CLOSED, S.REOPENED, S.REOPENED),
    (S.REOPENED, S.IN_PROGRESS, S.IN_PROGRESS),
    # Asked twice: nothing changes, nothing is announced.
    (S.IN_PROGRESS, S.IN_PROGRESS, None),
    # A closed case changes no further but by reopening; nothing else reopens.
    (S.CLOSED, S.IN_PROGRESS, 409),
    (S.OPEN, S.REOPENED, 409),
    (S.IN_PROGRESS, S.REOPENED, 409),
    # Closure has its own route (a reason, maybe a manager); open is for new cases only.
    (S.IN_PROGRESS, S.CLOSED, "status"),
    (S.IN_PROGRESS, S.OPEN, "status"),
]


@pytest.mark.parametrize(("current", "wanted", "expected"), TRANSITIONS)
def test_staff_move_a_case_along_its_lifecycle(
    current: CaseStatus, wanted: CaseStatus, expected: CaseStatus | str | int | None
) -> None:
    if expected is None or isinstance(expected, CaseStatus):
        assert next_status(current, wanted) == expected
    else:
        field, _ = refusal(lambda: next_status(current, wanted))
        assert field == (None if expected == 409 else expected)


# --------------------------------------------------------------------------- closure

ATTEMPTS = tuple(NOW - timedelta(days=days) for days in (1, 3, 5))


def asked(
    reason: ClosureReason,
    detail: str | None = None,
    attempts: tuple[datetime, ...] = (),
    by: str = "caseworker-1",
) -> ClosureRequest:
    return ClosureRequest(reason, detail, attempts, by)


CLOSURES = [
    pytest.param(asked(ClosureReason.RESOLVED), RiskLevel.STANDARD, False, Closure(True), id="std"),
    pytest.param(
        asked(ClosureReason.SURVIVOR_WITHDREW), RiskLevel.MEDIUM, False, Closure(True), id="med"
    ),
    # High risk: a manager's agreement, theirs when they ask, else the case waits.
    pytest.param(asked(ClosureReason.RESOLVED), RiskLevel.HIGH, False, Closure(False), id="high"),
    pytest.param(
        asked(ClosureReason.RESOLVED, by="manager-1"),
        RiskLevel.HIGH,
        True,
        Closure(True, agreed_by="manager-1"),
        id="high-by-manager",
    ),
    # No level heard from risk yet, or one this version does not know: as high.
    pytest.param(asked(ClosureReason.RESOLVED), None, False, Closure(False), id="unknown"),
    pytest.param(
        asked(ClosureReason.RESOLVED), RiskLevel("severe"), False, Closure(False), id="new-level"
    ),
    pytest.param(asked(ClosureReason.NO_FURTHER_ACTION), RiskLevel.STANDARD, False, "detail"),
    pytest.param(asked(ClosureReason.TRANSFERRED, "  "), RiskLevel.STANDARD, False, "detail"),
    pytest.param(
        asked(ClosureReason.TRANSFERRED, "domestic abuse policy"),
        RiskLevel.STANDARD,
        False,
        Closure(True),
        id="transferred-to-whom",
    ),
    pytest.param(
        asked(ClosureReason.COULD_NOT_CONTACT, attempts=ATTEMPTS),
        RiskLevel.STANDARD,
        False,
        Closure(True),
        id="three-attempts",
    ),
    pytest.param(
        asked(ClosureReason.COULD_NOT_CONTACT, attempts=ATTEMPTS[:2]),
        RiskLevel.STANDARD,
        False,
        "contact_attempts",
        id="two-attempts",
    ),
    pytest.param(
        # Three calls in one afternoon are one day's try.
        asked(ClosureReason.COULD_NOT_CONTACT, attempts=(NOW, NOW, NOW - timedelta(hours=1))),
        RiskLevel.STANDARD,
        False,
        "contact_attempts",
        id="one-day",
    ),
    pytest.param(
        asked(ClosureReason.COULD_NOT_CONTACT, attempts=(*ATTEMPTS[:2], NOW + timedelta(days=1))),
        RiskLevel.STANDARD,
        False,
        "contact_attempts",
        id="future-attempt",
    ),
    pytest.param(
        asked(
            ClosureReason.COULD_NOT_CONTACT, attempts=(*ATTEMPTS[:2], OPENED - timedelta(days=1))
        ),
        RiskLevel.STANDARD,
        False,
        "contact_attempts",
        id="before-the-case",
    ),
    pytest.param(asked(ClosureReason("gave_up")), RiskLevel.STANDARD, False, "reason"),
]


@pytest.mark.parametrize(("request_", "risk", "manager", "expected"), CLOSURES)
def test_a_closure_needs_its_reason_and_for_high_risk_a_manager(
    request_: ClosureRequest, risk: RiskLevel | None, manager: bool, expected: Closure | str
) -> None:
    def decide() -> Closure:
        return decide_closure(
            S.IN_PROGRESS,
            request_,
            risk_level=risk,
            caller_agrees=manager,
            opened_at=OPENED,
            now=NOW,
        )

    if isinstance(expected, Closure):
        assert decide() == expected
    else:
        assert refusal(decide)[0] == expected


def test_a_closed_case_is_not_closed_again() -> None:
    closing = asked(ClosureReason.RESOLVED)
    field, _ = refusal(
        lambda: decide_closure(
            S.CLOSED,
            closing,
            risk_level=RiskLevel.STANDARD,
            caller_agrees=True,
            opened_at=OPENED,
            now=NOW,
        )
    )
    assert field is None


def test_agreement_is_a_second_persons_and_needs_a_waiting_request() -> None:
    waiting = asked(ClosureReason.RESOLVED, by="caseworker-1")
    assert check_agreement(S.AWAITING_CLOSURE, waiting, agreeing="manager-1") == waiting
    assert refusal(lambda: check_agreement(S.AWAITING_CLOSURE, waiting, agreeing="caseworker-1"))
    assert refusal(lambda: check_agreement(S.AWAITING_CLOSURE, None, agreeing="manager-1"))
    assert refusal(lambda: check_agreement(S.IN_PROGRESS, waiting, agreeing="manager-1"))


# --------------------------------------------------------------------------- further reports

WINDOW = timedelta(days=90)

FURTHER = [
    (S.IN_PROGRESS, None, NOW, FurtherReport.JOIN),
    # News while a closure waits for a manager: the closure lapses.
    (S.AWAITING_CLOSURE, None, NOW, FurtherReport.RESUME),
    (S.CLOSED, NOW - timedelta(days=10), NOW, FurtherReport.REOPEN),
    (S.CLOSED, NOW - WINDOW, NOW, FurtherReport.REOPEN),
    (S.CLOSED, NOW - WINDOW - timedelta(seconds=1), NOW, FurtherReport.NEW_LINKED_CASE),
]


@pytest.mark.parametrize(("status", "closed_at", "received_at", "expected"), FURTHER)
def test_a_further_report_on_a_closed_case_reopens_it_within_the_window(
    status: CaseStatus,
    closed_at: datetime | None,
    received_at: datetime,
    expected: FurtherReport,
) -> None:
    assert further_report_on(status, closed_at, received_at=received_at, window=WINDOW) == expected


# --------------------------------------------------------------------------- track changes


def facts(
    role: ReporterRole,
    *,
    customer: bool = True,
    perpetrators: frozenset[PerpetratorKind] = frozenset({PerpetratorKind.UNKNOWN}),
) -> RoutingFacts:
    return RoutingFacts(
        reporter_role=role,
        survivor_is_customer=customer,
        survivor_is_staff=False,
        perpetrator_kinds=perpetrators,
        categories=frozenset({IncidentCategory.VERBAL_ABUSE}),
        perceived_motivation=True,
    )


# 3.2.2: third parties "who may be aware or have witnessed" the behaviour. A witness
# reporting what happened to a customer reports for someone else: the survivor is
# contacted discreetly (3.2.4) and the witness told nothing (3.2.3); never routed as the
# customer's own report.
@pytest.mark.parametrize(
    ("role", "track", "feedback"),
    [
        (ReporterRole.WITNESS, Track.THIRD_PARTY_DISCREET_CONTACT, False),
        (ReporterRole.THIRD_PARTY, Track.THIRD_PARTY_DISCREET_CONTACT, False),
        (ReporterRole.SURVIVOR, Track.CUSTOMER_CASE, True),
    ],
)
def test_a_witness_reporting_for_a_customer_reports_for_someone_else(
    role: ReporterRole, track: Track, feedback: bool
) -> None:
    assert route(facts(role)).track is track
    assert reporter_receives_feedback(role) is feedback


T = Track
CUSTOMER_PERPETRATOR = frozenset({PerpetratorKind.CUSTOMER})

TRACK_CHANGES = [
    # Confirmed by the survivor at the discreet contact: the survivor's own report.
    (T.THIRD_PARTY_DISCREET_CONTACT, facts(ReporterRole.WITNESS), True, None, T.CUSTOMER_CASE),
    (
        T.THIRD_PARTY_DISCREET_CONTACT,
        facts(ReporterRole.WITNESS),
        False,
        None,
        "confirmed_by_survivor",
    ),
    # Found valid: the survivor's own if they confirmed it; else made for them, so a
    # customer is still contacted discreetly first.
    (T.ANONYMOUS_VALIDITY_CHECK, facts(ReporterRole.ANONYMOUS), True, None, T.CUSTOMER_CASE),
    (
        T.ANONYMOUS_VALIDITY_CHECK,
        facts(ReporterRole.ANONYMOUS),
        False,
        None,
        T.THIRD_PARTY_DISCREET_CONTACT,
    ),
    (
        T.ANONYMOUS_VALIDITY_CHECK,
        facts(ReporterRole.ANONYMOUS, customer=False, perpetrators=CUSTOMER_PERPETRATOR),
        False,
        None,
        T.PERPETRATOR_INVESTIGATION,
    ),
    # The track expected must be the one it qualifies for.
    (T.ANONYMOUS_VALIDITY_CHECK, facts(ReporterRole.ANONYMOUS), False, T.CUSTOMER_CASE, "track"),
    # Only these two tracks turn.
    (T.CUSTOMER_CASE, facts(ReporterRole.SURVIVOR), True, None, 409),
]


@pytest.mark.parametrize(("track", "first", "confirmed", "wanted", "expected"), TRACK_CHANGES)
def test_a_report_that_turned_out_otherwise_takes_the_track_it_qualifies_for(
    track: Track,
    first: RoutingFacts,
    confirmed: bool,
    wanted: Track | None,
    expected: Track | str | int,
) -> None:
    def change() -> object:
        return track_after(track, first, confirmed_by_survivor=confirmed, wanted=wanted)

    if isinstance(expected, Track):
        changed = track_after(track, first, confirmed_by_survivor=confirmed, wanted=wanted)
        assert changed.route.track is expected
        assert changed.reporter_role is (
            ReporterRole.SURVIVOR if confirmed else ReporterRole.THIRD_PARTY
        )
    elif expected == 409:
        assert refusal(change)[0] is None
    else:
        assert refusal(change)[0] == expected
