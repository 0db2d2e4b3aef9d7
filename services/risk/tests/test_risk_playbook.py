"""Risk's pure rules against the policy: first risk level, the immediate-danger playbook
(3.3.1 and design.md's table), secondary actions (3.3.2) and capacity (1.6.2)."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from hhc_contracts.vocabulary import (
    ActionKind,
    AppliesTo,
    Classification,
    Executor,
    IncidentCategory,
    Partner,
    PerpetratorKind,
    RiskLevel,
    Track,
)
from hhc_risk.playbook import (
    NOW,
    CaseFacts,
    PlannedAction,
    first_risk_level,
    immediate_danger_actions,
    plan_actions,
    secondary_actions,
    support_partner,
)

K = ActionKind
ALL, CUSTOMERS = AppliesTo.ALL_REPORTEES, AppliesTo.CUSTOMERS_ONLY
DAY = timedelta(hours=24)

# design.md, "Immediate danger playbook (3.3.1) and who it applies to".
DESIGN_APPLIES_TO = {
    K.INFORM_EMERGENCY_SERVICES: ALL,
    K.VISIT_WITH_RISK_ASSESSMENT: CUSTOMERS,
    K.SAFEGUARDING_ALERT: ALL,
    K.HOUSING_OPTIONS_REFERRAL: CUSTOMERS,
    K.FEMALE_ONLY_STAFF: CUSTOMERS,
    K.TARGET_HARDENING: CUSTOMERS,
    K.EX_PARTE_INJUNCTION: CUSTOMERS,
    K.FIRE_AUTHORITY_REFERRAL: ALL,
}
IMMEDIATE_KINDS = set(DESIGN_APPLIES_TO)
SECONDARY_KINDS = {
    K.SUPPORT_AND_ADVOCACY_REFERRAL,
    K.PERPETRATOR_ENFORCEMENT,
    K.CAPACITY_ASSESSMENT_REQUEST,
    K.REHOUSING_EVIDENCE,
    K.REHOUSING_ADVICE,
    K.INDEPENDENT_LIVING_REFERRAL,
}

REQUIRED_AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def case(**overrides: object) -> CaseFacts:
    base = CaseFacts(
        survivor_is_customer=True,
        immediate_danger=False,
        classification=Classification.HARASSMENT,
        track=Track.CUSTOMER_CASE,
        categories=frozenset({IncidentCategory.VERBAL_ABUSE}),
        perpetrator_kinds=frozenset({PerpetratorKind.UNKNOWN}),
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


EVERY_CONDITION = {
    "vulnerable_adult": True,
    "children_in_household": True,
    "female_staff_requested": True,
    "categories": frozenset({IncidentCategory.ARSON, IncidentCategory.PHYSICAL_ATTACK}),
}


def summary(action: PlannedAction) -> tuple[ActionKind, AppliesTo, Executor, timedelta, object]:
    return (action.kind, action.applies_to, action.carried_out_by, action.due_in, action.partner)


# --------------------------------------------------------------------------- risk level


@pytest.mark.parametrize(
    ("facts", "level", "reasons"),
    [
        pytest.param(
            case(immediate_danger=True),
            RiskLevel.HIGH,
            ["immediate danger reported (3.3.1)"],
            id="danger-harassment",
        ),
        pytest.param(
            case(immediate_danger=True, classification=Classification.HATE_CRIME),
            RiskLevel.HIGH,
            ["immediate danger reported (3.3.1)"],
            id="danger-hate-crime",
        ),
        pytest.param(
            case(immediate_danger=True, survivor_is_customer=False),
            RiskLevel.HIGH,
            ["immediate danger reported (3.3.1)"],
            id="danger-non-customer",
        ),
        pytest.param(
            case(immediate_danger=True, track=Track.ONLINE_ADVICE_ONLY),
            RiskLevel.HIGH,
            ["immediate danger reported (3.3.1)"],
            id="danger-online-advice-track",
        ),
        pytest.param(
            case(classification=Classification.HATE_CRIME),
            RiskLevel.MEDIUM,
            ["hate crime (3.1.3)"],
            id="hate-crime",
        ),
        pytest.param(
            case(vulnerable_adult=True),
            RiskLevel.MEDIUM,
            ["vulnerable adult or children involved"],
            id="harassment-vulnerable-adult",
        ),
        pytest.param(
            case(classification=Classification.HATE_INCIDENT, children_in_household=True),
            RiskLevel.MEDIUM,
            ["vulnerable adult or children involved"],
            id="hate-incident-children",
        ),
        pytest.param(
            case(classification=Classification.HATE_CRIME, vulnerable_adult=True),
            RiskLevel.MEDIUM,
            ["hate crime (3.1.3)", "vulnerable adult or children involved"],
            id="hate-crime-and-vulnerable",
        ),
        pytest.param(
            case(),
            RiskLevel.STANDARD,
            ["no aggravating factor in the report"],
            id="harassment-nothing-else",
        ),
        pytest.param(
            case(classification=Classification.HATE_INCIDENT),
            RiskLevel.STANDARD,
            ["no aggravating factor in the report"],
            id="hate-incident-nothing-else",
        ),
    ],
)
def test_first_risk_level(facts: CaseFacts, level: RiskLevel, reasons: list[str]) -> None:
    assert first_risk_level(facts) == (level, reasons)


@pytest.mark.parametrize("classification", list(Classification), ids=str)
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
@pytest.mark.parametrize("track", list(Track), ids=str)
def test_immediate_danger_is_always_high(
    classification: Classification, customer: bool, track: Track
) -> None:
    facts = case(
        immediate_danger=True,
        classification=classification,
        survivor_is_customer=customer,
        track=track,
    )
    assert first_risk_level(facts)[0] is RiskLevel.HIGH


# --------------------------------------------------------------------------- 3.3.1 playbook


def test_now_is_a_short_grace() -> None:
    assert timedelta(0) < NOW <= timedelta(hours=1)
    assert NOW < DAY


def test_customer_in_immediate_danger_with_every_condition_gets_the_whole_playbook() -> None:
    actions = immediate_danger_actions(case(immediate_danger=True, **EVERY_CONDITION))
    assert [summary(a) for a in actions] == [
        (K.INFORM_EMERGENCY_SERVICES, ALL, Executor.REFERRALS, NOW, Partner.EMERGENCY_SERVICES),
        (K.VISIT_WITH_RISK_ASSESSMENT, CUSTOMERS, Executor.LANDLORD, DAY, None),
        (K.SAFEGUARDING_ALERT, ALL, Executor.REFERRALS, NOW, Partner.ADULT_SOCIAL_SERVICES),
        (K.SAFEGUARDING_ALERT, ALL, Executor.REFERRALS, NOW, Partner.CHILDRENS_SOCIAL_SERVICES),
        (K.HOUSING_OPTIONS_REFERRAL, CUSTOMERS, Executor.REFERRALS, DAY, Partner.HOUSING_OPTIONS),
        (K.FEMALE_ONLY_STAFF, CUSTOMERS, Executor.LANDLORD, NOW, None),
        (K.TARGET_HARDENING, CUSTOMERS, Executor.LANDLORD, DAY, None),
        (K.EX_PARTE_INJUNCTION, CUSTOMERS, Executor.ENFORCEMENT, DAY, None),
        (K.FIRE_AUTHORITY_REFERRAL, ALL, Executor.REFERRALS, NOW, Partner.FIRE_AUTHORITY),
    ]
    # The eight kinds of 3.3.1; safeguarding twice (adult and children).
    assert {a.kind for a in actions} == IMMEDIATE_KINDS
    assert len(IMMEDIATE_KINDS) == 8
    assert [a.kind for a in actions].count(K.SAFEGUARDING_ALERT) == 2


@pytest.mark.parametrize(
    "action",
    immediate_danger_actions(case(immediate_danger=True, **EVERY_CONDITION)),
    ids=lambda a: f"{a.kind}-{a.partner}" if a.partner else str(a.kind),
)
def test_each_playbook_action_matches_design_table(action: PlannedAction) -> None:
    assert action.applies_to is DESIGN_APPLIES_TO[action.kind]
    assert action.clause.startswith("3.3.1")
    # Whatever an external agency does goes through the referrals service.
    assert (action.partner is not None) == (action.carried_out_by is Executor.REFERRALS)


def test_target_hardening_cites_the_community_safety_team() -> None:
    actions = immediate_danger_actions(case(immediate_danger=True))
    (hardening,) = [a for a in actions if a.kind is K.TARGET_HARDENING]
    assert hardening.clause == "3.3.1, 4.2"


@pytest.mark.parametrize(
    ("condition", "kind", "partner"),
    [
        pytest.param(
            {"vulnerable_adult": True},
            K.SAFEGUARDING_ALERT,
            Partner.ADULT_SOCIAL_SERVICES,
            id="vulnerable-adult-adult-safeguarding",
        ),
        pytest.param(
            {"children_in_household": True},
            K.SAFEGUARDING_ALERT,
            Partner.CHILDRENS_SOCIAL_SERVICES,
            id="children-child-safeguarding",
        ),
        pytest.param(
            {"female_staff_requested": True},
            K.FEMALE_ONLY_STAFF,
            None,
            id="on-request-female-staff",
        ),
        pytest.param(
            {"categories": frozenset({IncidentCategory.ARSON})},
            K.FIRE_AUTHORITY_REFERRAL,
            Partner.FIRE_AUTHORITY,
            id="arson-fire-authority",
        ),
    ],
)
def test_conditional_playbook_actions_follow_their_condition(
    condition: dict[str, object], kind: ActionKind, partner: Partner | None
) -> None:
    without = immediate_danger_actions(case(immediate_danger=True))
    with_condition = immediate_danger_actions(case(immediate_danger=True, **condition))
    assert kind not in {a.kind for a in without}
    before = [summary(a) for a in without]
    added = [summary(a) for a in with_condition if summary(a) not in before]
    assert [(k, p) for k, _, _, _, p in added] == [(kind, partner)]


def test_customer_in_immediate_danger_without_conditions() -> None:
    actions = immediate_danger_actions(case(immediate_danger=True))
    assert [a.kind for a in actions] == [
        K.INFORM_EMERGENCY_SERVICES,
        K.VISIT_WITH_RISK_ASSESSMENT,
        K.HOUSING_OPTIONS_REFERRAL,
        K.TARGET_HARDENING,
        K.EX_PARTE_INJUNCTION,
    ]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        pytest.param(
            EVERY_CONDITION,
            [
                (K.INFORM_EMERGENCY_SERVICES, Partner.EMERGENCY_SERVICES),
                (K.SAFEGUARDING_ALERT, Partner.ADULT_SOCIAL_SERVICES),
                (K.SAFEGUARDING_ALERT, Partner.CHILDRENS_SOCIAL_SERVICES),
                (K.FIRE_AUTHORITY_REFERRAL, Partner.FIRE_AUTHORITY),
            ],
            id="every-condition",
        ),
        pytest.param(
            {}, [(K.INFORM_EMERGENCY_SERVICES, Partner.EMERGENCY_SERVICES)], id="no-condition"
        ),
        pytest.param(
            {"female_staff_requested": True},
            [(K.INFORM_EMERGENCY_SERVICES, Partner.EMERGENCY_SERVICES)],
            id="female-staff-requested-is-customers-only",
        ),
    ],
)
def test_non_customer_in_immediate_danger_gets_only_all_reportee_actions(
    conditions: dict[str, object], expected: list[tuple[ActionKind, Partner]]
) -> None:
    facts = case(
        immediate_danger=True,
        survivor_is_customer=False,
        track=Track.HATE_CRIME_REPORTING_CENTRE,
        **conditions,
    )
    actions = immediate_danger_actions(facts)
    assert [(a.kind, a.partner) for a in actions] == expected
    assert all(a.applies_to is ALL for a in actions)
    planned = plan_actions(facts)
    assert not [a for a in planned if a.applies_to is CUSTOMERS]


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(case(**EVERY_CONDITION), id="customer-every-condition"),
        pytest.param(
            case(survivor_is_customer=False, **EVERY_CONDITION), id="non-customer-every-condition"
        ),
        pytest.param(
            case(
                classification=Classification.HATE_CRIME,
                perpetrator_kinds=frozenset({PerpetratorKind.CUSTOMER}),
            ),
            id="hate-crime-customer-perpetrator",
        ),
    ],
)
def test_without_immediate_danger_only_secondary_actions(facts: CaseFacts) -> None:
    planned = plan_actions(facts)
    assert planned == secondary_actions(facts)
    assert planned, "a case off the online-advice track always gets some support"
    assert {a.kind for a in planned} <= SECONDARY_KINDS
    assert not {a.kind for a in planned} & IMMEDIATE_KINDS


@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_immediate_danger_plans_playbook_then_secondary(customer: bool) -> None:
    facts = case(immediate_danger=True, survivor_is_customer=customer, **EVERY_CONDITION)
    assert plan_actions(facts) == immediate_danger_actions(facts) + secondary_actions(facts)


# --------------------------------------------------------------------------- 3.3.2 secondary


@pytest.mark.parametrize(
    ("classification", "partner"),
    [
        pytest.param(Classification.HARASSMENT, Partner.SURVIVOR_SUPPORT, id="harassment"),
        pytest.param(Classification.HATE_INCIDENT, Partner.STOP_HATE_UK, id="hate-incident"),
        pytest.param(Classification.HATE_CRIME, Partner.STOP_HATE_UK, id="hate-crime"),
    ],
)
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_support_and_advocacy_partner(
    classification: Classification, partner: Partner, customer: bool
) -> None:
    facts = case(classification=classification, survivor_is_customer=customer)
    assert support_partner(facts) is partner
    support = [a for a in secondary_actions(facts) if a.kind is K.SUPPORT_AND_ADVOCACY_REFERRAL]
    assert [summary(a) for a in support] == [
        (K.SUPPORT_AND_ADVOCACY_REFERRAL, ALL, Executor.REFERRALS, timedelta(days=5), partner)
    ]
    assert support[0].clause == "3.3.2"


P = PerpetratorKind


@pytest.mark.parametrize(
    ("customer", "perpetrators", "expected"),
    [
        pytest.param(True, {P.CUSTOMER}, True, id="customer-vs-customer"),
        pytest.param(True, {P.CUSTOMER, P.STAFF}, True, id="customer-vs-customer-and-staff"),
        pytest.param(True, {P.CUSTOMER, P.UNKNOWN}, True, id="customer-vs-customer-and-unknown"),
        pytest.param(True, {P.STAFF}, False, id="customer-vs-staff"),
        pytest.param(True, {P.ACTING_FOR_LANDLORD}, False, id="customer-vs-acting-for-landlord"),
        pytest.param(True, {P.NOT_CUSTOMER}, False, id="customer-vs-not-customer"),
        pytest.param(True, {P.UNKNOWN}, False, id="customer-vs-unknown"),
        pytest.param(True, set(), False, id="customer-vs-nobody-named"),
        pytest.param(False, {P.CUSTOMER}, False, id="non-customer-vs-customer"),
        pytest.param(False, {P.NOT_CUSTOMER}, False, id="non-customer-vs-not-customer"),
    ],
)
def test_perpetrator_enforcement_only_for_customer_survivor_and_customer_perpetrator(
    customer: bool, perpetrators: set[PerpetratorKind], expected: bool
) -> None:
    facts = case(survivor_is_customer=customer, perpetrator_kinds=frozenset(perpetrators))
    enforcement = [a for a in secondary_actions(facts) if a.kind is K.PERPETRATOR_ENFORCEMENT]
    if not expected:
        assert enforcement == []
        return
    assert [summary(a) for a in enforcement] == [
        (K.PERPETRATOR_ENFORCEMENT, CUSTOMERS, Executor.ENFORCEMENT, timedelta(days=10), None)
    ]
    assert enforcement[0].clause == "3.3.2, 2.5"


@pytest.mark.parametrize("danger", [False, True], ids=["no-danger", "danger"])
@pytest.mark.parametrize("concern", [False, True], ids=["no-concern", "capacity-concern"])
def test_capacity_concern_requests_an_assessment(danger: bool, concern: bool) -> None:
    """1.6.2: capacity is assumed; where a lack is suspected, a professional assessment."""
    facts = case(immediate_danger=danger, capacity_concern=concern)
    requests = [a for a in plan_actions(facts) if a.kind is K.CAPACITY_ASSESSMENT_REQUEST]
    if not concern:
        assert requests == []
        return
    assert [summary(a) for a in requests] == [
        (
            K.CAPACITY_ASSESSMENT_REQUEST,
            ALL,
            Executor.REFERRALS,
            timedelta(days=5),
            Partner.CAPACITY_PRACTITIONER,
        )
    ]
    assert requests[0].clause == "1.6.2"


# --------------------------------------------------------------------------- tracks


@pytest.mark.parametrize("classification", list(Classification), ids=str)
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_online_advice_only_without_danger_plans_nothing(
    classification: Classification, customer: bool
) -> None:
    """3.1: advice only (given by intake); personal communications not investigated."""
    facts = case(
        track=Track.ONLINE_ADVICE_ONLY,
        classification=classification,
        survivor_is_customer=customer,
        categories=frozenset({IncidentCategory.ONLINE_ABUSE}),
        perpetrator_kinds=frozenset({PerpetratorKind.CUSTOMER}),
        capacity_concern=True,
        vulnerable_adult=True,
    )
    assert plan_actions(facts) == []


def test_online_advice_only_with_danger_still_gets_the_playbook() -> None:
    facts = case(
        track=Track.ONLINE_ADVICE_ONLY,
        immediate_danger=True,
        categories=frozenset({IncidentCategory.ONLINE_ABUSE}),
    )
    kinds = [a.kind for a in plan_actions(facts)]
    assert kinds[0] is K.INFORM_EMERGENCY_SERVICES
    assert K.VISIT_WITH_RISK_ASSESSMENT in kinds


# 3.3.2 and 3.2.6 (referrals to Stop Hate UK). Staff grievance (4.3), anonymous validity
# checks (3.2.5) and third-party discreet contact (3.2.4) are left out on purpose: whether
# they should plan support before the grievance route / validity / confirmation is open.
@pytest.mark.parametrize(
    "track",
    [Track.CUSTOMER_CASE, Track.HATE_CRIME_REPORTING_CENTRE, Track.PERPETRATOR_INVESTIGATION],
    ids=str,
)
def test_other_tracks_without_danger_get_a_support_referral(track: Track) -> None:
    kinds = [a.kind for a in plan_actions(case(track=track))]
    assert K.SUPPORT_AND_ADVOCACY_REFERRAL in kinds


# --------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize(
    ("kind", "partner", "due"),
    [
        pytest.param(
            K.INFORM_EMERGENCY_SERVICES,
            Partner.EMERGENCY_SERVICES,
            REQUIRED_AT + NOW,
            id="emergency-services-now",
        ),
        pytest.param(
            K.VISIT_WITH_RISK_ASSESSMENT,
            None,
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            id="visit-within-24h",
        ),
        pytest.param(
            K.SAFEGUARDING_ALERT,
            Partner.CHILDRENS_SOCIAL_SERVICES,
            REQUIRED_AT + NOW,
            id="child-safeguarding-now",
        ),
        pytest.param(
            K.FIRE_AUTHORITY_REFERRAL, Partner.FIRE_AUTHORITY, REQUIRED_AT + NOW, id="fire-now"
        ),
        pytest.param(
            K.SUPPORT_AND_ADVOCACY_REFERRAL,
            Partner.STOP_HATE_UK,
            datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
            id="support-referral-5-days",
        ),
        pytest.param(
            K.PERPETRATOR_ENFORCEMENT,
            None,
            datetime(2026, 3, 11, 10, 0, tzinfo=UTC),
            id="perpetrator-enforcement-10-days",
        ),
    ],
)
def test_due_at(kind: ActionKind, partner: Partner | None, due: datetime) -> None:
    facts = case(
        immediate_danger=True,
        classification=Classification.HATE_CRIME,
        perpetrator_kinds=frozenset({PerpetratorKind.CUSTOMER}),
        **EVERY_CONDITION,
    )
    (action,) = [a for a in plan_actions(facts) if a.kind is kind and a.partner is partner]
    assert action.due_at(REQUIRED_AT) == due


@pytest.mark.parametrize(
    "action",
    plan_actions(
        case(
            immediate_danger=True,
            perpetrator_kinds=frozenset({PerpetratorKind.CUSTOMER}),
            capacity_concern=True,
            **EVERY_CONDITION,
        )
    ),
    ids=lambda a: f"{a.kind}-{a.partner}" if a.partner else str(a.kind),
)
def test_due_at_is_required_at_plus_due_in(action: PlannedAction) -> None:
    assert action.due_at(REQUIRED_AT) == REQUIRED_AT + action.due_in
    assert action.due_in > timedelta(0)
    if action.kind in IMMEDIATE_KINDS:
        # 3.3.1 is the immediate response: nothing in it waits more than the 24h visit.
        assert action.due_in <= DAY
