"""The 5.2 measure's definition (hhc_risk.first_response), what a case's new status does
to its clocks, and what a new track still needs: pure rules, table-tested."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from hhc_contracts.vocabulary import (
    ActionKind,
    CaseStatus,
    Classification,
    IncidentCategory,
    Partner,
    PerpetratorKind,
    Track,
)
from hhc_risk.first_response import Completion, first_response, responds
from hhc_risk.handlers import ClockChange, clock_change
from hhc_risk.playbook import CaseFacts, not_yet_planned, plan_actions

K = ActionKind
REPORTED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def done(kind: ActionKind, minutes: int, outcome: str = "done") -> Completion:
    return Completion(uuid.uuid4(), kind, outcome, REPORTED + timedelta(minutes=minutes))


@pytest.mark.parametrize(
    ("completion", "is_response"),
    [
        (done(K.VISIT_WITH_RISK_ASSESSMENT, 1), True),
        (done(K.DISCREET_CONTACT, 1), True),
        (done(K.GIVE_ADVICE, 1), True),
        (done(K.INFORM_EMERGENCY_SERVICES, 1, "referral_made"), True),
        (done(K.SAFEGUARDING_ALERT, 1, "referral_made"), True),
        (done(K.TARGET_HARDENING, 1), True),
        (done(K.EX_PARTE_INJUNCTION, 1, "ex_parte_injunction"), True),
        (done(K.SUPPORT_AND_ADVOCACY_REFERRAL, 1, "referral_made"), True),
        # A referral withdrawn reached nobody; a review or an evidence file is not a
        # response to the survivor; a kind this version does not know is not known to be.
        (done(K.INFORM_EMERGENCY_SERVICES, 1, "consent_withdrawn"), False),
        (done(K.RISK_REVIEW, 1), False),
        (done(K.REHOUSING_EVIDENCE, 1), False),
        (done(K.VALIDITY_INVESTIGATION, 1), False),
        (done(ActionKind("telepathy"), 1), False),
    ],
    ids=lambda value: f"{value.kind}:{value.outcome}" if isinstance(value, Completion) else "",
)
def test_what_counts_as_a_response(completion: Completion, is_response: bool) -> None:
    assert responds(completion) is is_response


def test_the_first_response_is_the_earliest_that_responds_whatever_the_order() -> None:
    review = done(K.RISK_REVIEW, 5)
    hardening = done(K.TARGET_HARDENING, 90)
    alert = done(K.SAFEGUARDING_ALERT, 30, "referral_made")
    visit = done(K.VISIT_WITH_RISK_ASSESSMENT, 60)
    assert first_response([hardening, review, visit, alert]) == alert
    assert first_response([review, visit]) == visit


def test_no_first_response_until_something_responds() -> None:
    assert first_response([]) is None
    assert first_response([done(K.RISK_REVIEW, 5), done(K.POLICY_CROSS_REFERRAL, 6)]) is None


# Tracks whose plan has nothing that responds, and why: an anonymous report has nobody to
# contact until it is found valid (3.2.5; intake then moves it to a track that has), and a
# cross-referred case is answered under the other policy (1.2).
NO_RESPONSE_PLANNED = {Track.ANONYMOUS_VALIDITY_CHECK, Track.CROSS_REFERRAL}


@pytest.mark.parametrize("track", list(Track), ids=str)
def test_every_other_track_plans_an_action_that_responds(track: Track) -> None:
    """Every case can get a first response, the advice-only ones too (3.1, 3.2.6)."""
    facts = CaseFacts(
        survivor_is_customer=track is not Track.HATE_CRIME_REPORTING_CENTRE,
        immediate_danger=False,
        classification=Classification.HARASSMENT,
        track=track,
        categories=frozenset({IncidentCategory.VERBAL_ABUSE}),
        perpetrator_kinds=frozenset({PerpetratorKind.UNKNOWN}),
    )
    planned = [done(action.kind, 1) for action in plan_actions(facts)]
    assert any(responds(action) for action in planned) is (track not in NO_RESPONSE_PLANNED)


@pytest.mark.parametrize(
    ("status", "closed_here", "change"),
    [
        (CaseStatus.CLOSED, False, ClockChange.STOP),
        (CaseStatus.CLOSED, True, ClockChange.STOP),  # redelivered: stops nothing more
        (CaseStatus.REOPENED, True, ClockChange.RESTART),
        (CaseStatus.REOPENED, False, None),  # already running
        (CaseStatus.IN_PROGRESS, False, None),
        (CaseStatus("archived"), True, ClockChange.RESTART),  # unknown: clocks run
    ],
)
def test_clock_change(status: CaseStatus, closed_here: bool, change: ClockChange | None) -> None:
    assert clock_change(status, closed_here=closed_here) == change


def test_a_new_track_plans_only_what_the_case_does_not_have() -> None:
    facts = CaseFacts(
        survivor_is_customer=True,
        immediate_danger=False,
        classification=Classification.HATE_INCIDENT,
        track=Track.CUSTOMER_CASE,
        categories=frozenset({IncidentCategory.VERBAL_ABUSE}),
        perpetrator_kinds=frozenset({PerpetratorKind.CUSTOMER}),
    )
    had: set[tuple[ActionKind, Partner | None]] = {
        (K.PERPETRATOR_ENFORCEMENT, None),
        (K.DISCREET_CONTACT, None),
    }
    # The customer case's own first contact (3.3.2) and its support; nothing it had.
    assert [(a.kind, a.partner) for a in not_yet_planned(plan_actions(facts), had)] == [
        (K.GIVE_ADVICE, None),
        (K.SUPPORT_AND_ADVOCACY_REFERRAL, Partner.STOP_HATE_UK),
    ]
