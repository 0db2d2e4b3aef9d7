"""Enforcement's service rules (hhc_enforcement.rules) against policy 2.5, 3.2.5, 3.3.1 and
3.3.2: which risk actions it answers and with which steps, what a report or a case allows,
whom a further report names, the ex parte clock, and the two-person check of a proposal.
Pure: no I/O. The expected answers are this file's own reading of the policy."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from hhc_chassis.access import Role
from hhc_contracts.vocabulary import (
    ActionKind,
    Classification,
    EnforcementRoute,
    EnforcementStep,
    EvidenceKind,
    EvidenceStrength,
    Executor,
    PerpetratorKind,
    Track,
)
from hhc_enforcement.evidence import EvidenceItem
from hhc_enforcement.ladder import Decider, Decision, Proposal, Refusal, RefusalCode
from hhc_enforcement.rules import (
    SECOND_DECIDER,
    Admission,
    Known,
    Naming,
    ReportFacts,
    admission,
    answers,
    awaits_validity,
    case_admission,
    check_proposal,
    danger_clock,
    is_request,
    namings,
)

P = PerpetratorKind
S = EnforcementStep
T = Track
HATE = Classification.HATE_INCIDENT
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# --------------------------------------------------------------------------- risk's requests

TENANCY_FIRST_STEPS = {
    S.ADVICE_OR_VERBAL_WARNING,
    S.WRITTEN_WARNING,
    S.ACCEPTABLE_BEHAVIOUR_AGREEMENT,
    S.INJUNCTION,
    S.EX_PARTE_INJUNCTION,
    S.NOTICE_OF_SEEKING_POSSESSION,
    S.POSSESSION_CLAIM,
}
ANSWERS = {
    # Against someone not a customer the injunction is a civil remedy (police and civil).
    ActionKind.EX_PARTE_INJUNCTION: {S.EX_PARTE_INJUNCTION, S.CIVIL_REMEDY},
    ActionKind.PERPETRATOR_ENFORCEMENT: TENANCY_FIRST_STEPS,
}


@pytest.mark.parametrize("kind", list(ActionKind), ids=str)
@pytest.mark.parametrize("executor", list(Executor), ids=str)
def test_enforcement_keeps_only_its_own_kinds_of_action(
    kind: ActionKind, executor: Executor
) -> None:
    """3.3.1 (ex parte injunction) and 3.3.2 (enforcement against customer perpetrators),
    carried out by enforcement; nothing else."""
    assert is_request(kind, executor) is (executor is Executor.ENFORCEMENT and kind in ANSWERS)


@pytest.mark.parametrize("kind", list(ActionKind), ids=str)
@pytest.mark.parametrize("step", list(S), ids=str)
def test_which_step_taken_answers_which_action(kind: ActionKind, step: EnforcementStep) -> None:
    """An ex parte injunction answers only an ex parte injunction, or a civil remedy against
    someone who is not a customer; enforcement against a
    customer perpetrator is answered by any first step of the tenancy ladder, not by an
    outcome, a breach, or a step of another route."""
    assert answers(kind, step) is (step in ANSWERS.get(kind, set()))


# --------------------------------------------------------------------------- what opens

OPENS = {T.CUSTOMER_CASE, T.PERPETRATOR_INVESTIGATION, T.STAFF_GRIEVANCE}
OPENS |= {T.THIRD_PARTY_DISCREET_CONTACT}
NEVER = {T.ONLINE_ADVICE_ONLY, T.CROSS_REFERRAL, T.HATE_CRIME_REPORTING_CENTRE}


@pytest.mark.parametrize("track", list(T), ids=str)
@pytest.mark.parametrize("confirmed", [False, True], ids=["unconfirmed", "found-valid"])
def test_what_a_report_allows_for_a_customer(track: Track, confirmed: bool) -> None:
    assert set(T) == OPENS | NEVER | {T.ANONYMOUS_VALIDITY_CHECK}
    allowed = admission(
        track=track,
        classification=HATE,
        perpetrator_kinds=[P.CUSTOMER],
        validity_confirmed=confirmed,
    )
    if track in NEVER:
        expected = Admission.NONE
    elif track is T.ANONYMOUS_VALIDITY_CHECK and not confirmed:
        expected = Admission.AWAITS_VALIDITY
    else:
        expected = Admission.OPEN
    assert allowed is expected


@pytest.mark.parametrize("track", [T.CUSTOMER_CASE, T.ANONYMOUS_VALIDITY_CHECK], ids=str)
def test_nobody_named_allows_nothing(track: Track) -> None:
    for confirmed in (False, True):
        allowed = admission(
            track=track, classification=HATE, perpetrator_kinds=[], validity_confirmed=confirmed
        )
        assert allowed is Admission.NONE


def _report(track: Track, *, danger: bool = False, at: datetime = AT) -> ReportFacts:
    return ReportFacts(received_at=at, track=track, classification=HATE, immediate_danger=danger)


@pytest.mark.parametrize(
    ("tracks", "confirmed", "expected"),
    [
        pytest.param([], False, Admission.OPEN, id="no-report-kept-staff-know"),
        pytest.param([T.ONLINE_ADVICE_ONLY], False, Admission.NONE, id="online-only"),
        pytest.param(
            [T.ONLINE_ADVICE_ONLY, T.CUSTOMER_CASE], False, Admission.OPEN, id="online-then-case"
        ),
        pytest.param(
            [T.ANONYMOUS_VALIDITY_CHECK], False, Admission.AWAITS_VALIDITY, id="anonymous"
        ),
        pytest.param([T.ANONYMOUS_VALIDITY_CHECK], True, Admission.OPEN, id="anonymous-valid"),
        pytest.param(
            [T.ANONYMOUS_VALIDITY_CHECK, T.CROSS_REFERRAL],
            False,
            Admission.AWAITS_VALIDITY,
            id="anonymous-and-cross-referral",
        ),
    ],
)
def test_what_a_case_allows_for_a_perpetrator_staff_record(
    tracks: list[Track], confirmed: bool, expected: Admission
) -> None:
    reports = [_report(track) for track in tracks]
    assert case_admission(reports, [P.CUSTOMER], validity_confirmed=confirmed) is expected


def test_only_an_anonymous_report_awaits_validity() -> None:
    assert awaits_validity([_report(T.CUSTOMER_CASE), _report(T.ANONYMOUS_VALIDITY_CHECK)])
    assert not awaits_validity(
        [_report(track) for track in T if track is not T.ANONYMOUS_VALIDITY_CHECK]
    )


# --------------------------------------------------------------------------- whom a report names

A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))


@pytest.mark.parametrize(
    ("kinds", "known", "expected"),
    [
        pytest.param([P.CUSTOMER], [], [Naming(P.CUSTOMER, None)], id="first-report-new"),
        pytest.param(
            [P.CUSTOMER], [Known(A, P.CUSTOMER)], [Naming(P.CUSTOMER, A)], id="same-kind-again"
        ),
        pytest.param(
            [P.CUSTOMER, P.CUSTOMER],
            [Known(A, P.CUSTOMER)],
            [Naming(P.CUSTOMER, A), Naming(P.CUSTOMER, None)],
            id="a-second-customer-is-new",
        ),
        pytest.param(
            [P.CUSTOMER],
            [Known(A, P.UNKNOWN)],
            [Naming(P.CUSTOMER, A, kind_learnt=True)],
            id="unknown-becomes-customer",
        ),
        pytest.param(
            [P.UNKNOWN],
            [Known(A, P.CUSTOMER)],
            [Naming(P.UNKNOWN, None)],
            id="unknown-is-not-taken-for-the-customer",
        ),
        pytest.param(
            [P.STAFF, P.CUSTOMER],
            [Known(A, P.CUSTOMER), Known(B, P.UNKNOWN)],
            [Naming(P.STAFF, B, kind_learnt=True), Naming(P.CUSTOMER, A)],
            id="same-kind-first-then-unknown",
        ),
        pytest.param(
            [P.CUSTOMER],
            [Known(B, P.UNKNOWN), Known(A, P.CUSTOMER)],
            [Naming(P.CUSTOMER, A)],
            id="same-kind-preferred-over-unknown",
        ),
        pytest.param(
            [P("contractor_of_partner"), P.CUSTOMER],
            [Known(C, P.CUSTOMER)],
            [Naming(P.CUSTOMER, C)],
            id="a-kind-not-known-names-nobody",
        ),
        pytest.param([], [Known(A, P.CUSTOMER)], [], id="nobody-named"),
    ],
)
def test_whom_a_report_names(
    kinds: list[PerpetratorKind], known: list[Known], expected: list[Naming]
) -> None:
    assert namings(kinds, known) == expected


# --------------------------------------------------------------------------- the ex parte clock


def test_the_ex_parte_clock_starts_at_the_latest_report_of_danger() -> None:
    reports = [
        _report(T.CUSTOMER_CASE, at=AT),
        _report(T.CUSTOMER_CASE, danger=True, at=AT + timedelta(days=1)),
        _report(T.CUSTOMER_CASE, danger=True, at=AT + timedelta(days=3)),
        _report(T.CUSTOMER_CASE, at=AT + timedelta(days=5)),
    ]
    assert danger_clock(reports, ex_parte_asked_at=[], opened_at=AT) == (
        True,
        AT + timedelta(days=3),
    )


def test_risks_request_for_an_ex_parte_injunction_is_danger_too() -> None:
    asked = AT + timedelta(hours=1)
    assert danger_clock([_report(T.CUSTOMER_CASE)], ex_parte_asked_at=[asked], opened_at=AT) == (
        True,
        asked,
    )


def test_without_danger_the_clock_is_the_first_report_or_the_opening() -> None:
    later = AT + timedelta(days=2)
    reports = [_report(T.CUSTOMER_CASE, at=later), _report(T.CUSTOMER_CASE, at=AT)]
    assert danger_clock(reports, ex_parte_asked_at=[], opened_at=later) == (False, AT)
    assert danger_clock([], ex_parte_asked_at=[], opened_at=later) == (False, later)


# --------------------------------------------------------------------------- two people

LEGAL = Decider("legal-1", frozenset({Role.LEGAL_OFFICER}))
STRONG = (
    EvidenceItem(
        kind=EvidenceKind.CRIME_NUMBER,
        strength=EvidenceStrength.MODERATE,
        recorded_by="legal-1",
        recorded_at=AT,
        source="Merseyside Police",
        reference="MP/26/1",
    ),
    EvidenceItem(
        kind=EvidenceKind.WITNESS_STATEMENT,
        strength=EvidenceStrength.MODERATE,
        recorded_by="legal-1",
        recorded_at=AT,
        source="neighbour",
    ),
)
HISTORY = [S.WRITTEN_WARNING, S.ACCEPTABLE_BEHAVIOUR_AGREEMENT, S.INJUNCTION]


def _check(
    step: EnforcementStep,
    evidence: tuple[EvidenceItem, ...] = STRONG,
    history: list[EnforcementStep] = HISTORY,
) -> Decision | Refusal:
    proposal = Proposal(EnforcementRoute.TENANCY_ENFORCEMENT, step, "persistent abuse", (LEGAL,))
    return check_proposal(
        proposal,
        history,
        evidence=evidence,
        immediate_danger=False,
        serious_hate_crime=False,
        reported_at=AT,
        now=AT + timedelta(days=30),
    )


@pytest.mark.parametrize("step", [S.NOTICE_OF_SEEKING_POSSESSION, S.POSSESSION_CLAIM], ids=str)
def test_a_two_person_step_proposed_by_one_may_wait_for_the_second(
    step: EnforcementStep,
) -> None:
    noticed = [S.NOTICE_OF_SEEKING_POSSESSION] if step is S.POSSESSION_CLAIM else []
    checked = _check(step, history=HISTORY + noticed)
    assert isinstance(checked, Decision)
    # The stand-in is never a decider of record: the decision is made again when the
    # second person agrees.
    assert SECOND_DECIDER in checked.decided_by
    assert "\x00" in SECOND_DECIDER


def test_a_two_person_step_without_its_evidence_is_refused_at_once() -> None:
    checked = _check(S.NOTICE_OF_SEEKING_POSSESSION, evidence=STRONG[1:])
    assert isinstance(checked, Refusal)
    assert checked.code is RefusalCode.EVIDENCE_MISSING
    assert checked.missing


def test_a_one_person_step_is_checked_as_proposed() -> None:
    checked = _check(S.WRITTEN_WARNING)
    assert isinstance(checked, Decision)
    assert checked.decided_by == ("legal-1",)
