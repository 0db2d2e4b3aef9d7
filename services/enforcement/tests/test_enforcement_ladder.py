"""The escalation ladder against policy 1.3, 2.5, 2.6, 3.2.5, 3.3.1, 3.3.2, 4.2, 4.3 and
issue 11, items 3 and 5. Pure: no I/O.

The expected answers come from this file's own reading of the policy (the tables
below), never from the module under test.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from hhc_chassis.access import Role
from hhc_contracts.vocabulary import (
    Classification,
    EnforcementRoute,
    EnforcementStep,
    EvidenceKind,
    EvidenceLevel,
    EvidenceStrength,
    PerpetratorKind,
    Track,
)
from hhc_enforcement.evidence import (
    EvidenceItem,
    missing_for,
    rate,
)
from hhc_enforcement.ladder import (
    STEP_RULES,
    Decider,
    Decision,
    OpenCase,
    Perpetrator,
    Proposal,
    Refusal,
    RefusalCode,
    allowed_next,
    case_to_join,
    decide,
    opens_enforcement,
    route_for,
    routes_for,
    same_perpetrator,
)

S = EnforcementStep
L = EvidenceLevel
P = PerpetratorKind
R = RefusalCode
T = EnforcementRoute.TENANCY_ENFORCEMENT
PC = EnforcementRoute.POLICE_AND_CIVIL
CM = EnforcementRoute.CONTRACT_MANAGEMENT
SD = EnforcementRoute.STAFF_DISCIPLINARY

REPORTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = REPORTED + timedelta(hours=6)

LEGAL = Decider("legal-1", frozenset({Role.LEGAL_OFFICER}))
LEGAL_2 = Decider("legal-2", frozenset({Role.LEGAL_OFFICER}))
MANAGER = Decider("manager-1", frozenset({Role.MANAGER}))
MANAGER_2 = Decider("manager-2", frozenset({Role.MANAGER}))
P_AND_L = Decider("people-1", frozenset({Role.PEOPLE_AND_LEARNING}))
CASEWORKER = Decider("caseworker-1", frozenset({Role.CASEWORKER}))


def _item(kind: EvidenceKind, strength: EvidenceStrength, source: str) -> EvidenceItem:
    return EvidenceItem(
        kind=kind,
        strength=strength,
        recorded_by="caseworker-1",
        recorded_at=REPORTED,
        source=source,
        reference="MP/26/1" if kind is EvidenceKind.CRIME_NUMBER else None,
    )


EVIDENCE: dict[EvidenceLevel, tuple[EvidenceItem, ...]] = {
    L.NONE: (),
    L.SOME: (_item(EvidenceKind.DIARY_ENTRY, EvidenceStrength.WEAK, "survivor"),),
    L.SUBSTANTIAL: (
        _item(EvidenceKind.DIARY_ENTRY, EvidenceStrength.MODERATE, "survivor"),
        _item(EvidenceKind.WITNESS_STATEMENT, EvidenceStrength.MODERATE, "neighbour"),
    ),
    L.STRONG: (
        _item(EvidenceKind.CRIME_NUMBER, EvidenceStrength.MODERATE, "Merseyside Police"),
        _item(EvidenceKind.WITNESS_STATEMENT, EvidenceStrength.MODERATE, "survivor"),
    ),
}

# The policy as this file reads it.

ROUTE_OF_KIND = {
    P.CUSTOMER: T,  # 2.6: tenancy enforcement
    P.NOT_CUSTOMER: PC,  # 2.6: civil actions, other legal remedies
    P.UNKNOWN: PC,
    P.ACTING_FOR_LANDLORD: CM,  # 1.3: those acting on the landlord's behalf
    P.STAFF: SD,  # 2.6: disciplinary procedures
}

ROUTE_OF_STEP = {
    S.ADVICE_OR_VERBAL_WARNING: T,
    S.WRITTEN_WARNING: T,
    S.ACCEPTABLE_BEHAVIOUR_AGREEMENT: T,
    S.INJUNCTION: T,
    S.EX_PARTE_INJUNCTION: T,
    S.NOTICE_OF_SEEKING_POSSESSION: T,
    S.POSSESSION_CLAIM: T,
    S.OUTCOME_ORDER_GRANTED: T,
    S.OUTCOME_SUSPENDED: T,
    S.OUTCOME_DISMISSED: T,
    S.BREACH_REPORTED: T,
    S.POLICE_REFERRAL: PC,
    S.CIVIL_REMEDY: PC,
    S.CONTRACT_MANAGEMENT_REFERRAL: CM,
    S.CONTRACT_OUTCOME: CM,
    S.DISCIPLINARY_HANDED_OVER: SD,
    S.DISCIPLINARY_MILESTONE: SD,
    S.DISCIPLINARY_CONCLUDED: SD,
}

# 2.5: strong evidence before action in court; less for advice, warnings, agreements and
# handing over to those who investigate; none to record what others decided.
THRESHOLD = {
    S.ADVICE_OR_VERBAL_WARNING: L.SOME,
    S.WRITTEN_WARNING: L.SUBSTANTIAL,
    S.ACCEPTABLE_BEHAVIOUR_AGREEMENT: L.SUBSTANTIAL,
    S.INJUNCTION: L.STRONG,
    S.EX_PARTE_INJUNCTION: L.STRONG,
    S.NOTICE_OF_SEEKING_POSSESSION: L.STRONG,
    S.POSSESSION_CLAIM: L.STRONG,
    S.OUTCOME_ORDER_GRANTED: L.NONE,
    S.OUTCOME_SUSPENDED: L.NONE,
    S.OUTCOME_DISMISSED: L.NONE,
    S.BREACH_REPORTED: L.SOME,
    S.POLICE_REFERRAL: L.SOME,
    S.CIVIL_REMEDY: L.STRONG,
    S.CONTRACT_MANAGEMENT_REFERRAL: L.SOME,
    S.CONTRACT_OUTCOME: L.NONE,
    S.DISCIPLINARY_HANDED_OVER: L.SOME,
    S.DISCIPLINARY_MILESTONE: L.NONE,
    S.DISCIPLINARY_CONCLUDED: L.NONE,
}
LEVELS = ["none", "some", "substantial", "strong"]


def below(level: EvidenceLevel, needed: EvidenceLevel) -> bool:
    return LEVELS.index(level.value) < LEVELS.index(needed.value)


LEGAL_OR_MANAGER = {Role.LEGAL_OFFICER, Role.MANAGER}
ROLES = {
    step: {Role.MANAGER}
    if step in (S.CONTRACT_MANAGEMENT_REFERRAL, S.CONTRACT_OUTCOME, S.DISCIPLINARY_HANDED_OVER)
    else {Role.PEOPLE_AND_LEARNING}
    if step in (S.DISCIPLINARY_MILESTONE, S.DISCIPLINARY_CONCLUDED)
    else LEGAL_OR_MANAGER
    for step in S
}
TWO_PEOPLE = {S.NOTICE_OF_SEEKING_POSSESSION, S.POSSESSION_CLAIM}
DECIDERS = {
    step: (LEGAL, MANAGER)
    if step in TWO_PEOPLE
    else (MANAGER,)
    if ROLES[step] == {Role.MANAGER}
    else (P_AND_L,)
    if ROLES[step] == {Role.PEOPLE_AND_LEARNING}
    else (LEGAL,)
    for step in S
}
REVIEW_DAYS = {
    S.ADVICE_OR_VERBAL_WARNING: 28,
    S.WRITTEN_WARNING: 28,
    S.ACCEPTABLE_BEHAVIOUR_AGREEMENT: 28,
    S.INJUNCTION: 28,
    S.EX_PARTE_INJUNCTION: 7,
    S.NOTICE_OF_SEEKING_POSSESSION: 28,
    S.POSSESSION_CLAIM: 28,
    S.OUTCOME_ORDER_GRANTED: 28,
    S.OUTCOME_SUSPENDED: 28,
    S.OUTCOME_DISMISSED: 28,
    S.BREACH_REPORTED: 7,
    S.POLICE_REFERRAL: 14,
    S.CIVIL_REMEDY: 28,
    S.CONTRACT_MANAGEMENT_REFERRAL: 14,
    S.CONTRACT_OUTCOME: None,
    S.DISCIPLINARY_HANDED_OVER: 28,
    S.DISCIPLINARY_MILESTONE: 28,
    S.DISCIPLINARY_CONCLUDED: None,
}

LADDER = (
    S.ADVICE_OR_VERBAL_WARNING,
    S.WRITTEN_WARNING,
    S.ACCEPTABLE_BEHAVIOUR_AGREEMENT,
    S.INJUNCTION,
    S.NOTICE_OF_SEEKING_POSSESSION,
    S.POSSESSION_CLAIM,
)
OUTCOMES = (S.OUTCOME_ORDER_GRANTED, S.OUTCOME_SUSPENDED, S.OUTCOME_DISMISSED)
PRE_COURT_AND_NOTICE = set(LADDER[:5])
UP_TO_CLAIM = LADDER
AWAITING_OUTCOME = LADDER

# The history after which each step is the natural next one.
IN_ORDER: dict[EnforcementStep, tuple[EnforcementStep, ...]] = {
    **{rung: LADDER[:index] for index, rung in enumerate(LADDER)},
    S.EX_PARTE_INJUNCTION: (),
    **dict.fromkeys(OUTCOMES, AWAITING_OUTCOME),
    S.BREACH_REPORTED: LADDER[:3],
    S.POLICE_REFERRAL: (),
    S.CIVIL_REMEDY: (),
    S.CONTRACT_MANAGEMENT_REFERRAL: (),
    S.CONTRACT_OUTCOME: (S.CONTRACT_MANAGEMENT_REFERRAL,),
    S.DISCIPLINARY_HANDED_OVER: (),
    S.DISCIPLINARY_MILESTONE: (S.DISCIPLINARY_HANDED_OVER,),
    S.DISCIPLINARY_CONCLUDED: (S.DISCIPLINARY_HANDED_OVER, S.DISCIPLINARY_MILESTONE),
}


def _decide(
    step: EnforcementStep,
    history: Sequence[EnforcementStep],
    *,
    route: EnforcementRoute | None = None,
    level: EvidenceLevel = L.STRONG,
    deciders: tuple[Decider, ...] | None = None,
    skip_reason: str | None = None,
    reason: str = "repeated abuse of the neighbour, logged since January",
    danger: bool = False,
    serious: bool = False,
    now: datetime = NOW,
) -> Decision | Refusal:
    proposal = Proposal(
        route=route or ROUTE_OF_STEP[step],
        step=step,
        reason=reason,
        deciders=DECIDERS[step] if deciders is None else deciders,
        skip_reason=skip_reason,
    )
    return decide(
        proposal,
        history,
        evidence=EVIDENCE[level],
        immediate_danger=danger,
        serious_hate_crime=serious,
        reported_at=REPORTED,
        now=now,
    )


def _code(outcome: Decision | Refusal) -> RefusalCode | None:
    return outcome.code if isinstance(outcome, Refusal) else None


def test_evidence_fixtures_are_at_their_levels() -> None:
    for level, items in EVIDENCE.items():
        assert rate(items) is level


# Done when: every step x evidence level x perpetrator kind x danger.


def expected_in_order(
    step: EnforcementStep, level: EvidenceLevel, kind: PerpetratorKind, danger: bool
) -> RefusalCode | None:
    if ROUTE_OF_STEP[step] is not ROUTE_OF_KIND[kind]:
        return R.STEP_NOT_ON_ROUTE
    if step is S.EX_PARTE_INJUNCTION and not danger:
        return R.IMMEDIATE_DANGER_ONLY  # 3.3.1
    if below(level, THRESHOLD[step]):
        return R.EVIDENCE_MISSING  # 2.5
    return None


@pytest.mark.parametrize(
    ("step", "level", "kind", "danger"),
    [
        pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2]}-{'danger' if case[3] else 'calm'}")
        for case in product(S, L, ROUTE_OF_KIND, (False, True))
    ],
)
def test_every_step_in_order_for_every_evidence_level_perpetrator_and_danger(
    step: EnforcementStep, level: EvidenceLevel, kind: PerpetratorKind, danger: bool
) -> None:
    route = route_for(kind)
    assert route is ROUTE_OF_KIND[kind]
    outcome = _decide(step, IN_ORDER[step], route=route, level=level, danger=danger)
    expected = expected_in_order(step, level, kind, danger)
    if expected is not None:
        assert isinstance(outcome, Refusal)
        assert outcome.code is expected, outcome.message
        if expected is R.EVIDENCE_MISSING:
            assert outcome.missing == tuple(missing_for(THRESHOLD[step], EVIDENCE[level]))
            assert outcome.missing
        return
    assert isinstance(outcome, Decision), outcome
    assert outcome.step is step
    assert outcome.route is route
    assert outcome.decided_by == tuple(decider.subject for decider in DECIDERS[step])
    assert outcome.reason == "repeated abuse of the neighbour, logged since January"
    assert outcome.decided_at == NOW
    assert outcome.evidence_level is level
    days = REVIEW_DAYS[step]
    assert outcome.review_at == (None if days is None else NOW + timedelta(days=days))
    assert outcome.skipped == ()
    assert outcome.skip_reason is None


STRAIGHT_TO_COURT = {S.INJUNCTION, S.NOTICE_OF_SEEKING_POSSESSION, S.POSSESSION_CLAIM}
NEEDS_AN_EARLIER_STEP = {
    *OUTCOMES,  # a possession claim awaiting its outcome
    S.BREACH_REPORTED,  # an order or agreement
    S.CONTRACT_OUTCOME,  # a referral to the contract owner
    S.DISCIPLINARY_MILESTONE,  # the case handed to People and Learning
    S.DISCIPLINARY_CONCLUDED,
}
SKIPPED_FROM_THE_START = {rung: LADDER[:index] for index, rung in enumerate(LADDER)}


def expected_from_the_start(
    step: EnforcementStep,
    level: EvidenceLevel,
    kind: PerpetratorKind,
    danger: bool,
    skip_reason: str | None,
    serious: bool,
) -> RefusalCode | None:
    if ROUTE_OF_STEP[step] is not ROUTE_OF_KIND[kind]:
        return R.STEP_NOT_ON_ROUTE
    if step in NEEDS_AN_EARLIER_STEP:
        return R.STEP_NOT_ALLOWED_NOW
    if step is S.EX_PARTE_INJUNCTION and not danger:
        return R.IMMEDIATE_DANGER_ONLY
    if SKIPPED_FROM_THE_START.get(step):
        if not skip_reason:
            return R.SKIP_NEEDS_REASON
        if step in STRAIGHT_TO_COURT and not serious:
            return R.SKIP_NEEDS_SERIOUS_HATE_CRIME
    if below(level, THRESHOLD[step]):
        return R.EVIDENCE_MISSING
    return None


SKIP_REASON = "racially motivated assault with a weapon: a warning would not protect her"


@pytest.mark.parametrize(
    ("step", "level", "kind", "danger", "skip_reason", "serious"),
    [
        pytest.param(
            *case,
            id=f"{case[0]}-{case[1]}-{case[2]}-{'danger' if case[3] else 'calm'}-"
            f"{'reason' if case[4] else 'no-reason'}-{'serious' if case[5] else 'not-serious'}",
        )
        for case in product(S, L, ROUTE_OF_KIND, (False, True), (None, SKIP_REASON), (False, True))
    ],
)
def test_every_step_as_the_first_with_and_without_a_skip_reason_and_serious_hate_crime(
    step: EnforcementStep,
    level: EvidenceLevel,
    kind: PerpetratorKind,
    danger: bool,
    skip_reason: str | None,
    serious: bool,
) -> None:
    outcome = _decide(
        step,
        (),
        route=route_for(kind),
        level=level,
        danger=danger,
        skip_reason=skip_reason,
        serious=serious,
    )
    expected = expected_from_the_start(step, level, kind, danger, skip_reason, serious)
    if expected is not None:
        assert _code(outcome) is expected, outcome
        return
    assert isinstance(outcome, Decision), outcome
    skipped = SKIPPED_FROM_THE_START.get(step, ())
    assert outcome.skipped == skipped
    assert outcome.skip_reason == (SKIP_REASON if skipped else None)


# Skipping (issue 11, item 3).


@pytest.mark.parametrize("step", sorted(STRAIGHT_TO_COURT))
def test_serious_hate_crime_goes_straight_to_injunction_or_possession(
    step: EnforcementStep,
) -> None:
    straight = _decide(step, (), skip_reason=SKIP_REASON, serious=True)
    assert isinstance(straight, Decision)
    assert straight.skipped == SKIPPED_FROM_THE_START[step]
    assert straight.skip_reason == SKIP_REASON
    assert _code(_decide(step, (), skip_reason=SKIP_REASON)) is R.SKIP_NEEDS_SERIOUS_HATE_CRIME
    assert _code(_decide(step, (), serious=True)) is R.SKIP_NEEDS_REASON
    assert _code(_decide(step, (), skip_reason="  ", serious=True)) is R.SKIP_NEEDS_REASON


@pytest.mark.parametrize("step", sorted(STRAIGHT_TO_COURT))
def test_serious_hate_crime_does_not_lower_the_evidence_needed(step: EnforcementStep) -> None:
    outcome = _decide(step, (), level=L.SUBSTANTIAL, skip_reason=SKIP_REASON, serious=True)
    assert _code(outcome) is R.EVIDENCE_MISSING


def test_a_skip_after_an_earlier_step_needs_a_reason_only() -> None:
    history = (S.ADVICE_OR_VERBAL_WARNING,)
    assert _code(_decide(S.NOTICE_OF_SEEKING_POSSESSION, history)) is R.SKIP_NEEDS_REASON
    outcome = _decide(S.NOTICE_OF_SEEKING_POSSESSION, history, skip_reason="ABA breached")
    assert isinstance(outcome, Decision)
    assert outcome.skipped == (S.WRITTEN_WARNING, S.ACCEPTABLE_BEHAVIOUR_AGREEMENT, S.INJUNCTION)
    assert outcome.skip_reason == "ABA breached"


def test_a_skip_reason_is_recorded_only_when_a_rung_is_skipped() -> None:
    outcome = _decide(S.WRITTEN_WARNING, (S.ADVICE_OR_VERBAL_WARNING,), skip_reason="why not")
    assert isinstance(outcome, Decision)
    assert (outcome.skipped, outcome.skip_reason) == ((), None)


def test_an_ex_parte_injunction_counts_as_an_injunction_on_the_ladder() -> None:
    outcome = _decide(S.NOTICE_OF_SEEKING_POSSESSION, (S.EX_PARTE_INJUNCTION,))
    assert isinstance(outcome, Decision)
    assert outcome.skipped == ()


# Where the case stands: what may follow what.

GRANTED = (*AWAITING_OUTCOME, S.OUTCOME_ORDER_GRANTED)


@pytest.mark.parametrize(
    ("route", "history", "danger", "expected"),
    [
        pytest.param(T, (), False, {S.ADVICE_OR_VERBAL_WARNING}, id="tenancy-start"),
        pytest.param(
            T, (), True, {S.ADVICE_OR_VERBAL_WARNING, S.EX_PARTE_INJUNCTION}, id="start-in-danger"
        ),
        pytest.param(T, LADDER[:1], False, set(LADDER[:2]), id="after-advice"),
        pytest.param(T, LADDER[:2], False, set(LADDER[:3]), id="after-written-warning"),
        pytest.param(T, LADDER[:3], False, {*LADDER[:4], S.BREACH_REPORTED}, id="after-agreement"),
        pytest.param(T, LADDER[:4], False, {*LADDER[:5], S.BREACH_REPORTED}, id="after-injunction"),
        pytest.param(T, LADDER[:5], False, {*LADDER, S.BREACH_REPORTED}, id="after-notice"),
        pytest.param(
            T,
            AWAITING_OUTCOME,
            False,
            {*PRE_COURT_AND_NOTICE, *OUTCOMES, S.BREACH_REPORTED},
            id="claim-awaits-outcome",
        ),
        pytest.param(
            T,
            (*AWAITING_OUTCOME, S.OUTCOME_DISMISSED),
            False,
            {*LADDER, S.BREACH_REPORTED},
            id="after-dismissal",
        ),
        pytest.param(
            T,
            (*AWAITING_OUTCOME, S.OUTCOME_SUSPENDED),
            False,
            {*LADDER, S.BREACH_REPORTED},
            id="after-suspended-order",
        ),
        pytest.param(T, GRANTED, False, {S.BREACH_REPORTED}, id="outright-order-ends-ladder"),
        pytest.param(
            T,
            GRANTED,
            True,
            {S.BREACH_REPORTED, S.EX_PARTE_INJUNCTION},
            id="outright-order-danger-ex-parte",
        ),
        pytest.param(
            T,
            (S.EX_PARTE_INJUNCTION,),
            False,
            {*PRE_COURT_AND_NOTICE, S.BREACH_REPORTED},
            id="after-ex-parte",
        ),
        pytest.param(PC, (), False, {S.POLICE_REFERRAL, S.CIVIL_REMEDY}, id="police-and-civil"),
        pytest.param(
            PC,
            (S.POLICE_REFERRAL,),
            True,
            {S.POLICE_REFERRAL, S.CIVIL_REMEDY},
            id="police-and-civil-no-ex-parte-in-danger",
        ),
        pytest.param(CM, (), False, {S.CONTRACT_MANAGEMENT_REFERRAL}, id="contract-start"),
        pytest.param(
            CM,
            (S.CONTRACT_MANAGEMENT_REFERRAL,),
            False,
            {S.CONTRACT_MANAGEMENT_REFERRAL, S.CONTRACT_OUTCOME},
            id="contract-after-referral",
        ),
        pytest.param(SD, (), True, {S.DISCIPLINARY_HANDED_OVER}, id="staff-start"),
        pytest.param(
            SD,
            (S.DISCIPLINARY_HANDED_OVER, S.DISCIPLINARY_MILESTONE, S.DISCIPLINARY_MILESTONE),
            False,
            {S.DISCIPLINARY_MILESTONE, S.DISCIPLINARY_CONCLUDED},
            id="staff-milestones",
        ),
        pytest.param(
            SD,
            (S.DISCIPLINARY_HANDED_OVER, S.DISCIPLINARY_CONCLUDED),
            True,
            set(),
            id="staff-concluded",
        ),
    ],
)
def test_allowed_next(
    route: EnforcementRoute,
    history: tuple[EnforcementStep, ...],
    danger: bool,
    expected: set[EnforcementStep],
) -> None:
    assert allowed_next(route, history, immediate_danger=danger) == expected


@pytest.mark.parametrize(
    ("history", "allowed"),
    [
        pytest.param((), False, id="nothing-yet"),
        pytest.param(LADDER[:5], False, id="after-notice"),
        pytest.param(AWAITING_OUTCOME, True, id="claim-awaits-outcome"),
        pytest.param((*AWAITING_OUTCOME, S.OUTCOME_DISMISSED), False, id="outcome-recorded"),
        pytest.param((*AWAITING_OUTCOME, S.OUTCOME_SUSPENDED), False, id="suspended-recorded"),
        pytest.param(
            (*AWAITING_OUTCOME, S.OUTCOME_DISMISSED, S.POSSESSION_CLAIM),
            True,
            id="second-claim-awaits-outcome",
        ),
    ],
)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_outcomes_only_after_a_possession_claim(
    outcome: EnforcementStep, history: tuple[EnforcementStep, ...], allowed: bool
) -> None:
    decided = _decide(outcome, history, level=L.NONE, skip_reason=SKIP_REASON, serious=True)
    if allowed:
        assert isinstance(decided, Decision)
    else:
        assert _code(decided) is R.STEP_NOT_ALLOWED_NOW


def test_no_second_possession_claim_while_one_awaits_its_outcome() -> None:
    assert _code(_decide(S.POSSESSION_CLAIM, AWAITING_OUTCOME)) is R.STEP_NOT_ALLOWED_NOW


@pytest.mark.parametrize(
    ("history", "allowed"),
    [
        pytest.param((), False, id="nothing"),
        pytest.param(LADDER[:2], False, id="warnings-only"),
        pytest.param(LADDER[:3], True, id="acceptable-behaviour-agreement"),
        pytest.param((S.INJUNCTION,), True, id="injunction"),
        pytest.param((S.EX_PARTE_INJUNCTION,), True, id="ex-parte-injunction"),
        pytest.param(
            (S.ADVICE_OR_VERBAL_WARNING, S.NOTICE_OF_SEEKING_POSSESSION, S.POSSESSION_CLAIM),
            False,
            id="notice-and-claim-are-no-order",
        ),
        pytest.param(
            (
                S.ADVICE_OR_VERBAL_WARNING,
                S.NOTICE_OF_SEEKING_POSSESSION,
                S.POSSESSION_CLAIM,
                S.OUTCOME_DISMISSED,
            ),
            False,
            id="dismissed-claim-no-order",
        ),
        pytest.param(
            (S.NOTICE_OF_SEEKING_POSSESSION, S.POSSESSION_CLAIM, S.OUTCOME_SUSPENDED),
            True,
            id="suspended-order",
        ),
        pytest.param(GRANTED, True, id="order-granted"),
    ],
)
def test_a_breach_only_after_an_order_or_agreement(
    history: tuple[EnforcementStep, ...], allowed: bool
) -> None:
    decided = _decide(S.BREACH_REPORTED, history, skip_reason=SKIP_REASON, serious=True)
    if allowed:
        assert isinstance(decided, Decision)
    else:
        assert _code(decided) is R.STEP_NOT_ALLOWED_NOW


@pytest.mark.parametrize(
    "step",
    sorted(
        step
        for step, route in ROUTE_OF_STEP.items()
        if route is T and step not in (S.BREACH_REPORTED, S.EX_PARTE_INJUNCTION)
    ),
)
def test_an_outright_possession_order_ends_the_ladder(step: EnforcementStep) -> None:
    assert _code(_decide(step, GRANTED, skip_reason=SKIP_REASON)) is R.STEP_NOT_ALLOWED_NOW


# Who decides (4.2, 4.3): roles, and two people for notice and possession.


@pytest.mark.parametrize("step", sorted(TWO_PEOPLE))
@pytest.mark.parametrize(
    ("deciders", "expected"),
    [
        pytest.param((LEGAL,), R.SECOND_DECIDER_NEEDED, id="one-person"),
        pytest.param((LEGAL, LEGAL), R.SECOND_DECIDER_NEEDED, id="same-person-twice"),
        pytest.param(
            (LEGAL, Decider("legal-1", frozenset({Role.MANAGER}))),
            R.SECOND_DECIDER_NEEDED,
            id="same-person-in-another-role",
        ),
        pytest.param(
            (LEGAL, Decider(" legal-1 ", frozenset({Role.LEGAL_OFFICER}))),
            R.SECOND_DECIDER_NEEDED,
            id="same-person-with-spaces",
        ),
        pytest.param((LEGAL, MANAGER), None, id="legal-officer-and-manager"),
        pytest.param((LEGAL, LEGAL_2), None, id="two-legal-officers"),
        pytest.param((MANAGER, MANAGER_2), None, id="two-managers"),
        pytest.param((LEGAL, CASEWORKER), R.DECIDER_ROLE, id="second-without-the-role"),
        pytest.param((), R.DECIDER_NEEDED, id="nobody"),
    ],
)
def test_notice_and_possession_need_two_different_people(
    step: EnforcementStep, deciders: tuple[Decider, ...], expected: RefusalCode | None
) -> None:
    outcome = _decide(step, IN_ORDER[step], deciders=deciders)
    assert _code(outcome) is expected
    if isinstance(outcome, Decision):
        assert set(outcome.decided_by) == {decider.subject for decider in deciders}


@pytest.mark.parametrize("step", sorted(set(S) - TWO_PEOPLE))
def test_other_steps_need_one_person(step: EnforcementStep) -> None:
    outcome = _decide(step, IN_ORDER[step], danger=True, deciders=DECIDERS[step][:1])
    assert isinstance(outcome, Decision)
    assert len(outcome.decided_by) == 1


SINGLE_ROLE_DECIDERS = [LEGAL, MANAGER, P_AND_L, CASEWORKER] + [
    Decider(f"{role.value}-1", frozenset({role}))
    for role in (Role.ADVISER, Role.SAFEGUARDING_LEAD, Role.AUDITOR, Role.SYSTEM)
]


@pytest.mark.parametrize(
    ("step", "decider"),
    list(product(S, SINGLE_ROLE_DECIDERS)),
    ids=lambda value: value.value if isinstance(value, EnforcementStep) else value.subject,
)
def test_only_the_roles_the_policy_names_decide(step: EnforcementStep, decider: Decider) -> None:
    # 4.2: the Community Safety Team's legal action (legal officer, manager); 1.3 contract
    # management and 2.6 handing over to disciplinary: a manager; 4.3: People and Learning.
    deciders = (decider, Decider(f"{decider.subject}-colleague", decider.roles))
    outcome = _decide(step, IN_ORDER[step], danger=True, deciders=deciders)
    if decider.roles & ROLES[step]:
        assert isinstance(outcome, Decision)
    else:
        assert _code(outcome) is R.DECIDER_ROLE


def test_a_decision_records_why() -> None:
    assert _code(_decide(S.ADVICE_OR_VERBAL_WARNING, (), reason=" ")) is R.REASON_NEEDED


# The ex parte injunction's 24 hours from the report (3.3.1).


@pytest.mark.parametrize(
    ("after_report", "within"),
    [
        pytest.param(timedelta(hours=1), True, id="first-hour"),
        pytest.param(timedelta(hours=23, minutes=59), True, id="just-in-time"),
        pytest.param(timedelta(hours=24), True, id="at-24-hours"),
        pytest.param(timedelta(hours=24, minutes=1), False, id="late-but-still-decided"),
        pytest.param(timedelta(days=3), False, id="days-late"),
    ],
)
def test_ex_parte_target_is_24_hours_from_the_report(after_report: timedelta, within: bool) -> None:
    now = REPORTED + after_report
    outcome = _decide(S.EX_PARTE_INJUNCTION, (), danger=True, now=now)
    assert isinstance(outcome, Decision)
    assert outcome.target_at == REPORTED + timedelta(hours=24)
    assert outcome.within_target is within
    assert outcome.review_at == now + timedelta(days=7)


@pytest.mark.parametrize("step", sorted(set(S) - {S.EX_PARTE_INJUNCTION}))
def test_no_other_step_has_a_target_from_the_report(step: EnforcementStep) -> None:
    outcome = _decide(step, IN_ORDER[step])
    assert isinstance(outcome, Decision)
    assert (outcome.target_at, outcome.within_target) == (None, None)


# Staff (2.6, 4.3): handed over; then milestones only.


def test_staff_route_only_hands_over_and_sees_milestones() -> None:
    for step in set(S) - {
        S.DISCIPLINARY_HANDED_OVER,
        S.DISCIPLINARY_MILESTONE,
        S.DISCIPLINARY_CONCLUDED,
    }:
        assert _code(_decide(step, (), route=SD, danger=True)) is R.STEP_NOT_ON_ROUTE
    handed = (S.DISCIPLINARY_HANDED_OVER,)
    milestone = _decide(S.DISCIPLINARY_MILESTONE, handed, level=L.NONE)
    assert isinstance(milestone, Decision)
    assert milestone.decided_by == ("people-1",)
    assert _code(_decide(S.DISCIPLINARY_MILESTONE, handed, deciders=(MANAGER,))) is (R.DECIDER_ROLE)
    assert _code(_decide(S.DISCIPLINARY_MILESTONE, ())) is R.STEP_NOT_ALLOWED_NOW
    assert _code(_decide(S.DISCIPLINARY_HANDED_OVER, handed)) is R.STEP_NOT_ALLOWED_NOW
    done = (*handed, S.DISCIPLINARY_CONCLUDED)
    assert _code(_decide(S.DISCIPLINARY_MILESTONE, done)) is R.STEP_NOT_ALLOWED_NOW


# Routes (2.6, 1.3).


def test_every_step_has_one_rule_on_the_route_this_file_expects() -> None:
    assert set(STEP_RULES) == set(S) == set(ROUTE_OF_STEP)
    assert {step: rule.route for step, rule in STEP_RULES.items()} == ROUTE_OF_STEP


def test_every_perpetrator_kind_has_a_route() -> None:
    # Guard for new PerpetratorKind members: ROUTE_OF_KIND must be extended.
    assert set(P) == set(ROUTE_OF_KIND)
    assert {kind: route_for(kind) for kind in P} == ROUTE_OF_KIND


def test_a_perpetrator_kind_this_vocabulary_does_not_know_has_no_route() -> None:
    newer = P("volunteer")
    assert route_for(newer) is None
    assert routes_for([newer, P.CUSTOMER]) == {T: P.CUSTOMER}


def test_one_route_per_kind_of_perpetrator() -> None:
    assert routes_for([P.CUSTOMER, P.CUSTOMER, P.NOT_CUSTOMER, P.UNKNOWN, P.STAFF]) == {
        T: P.CUSTOMER,
        PC: P.NOT_CUSTOMER,
        SD: P.STAFF,
    }


# Item 5: an enforcement record only where the policy says.

TRACKS_WITHOUT_ENFORCEMENT = {
    Track.ONLINE_ADVICE_ONLY,  # 3.1: advice only
    Track.CROSS_REFERRAL,  # 1.2: another policy
    Track.HATE_CRIME_REPORTING_CENTRE,  # 3.2.6: advice and referrals for non-customers
}
KINDS_NAMED = [
    (),
    (P.CUSTOMER,),
    (P.NOT_CUSTOMER,),
    (P.UNKNOWN,),
    (P.ACTING_FOR_LANDLORD,),
    (P.STAFF,),
    (P.CUSTOMER, P.STAFF),
]


@pytest.mark.parametrize(
    ("track", "classification", "validity_confirmed", "kinds"),
    list(product(Track, Classification, (False, True), KINDS_NAMED)),
)
def test_opens_enforcement(
    track: Track,
    classification: Classification,
    validity_confirmed: bool,
    kinds: tuple[PerpetratorKind, ...],
) -> None:
    expected = (
        track not in TRACKS_WITHOUT_ENFORCEMENT
        and (track is not Track.ANONYMOUS_VALIDITY_CHECK or validity_confirmed)  # 3.2.5
        and bool(kinds)
    )
    opened = opens_enforcement(
        track=track,
        classification=classification,
        perpetrator_kinds=kinds,
        validity_confirmed=validity_confirmed,
    )
    assert opened is expected


@pytest.mark.parametrize(
    ("track", "classification", "kinds"),
    [
        pytest.param(Track("restorative_justice"), Classification.HATE_CRIME, [P.CUSTOMER]),
        pytest.param(Track.CUSTOMER_CASE, Classification("hate_speech"), [P.CUSTOMER]),
        pytest.param(Track.CUSTOMER_CASE, Classification.HATE_CRIME, [P("volunteer")]),
    ],
)
def test_values_this_vocabulary_does_not_know_open_no_enforcement(
    track: Track, classification: Classification, kinds: list[PerpetratorKind]
) -> None:
    opened = opens_enforcement(
        track=track,
        classification=classification,
        perpetrator_kinds=kinds,
        validity_confirmed=True,
    )
    assert opened is False


# Item 5: a further report adds to the same perpetrator's case.

CASE = uuid.uuid4()
OTHER_CASE = uuid.uuid4()
TENANT = Perpetrator(P.CUSTOMER, "TEN-0042")
OPEN = [
    OpenCase(uuid.uuid4(), OTHER_CASE, T, TENANT),
    OpenCase(uuid.uuid4(), CASE, T, Perpetrator(P.CUSTOMER, None)),
    OpenCase(uuid.uuid4(), CASE, SD, Perpetrator(P.STAFF, "EMP-7")),
]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param(TENANT, Perpetrator(P.CUSTOMER, " ten-0042 "), True, id="same-reference"),
        pytest.param(TENANT, Perpetrator(P.CUSTOMER, "TEN-0043"), False, id="other-tenant"),
        pytest.param(TENANT, Perpetrator(P.CUSTOMER), False, id="unidentified"),
        pytest.param(Perpetrator(P.CUSTOMER), Perpetrator(P.CUSTOMER), False, id="both-unknown"),
        pytest.param(TENANT, Perpetrator(P.STAFF, "TEN-0042"), False, id="other-route"),
        pytest.param(
            Perpetrator(P.NOT_CUSTOMER, "PNC-1"),
            Perpetrator(P.UNKNOWN, "PNC-1"),
            True,
            id="same-outsider",
        ),
    ],
)
def test_same_perpetrator(a: Perpetrator, b: Perpetrator, same: bool) -> None:
    assert same_perpetrator(a, b) is same
    assert same_perpetrator(b, a) is same


def test_a_further_report_joins_the_same_perpetrators_case_from_any_case() -> None:
    joined = case_to_join(Perpetrator(P.CUSTOMER, "ten-0042"), case_id=CASE, open_cases=OPEN)
    assert joined == OPEN[0].enforcement_case_id


def test_a_further_report_about_someone_unidentified_joins_its_own_cases_route() -> None:
    joined = case_to_join(Perpetrator(P.CUSTOMER), case_id=CASE, open_cases=OPEN)
    assert joined == OPEN[1].enforcement_case_id
    identified = case_to_join(Perpetrator(P.CUSTOMER, "TEN-0099"), case_id=CASE, open_cases=OPEN)
    assert identified == OPEN[1].enforcement_case_id  # that case's perpetrator is unidentified


def test_a_report_about_someone_else_opens_a_new_case() -> None:
    assert case_to_join(Perpetrator(P.STAFF, "EMP-8"), case_id=OTHER_CASE, open_cases=OPEN) is None
    assert case_to_join(
        Perpetrator(P.CUSTOMER, "TEN-0099"), case_id=OTHER_CASE, open_cases=OPEN
    ) is (None)
    assert case_to_join(Perpetrator(P.STAFF, "EMP-7"), case_id=OTHER_CASE, open_cases=OPEN) == (
        OPEN[2].enforcement_case_id
    )
