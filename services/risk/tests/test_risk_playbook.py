"""Risk's pure rules against the policy: the first assessment, the immediate-danger playbook
(3.3.1 and design.md's table), each track's first step (1.2, 3.1 and 3.2.6 advice, 3.2.4,
3.2.5, 4.3), secondary actions (3.3.2, with the Hate Crime Reporting Centre's referrals of
3.2.6) and capacity (1.6.2)."""

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
    PerceivedMotivation,
    PerpetratorKind,
    RiskLevel,
    Track,
)
from hhc_risk.assessment import QUESTIONS, Assessment, answers_from_report, assess
from hhc_risk.playbook import (
    IMMEDIATE_DANGER_PLAYBOOK,
    NOW,
    CaseFacts,
    PlannedAction,
    PlaybookEntry,
    first_assessment,
    immediate_danger_actions,
    plan_actions,
    report_answers,
    secondary_actions,
    support_partners,
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
    K.POLICE_REFERRAL,  # 3.2.6, for a non-customer survivor of a hate crime
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


# ... and someone to make an injunction against.
WHOLE_PLAYBOOK = {**EVERY_CONDITION, "perpetrator_kinds": frozenset({PerpetratorKind.CUSTOMER})}


def summary(action: PlannedAction) -> tuple[ActionKind, AppliesTo, Executor, timedelta, object]:
    return (action.kind, action.applies_to, action.carried_out_by, action.due_in, action.partner)


# --------------------------------------------------------------------------- first assessment

TEXT = {question.key: question.text for question in QUESTIONS}
DANGER_REASON = "Immediate danger (3.3.1)"
C = IncidentCategory


@pytest.mark.parametrize(
    ("facts", "level", "score", "reasons"),
    [
        pytest.param(
            case(immediate_danger=True),
            RiskLevel.HIGH,
            3,
            [DANGER_REASON, TEXT["fear_for_safety"]],
            id="danger-harassment",
        ),
        pytest.param(
            case(immediate_danger=True, survivor_is_customer=False),
            RiskLevel.HIGH,
            3,
            [DANGER_REASON, TEXT["fear_for_safety"]],
            id="danger-non-customer",
        ),
        pytest.param(
            case(
                immediate_danger=True,
                classification=Classification.HATE_CRIME,
                categories=frozenset({C.PHYSICAL_ATTACK}),
            ),
            RiskLevel.HIGH,
            3 + 5 + 3,
            [
                DANGER_REASON,
                TEXT["fear_for_safety"],
                TEXT["use_of_violence"],
                TEXT["hate_motivation"],
            ],
            id="danger-hate-crime-attack",
        ),
        pytest.param(case(), RiskLevel.STANDARD, 0, [], id="harassment-nothing-else"),
        pytest.param(
            case(classification=Classification.HATE_INCIDENT),
            RiskLevel.STANDARD,
            3,
            [TEXT["hate_motivation"]],
            id="hate-incident-nothing-else",
        ),
        pytest.param(
            case(vulnerable_adult=True),
            RiskLevel.STANDARD,
            3,
            [TEXT["vulnerability"]],
            id="vulnerable-adult-alone",
        ),
        pytest.param(
            case(children_in_household=True),
            RiskLevel.STANDARD,
            2,
            [TEXT["children_in_household"]],
            id="children-alone",
        ),
        pytest.param(
            case(ongoing=True, vulnerable_adult=True),
            RiskLevel.MEDIUM,
            6,
            [TEXT["repeat_victimisation"], TEXT["vulnerability"]],
            id="ongoing-vulnerable",
        ),
        pytest.param(
            case(
                classification=Classification.HATE_CRIME,
                categories=frozenset({C.THREATS_OF_VIOLENCE}),
            ),
            RiskLevel.MEDIUM,
            4 + 3,
            [TEXT["threats_of_violence"], TEXT["hate_motivation"]],
            id="hate-crime-threats",
        ),
        pytest.param(
            case(
                classification=Classification.HATE_CRIME,
                categories=frozenset({C.THREATS_OF_VIOLENCE}),
                ongoing=True,
                vulnerable_adult=True,
                children_in_household=True,
            ),
            RiskLevel.HIGH,
            3 + 3 + 2 + 4 + 3,
            [
                TEXT["repeat_victimisation"],
                TEXT["vulnerability"],
                TEXT["children_in_household"],
                TEXT["threats_of_violence"],
                TEXT["hate_motivation"],
            ],
            id="high-by-score",
        ),
        pytest.param(
            case(categories=frozenset({C.PHYSICAL_ATTACK})),
            RiskLevel.HIGH,
            5,
            [TEXT["use_of_violence"]],
            id="physical-attack-makes-high",
        ),
        pytest.param(
            case(categories=frozenset({C.ARSON})),
            RiskLevel.HIGH,
            5,
            [TEXT["arson"]],
            id="arson-makes-high",
        ),
        pytest.param(
            case(
                categories=frozenset({C.GRAFFITI, C.DAMAGE_TO_PROPERTY, C.VERBAL_ABUSE}),
                female_staff_requested=True,
                capacity_concern=True,
                perpetrator_kinds=frozenset({PerpetratorKind.CUSTOMER}),
            ),
            RiskLevel.STANDARD,
            0,
            [],
            id="facts-that-are-not-questions-score-nothing",
        ),
    ],
)
def test_first_assessment(
    facts: CaseFacts, level: RiskLevel, score: int, reasons: list[str]
) -> None:
    assert first_assessment(facts) == Assessment(level, score, tuple(reasons))


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(case(), id="plain"),
        pytest.param(case(immediate_danger=True, **EVERY_CONDITION), id="danger-every-condition"),
        pytest.param(
            case(
                classification=Classification.HATE_INCIDENT,
                ongoing=True,
                children_in_household=True,
                categories=frozenset({C.THREATS_OF_VIOLENCE}),
            ),
            id="hate-incident-ongoing",
        ),
    ],
)
def test_first_assessment_is_the_matrix_on_what_the_report_answers(facts: CaseFacts) -> None:
    answers = answers_from_report(
        categories=facts.categories,
        classification=facts.classification,
        ongoing=facts.ongoing,
        vulnerable_adult=facts.vulnerable_adult,
        children_in_household=facts.children_in_household,
        immediate_danger=facts.immediate_danger,
    )
    assert report_answers(facts) == answers
    assert first_assessment(facts) == assess(
        report_answers(facts), immediate_danger=facts.immediate_danger
    )


@pytest.mark.parametrize(
    ("facts", "yes"),
    [
        pytest.param(case(), set(), id="plain-answers-no-to-everything"),
        pytest.param(
            case(
                immediate_danger=True,
                ongoing=True,
                classification=Classification.HATE_CRIME,
                **EVERY_CONDITION,
            ),
            {
                "repeat_victimisation",
                "vulnerability",
                "children_in_household",
                "fear_for_safety",
                "use_of_violence",
                "arson",
                "hate_motivation",
            },
            id="everything-a-report-can-say",
        ),
        pytest.param(
            case(
                categories=frozenset({C.THREATS_OF_VIOLENCE}),
                classification=Classification.HATE_INCIDENT,
            ),
            {"threats_of_violence", "hate_motivation"},
            id="threats-hate-incident",
        ),
        pytest.param(
            case(
                female_staff_requested=True,
                capacity_concern=True,
                perpetrator_kinds=frozenset({PerpetratorKind.CUSTOMER}),
                track=Track.CROSS_REFERRAL,
            ),
            set(),
            id="facts-that-are-not-questions-answer-nothing",
        ),
    ],
)
def test_report_answers(facts: CaseFacts, yes: set[str]) -> None:
    """What the report answers by itself, as the matrix's own question keys."""
    answers = report_answers(facts)
    assert set(answers) <= {question.key for question in QUESTIONS}
    assert {key for key, answer in answers.items() if answer} == yes
    assess(answers, immediate_danger=facts.immediate_danger)  # never UnknownQuestion


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
    assessment = first_assessment(facts)
    assert assessment.level is RiskLevel.HIGH
    assert assessment.reasons[0] == DANGER_REASON


# --------------------------------------------------------------------------- 3.3.1 playbook


def test_now_is_a_short_grace() -> None:
    assert timedelta(0) < NOW <= timedelta(hours=1)
    assert NOW < DAY


def test_playbook_table_is_the_policy_list_in_order() -> None:
    assert all(isinstance(entry, PlaybookEntry) for entry in IMMEDIATE_DANGER_PLAYBOOK)
    assert [(e.action.kind, e.action.partner) for e in IMMEDIATE_DANGER_PLAYBOOK] == [
        (K.INFORM_EMERGENCY_SERVICES, Partner.EMERGENCY_SERVICES),
        (K.VISIT_WITH_RISK_ASSESSMENT, None),
        (K.SAFEGUARDING_ALERT, Partner.ADULT_SOCIAL_SERVICES),
        (K.SAFEGUARDING_ALERT, Partner.CHILDRENS_SOCIAL_SERVICES),
        (K.HOUSING_OPTIONS_REFERRAL, Partner.HOUSING_OPTIONS),
        (K.FEMALE_ONLY_STAFF, None),
        (K.TARGET_HARDENING, None),
        (K.EX_PARTE_INJUNCTION, None),
        (K.FIRE_AUTHORITY_REFERRAL, Partner.FIRE_AUTHORITY),
    ]
    for entry in IMMEDIATE_DANGER_PLAYBOOK:
        assert entry.action.applies_to is DESIGN_APPLIES_TO[entry.action.kind]


@pytest.mark.parametrize(
    ("facts", "relevant"),
    [
        pytest.param(
            case(immediate_danger=True),
            [
                K.INFORM_EMERGENCY_SERVICES,
                K.VISIT_WITH_RISK_ASSESSMENT,
                K.HOUSING_OPTIONS_REFERRAL,
                K.TARGET_HARDENING,
            ],
            id="no-condition",
        ),
        pytest.param(
            case(immediate_danger=True, perpetrator_kinds=frozenset({PerpetratorKind.STAFF})),
            [
                K.INFORM_EMERGENCY_SERVICES,
                K.VISIT_WITH_RISK_ASSESSMENT,
                K.HOUSING_OPTIONS_REFERRAL,
                K.TARGET_HARDENING,
                K.EX_PARTE_INJUNCTION,
            ],
            id="known-perpetrator",
        ),
        pytest.param(
            case(immediate_danger=True, **WHOLE_PLAYBOOK),
            [entry.action.kind for entry in IMMEDIATE_DANGER_PLAYBOOK],
            id="every-condition",
        ),
    ],
)
def test_playbook_entries_relevance(facts: CaseFacts, relevant: list[ActionKind]) -> None:
    """Relevance is about the facts of the case, not who the survivor is (that is applies_to)."""
    for customer in (True, False):
        facts = dataclasses.replace(facts, survivor_is_customer=customer)
        kinds = [e.action.kind for e in IMMEDIATE_DANGER_PLAYBOOK if e.relevant(facts)]
        assert kinds == relevant


def test_customer_in_immediate_danger_with_every_condition_gets_the_whole_playbook() -> None:
    actions = immediate_danger_actions(case(immediate_danger=True, **WHOLE_PLAYBOOK))
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
    immediate_danger_actions(case(immediate_danger=True, **WHOLE_PLAYBOOK)),
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
    """No injunction without someone to make it against (perpetrator unknown)."""
    actions = immediate_danger_actions(case(immediate_danger=True))
    assert [a.kind for a in actions] == [
        K.INFORM_EMERGENCY_SERVICES,
        K.VISIT_WITH_RISK_ASSESSMENT,
        K.HOUSING_OPTIONS_REFERRAL,
        K.TARGET_HARDENING,
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
def test_without_immediate_danger_a_first_contact_then_only_secondary_actions(
    facts: CaseFacts,
) -> None:
    """The first contact by staff (3.3.2; the first response of 5.2), then the support."""
    first_contact, *planned = plan_actions(facts)
    assert (first_contact.kind, first_contact.clause) == (K.GIVE_ADVICE, "3.3.2, 5.2")
    assert planned == secondary_actions(facts)
    assert planned, "a case off the online-advice track always gets some support"
    assert {a.kind for a in planned} <= SECONDARY_KINDS
    assert not {a.kind for a in planned} & IMMEDIATE_KINDS


@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_immediate_danger_plans_playbook_then_secondary(customer: bool) -> None:
    facts = case(immediate_danger=True, survivor_is_customer=customer, **EVERY_CONDITION)
    assert plan_actions(facts) == immediate_danger_actions(facts) + secondary_actions(facts)


# --------------------------------------------------------------------------- 3.3.2 secondary

M = PerceivedMotivation
HATE = [Classification.HATE_INCIDENT, Classification.HATE_CRIME]


def _support_rows() -> list[object]:
    rows: list[object] = [
        pytest.param(Classification.HARASSMENT, set(), [Partner.SURVIVOR_SUPPORT], id="harassment"),
        pytest.param(
            Classification.HARASSMENT,
            {M.RACE},
            [Partner.SURVIVOR_SUPPORT],
            id="harassment-race-is-still-harassment",
        ),
    ]
    for classification in HATE:
        rows.append(
            pytest.param(
                classification,
                {M.RACE},
                [Partner.STOP_HATE_UK, Partner.ANTHONY_WALKER_FOUNDATION],
                id=f"{classification}-race",
            )
        )
        rows.append(
            pytest.param(
                classification,
                {M.RACE, M.RELIGION},
                [Partner.STOP_HATE_UK, Partner.ANTHONY_WALKER_FOUNDATION],
                id=f"{classification}-race-and-religion",
            )
        )
        rows.append(
            pytest.param(
                classification,
                set(M) - {M.RACE},
                [Partner.STOP_HATE_UK],
                id=f"{classification}-every-motivation-but-race",
            )
        )
        rows.extend(
            pytest.param(
                classification,
                {motivation},
                [Partner.STOP_HATE_UK],
                id=f"{classification}-{motivation}",
            )
            for motivation in M
            if motivation is not M.RACE
        )
    return rows


@pytest.mark.parametrize(("classification", "motivation", "partners"), _support_rows())
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_support_and_advocacy_partners(
    classification: Classification,
    motivation: set[PerceivedMotivation],
    partners: list[Partner],
    customer: bool,
) -> None:
    """3.3.2: agencies relevant to the survivor (Survivor Support, Stop Hate UK, Anthony
    Walker Foundation); one referral each, for every reportee."""
    facts = case(
        classification=classification,
        perceived_motivation=frozenset(motivation),
        survivor_is_customer=customer,
    )
    if not customer and classification is Classification.HARASSMENT:
        # 3.2.6: the Hate Crime Reporting Centre refers non-customers to Stop Hate UK.
        partners = [*partners, Partner.STOP_HATE_UK]
    assert support_partners(facts) == partners
    support = [a for a in secondary_actions(facts) if a.kind is K.SUPPORT_AND_ADVOCACY_REFERRAL]
    assert [summary(a) for a in support] == [
        (K.SUPPORT_AND_ADVOCACY_REFERRAL, ALL, Executor.REFERRALS, timedelta(days=5), partner)
        for partner in partners
    ]
    assert all(a.clause == "3.3.2" for a in support)


@pytest.mark.parametrize("classification", list(Classification), ids=str)
def test_hate_crime_reporting_centre_refers_to_stop_hate_uk(
    classification: Classification,
) -> None:
    """3.2.6: the Hate Crime Reporting Centre advises and refers non-customers raising
    harassment or hate crime / incidents, 'making referrals to Stop hate UK' (design.md:
    'advice and referrals (Police where appropriate, Stop Hate UK)')."""
    facts = case(
        track=Track.HATE_CRIME_REPORTING_CENTRE,
        survivor_is_customer=False,
        classification=classification,
        perpetrator_kinds=frozenset({PerpetratorKind.NOT_CUSTOMER}),
        perceived_motivation=frozenset()
        if classification is Classification.HARASSMENT
        else frozenset({M.GENDER}),
    )
    referred = [a.partner for a in plan_actions(facts) if a.kind is K.SUPPORT_AND_ADVOCACY_REFERRAL]
    assert Partner.STOP_HATE_UK in referred


@pytest.mark.parametrize(
    ("classification", "motivation", "partners"),
    [
        pytest.param(
            Classification.HARASSMENT,
            set(),
            [Partner.SURVIVOR_SUPPORT, Partner.STOP_HATE_UK],
            id="harassment-survivor-support-and-stop-hate-uk",
        ),
        pytest.param(
            Classification.HARASSMENT,
            {M.RACE},
            [Partner.SURVIVOR_SUPPORT, Partner.STOP_HATE_UK],
            id="harassment-race-is-still-harassment",
        ),
        *(
            pytest.param(
                classification,
                {M.RACE},
                [Partner.STOP_HATE_UK, Partner.ANTHONY_WALKER_FOUNDATION],
                id=f"{classification}-race",
            )
            for classification in HATE
        ),
        *(
            pytest.param(
                classification, {M.DISABILITY}, [Partner.STOP_HATE_UK], id=f"{classification}"
            )
            for classification in HATE
        ),
    ],
)
def test_support_partners_on_the_hate_crime_reporting_centre_track(
    classification: Classification, motivation: set[PerceivedMotivation], partners: list[Partner]
) -> None:
    """3.2.6 on top of 3.3.2: harassment gets Survivor Support and Stop Hate UK; a hate
    incident or crime the same agencies as on any other track."""
    facts = case(
        track=Track.HATE_CRIME_REPORTING_CENTRE,
        survivor_is_customer=False,
        classification=classification,
        perceived_motivation=frozenset(motivation),
        perpetrator_kinds=frozenset({PerpetratorKind.NOT_CUSTOMER}),
    )
    assert support_partners(facts) == partners
    support = [a for a in plan_actions(facts) if a.kind is K.SUPPORT_AND_ADVOCACY_REFERRAL]
    assert [summary(a) for a in support] == [
        (K.SUPPORT_AND_ADVOCACY_REFERRAL, ALL, Executor.REFERRALS, timedelta(days=5), partner)
        for partner in partners
    ]
    assert all(a.clause == "3.3.2" for a in support)


@pytest.mark.parametrize("track", sorted(Track), ids=str)
def test_harassment_of_a_customer_gets_survivor_support_only(track: Track) -> None:
    facts = case(track=track, survivor_is_customer=True)
    assert support_partners(facts) == [Partner.SURVIVOR_SUPPORT]


@pytest.mark.parametrize("track", sorted(Track), ids=str)
def test_harassment_of_a_non_customer_also_gets_stop_hate_uk(track: Track) -> None:
    """3.2.6, whatever the track: the Reporting Centre serves every non-customer."""
    facts = case(track=track, survivor_is_customer=False)
    assert support_partners(facts) == [Partner.SURVIVOR_SUPPORT, Partner.STOP_HATE_UK]


def test_non_customer_harassment_survivor_gets_stop_hate_uk_whoever_the_perpetrator() -> None:
    facts = on_track(
        Track.PERPETRATOR_INVESTIGATION,
        classification=Classification.HARASSMENT,
        perpetrator_kinds=frozenset({P.CUSTOMER}),
    )
    referred = [a.partner for a in plan_actions(facts) if a.kind is K.SUPPORT_AND_ADVOCACY_REFERRAL]
    assert Partner.STOP_HATE_UK in referred


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
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_rehousing_evidence_and_advice_for_customers_in_immediate_danger(
    customer: bool, danger: bool
) -> None:
    """3.3.2 (with 3.4's priority banding): evidence for a choice-based lettings application
    and advice on rehousing options, for customers after an immediate response."""
    facts = case(survivor_is_customer=customer, immediate_danger=danger)
    rehousing = [
        (summary(a), a.clause)
        for a in secondary_actions(facts)
        if a.kind in {K.REHOUSING_EVIDENCE, K.REHOUSING_ADVICE}
    ]
    expected = [
        (
            (K.REHOUSING_EVIDENCE, CUSTOMERS, Executor.LANDLORD, timedelta(days=10), None),
            "3.3.2, 3.4",
        ),
        ((K.REHOUSING_ADVICE, CUSTOMERS, Executor.LANDLORD, timedelta(days=5), None), "3.3.2"),
    ]
    assert rehousing == (expected if customer and danger else [])


@pytest.mark.parametrize("vulnerable", [False, True], ids=["not-vulnerable", "vulnerable"])
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_independent_living_referral_for_vulnerable_customers(
    customer: bool, vulnerable: bool
) -> None:
    """3.3.2: referral, where appropriate, to the landlord's own Independent Living Service."""
    facts = case(survivor_is_customer=customer, vulnerable_adult=vulnerable)
    referrals = [
        (summary(a), a.clause)
        for a in secondary_actions(facts)
        if a.kind is K.INDEPENDENT_LIVING_REFERRAL
    ]
    expected = [
        (
            (
                K.INDEPENDENT_LIVING_REFERRAL,
                CUSTOMERS,
                Executor.REFERRALS,
                timedelta(days=5),
                Partner.INDEPENDENT_LIVING_SERVICE,
            ),
            "3.3.2",
        )
    ]
    assert referrals == (expected if customer and vulnerable else [])


@pytest.mark.parametrize("danger", [False, True], ids=["no-danger", "danger"])
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
@pytest.mark.parametrize("concern", [False, True], ids=["no-concern", "capacity-concern"])
def test_capacity_concern_requests_an_assessment(
    concern: bool, customer: bool, danger: bool
) -> None:
    """1.6.2: capacity is assumed; where a lack is suspected, a professional assessment."""
    facts = case(
        immediate_danger=danger,
        capacity_concern=concern,
        survivor_is_customer=customer,
        track=Track.CUSTOMER_CASE if customer else Track.HATE_CRIME_REPORTING_CENTRE,
    )
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


EVERYTHING_SECONDARY = {
    "classification": Classification.HATE_CRIME,
    "perceived_motivation": frozenset({M.RACE}),
    "perpetrator_kinds": frozenset({P.CUSTOMER}),
    "vulnerable_adult": True,
    "capacity_concern": True,
}


@pytest.mark.parametrize(
    ("customer", "danger", "expected"),
    [
        pytest.param(
            True,
            True,
            [
                (K.SUPPORT_AND_ADVOCACY_REFERRAL, Partner.STOP_HATE_UK),
                (K.SUPPORT_AND_ADVOCACY_REFERRAL, Partner.ANTHONY_WALKER_FOUNDATION),
                (K.REHOUSING_EVIDENCE, None),
                (K.REHOUSING_ADVICE, None),
                (K.PERPETRATOR_ENFORCEMENT, None),
                (K.INDEPENDENT_LIVING_REFERRAL, Partner.INDEPENDENT_LIVING_SERVICE),
                (K.CAPACITY_ASSESSMENT_REQUEST, Partner.CAPACITY_PRACTITIONER),
            ],
            id="customer-danger",
        ),
        pytest.param(
            True,
            False,
            [
                (K.SUPPORT_AND_ADVOCACY_REFERRAL, Partner.STOP_HATE_UK),
                (K.SUPPORT_AND_ADVOCACY_REFERRAL, Partner.ANTHONY_WALKER_FOUNDATION),
                (K.PERPETRATOR_ENFORCEMENT, None),
                (K.INDEPENDENT_LIVING_REFERRAL, Partner.INDEPENDENT_LIVING_SERVICE),
                (K.CAPACITY_ASSESSMENT_REQUEST, Partner.CAPACITY_PRACTITIONER),
            ],
            id="customer-no-danger",
        ),
        pytest.param(
            False,
            True,
            [
                (K.SUPPORT_AND_ADVOCACY_REFERRAL, Partner.STOP_HATE_UK),
                (K.SUPPORT_AND_ADVOCACY_REFERRAL, Partner.ANTHONY_WALKER_FOUNDATION),
                (K.POLICE_REFERRAL, Partner.POLICE),
                (K.CAPACITY_ASSESSMENT_REQUEST, Partner.CAPACITY_PRACTITIONER),
            ],
            id="non-customer-danger",
        ),
        pytest.param(
            False,
            False,
            [
                (K.SUPPORT_AND_ADVOCACY_REFERRAL, Partner.STOP_HATE_UK),
                (K.SUPPORT_AND_ADVOCACY_REFERRAL, Partner.ANTHONY_WALKER_FOUNDATION),
                (K.POLICE_REFERRAL, Partner.POLICE),
                (K.CAPACITY_ASSESSMENT_REQUEST, Partner.CAPACITY_PRACTITIONER),
            ],
            id="non-customer-no-danger",
        ),
    ],
)
def test_every_secondary_action(
    customer: bool, danger: bool, expected: list[tuple[ActionKind, Partner | None]]
) -> None:
    facts = case(survivor_is_customer=customer, immediate_danger=danger, **EVERYTHING_SECONDARY)
    actions = secondary_actions(facts)
    assert [(a.kind, a.partner) for a in actions] == expected
    assert {a.kind for a in actions} <= SECONDARY_KINDS
    if not customer:
        assert all(a.applies_to is ALL for a in actions)


# --------------------------------------------------------------------------- tracks

SUPPORT_ONLY_FROM_THE_TRACK_KINDS = SECONDARY_KINDS - {K.PERPETRATOR_ENFORCEMENT}

# Whether the survivor on each track is a customer, as intake routes (design.md).
SURVIVOR_IS_CUSTOMER = {
    Track.CUSTOMER_CASE: True,
    Track.HATE_CRIME_REPORTING_CENTRE: False,
    Track.PERPETRATOR_INVESTIGATION: False,
    Track.STAFF_GRIEVANCE: False,
    Track.THIRD_PARTY_DISCREET_CONTACT: True,
    Track.ANONYMOUS_VALIDITY_CHECK: False,
    Track.ONLINE_ADVICE_ONLY: True,
    Track.CROSS_REFERRAL: True,  # either; test_cross_referral_* try both
}

# 3.3.2 straight away, or only once the track's first step has done its work.
SUPPORTED_AT_ONCE = {
    Track.CUSTOMER_CASE: True,
    Track.HATE_CRIME_REPORTING_CENTRE: True,  # 3.2.6: advice and referrals
    Track.PERPETRATOR_INVESTIGATION: True,
    Track.STAFF_GRIEVANCE: False,  # 4.3: the grievance route, not the customer process
    Track.THIRD_PARTY_DISCREET_CONTACT: False,  # 3.2.4: confirm the concern first
    Track.ANONYMOUS_VALIDITY_CHECK: False,  # 3.2.5: validity first
    Track.ONLINE_ADVICE_ONLY: False,  # 3.1: advice only
    Track.CROSS_REFERRAL: False,  # 1.2: the other policy's process first
}


def test_track_tables_cover_every_track() -> None:
    assert set(SURVIVOR_IS_CUSTOMER) == set(Track)
    assert set(SUPPORTED_AT_ONCE) == set(Track)


def on_track(track: Track, **overrides: object) -> CaseFacts:
    return case(track=track, survivor_is_customer=SURVIVOR_IS_CUSTOMER[track], **overrides)


def step(
    kind: ActionKind,
    clause: str,
    executor: Executor,
    due_in: timedelta,
    partner: Partner | None = None,
) -> PlannedAction:
    return PlannedAction(kind, ALL, clause, executor, due_in, partner)


def _first_step_rows() -> list[object]:
    rows: list[object] = []
    for danger in (False, True):
        soon = DAY if danger else timedelta(days=3)
        advise_within = NOW if danger else DAY
        when = "danger" if danger else "no-danger"
        rows += [
            pytest.param(
                Track.STAFF_GRIEVANCE,
                Classification.HARASSMENT,
                danger,
                [step(K.REFER_TO_LINE_MANAGER, "4.3", Executor.LANDLORD, soon)],
                id=f"staff-grievance-line-manager-{when}",
            ),
            pytest.param(
                Track.THIRD_PARTY_DISCREET_CONTACT,
                Classification.HATE_INCIDENT,
                danger,
                [step(K.DISCREET_CONTACT, "3.2.4", Executor.LANDLORD, soon)],
                id=f"third-party-discreet-contact-{when}",
            ),
            pytest.param(
                Track.ANONYMOUS_VALIDITY_CHECK,
                Classification.HARASSMENT,
                danger,
                [step(K.VALIDITY_INVESTIGATION, "3.2.5", Executor.LANDLORD, timedelta(days=5))],
                id=f"anonymous-validity-{when}",
            ),
            pytest.param(
                Track.PERPETRATOR_INVESTIGATION,
                Classification.HATE_CRIME,
                danger,
                [
                    step(
                        K.PERPETRATOR_ENFORCEMENT,
                        "3.2.5, 2.6",
                        Executor.ENFORCEMENT,
                        timedelta(days=5),
                    )
                ],
                id=f"perpetrator-investigation-enforcement-{when}",
            ),
            # 3.2.6: the Reporting Centre advises first; its Police referral is a
            # secondary action, not a first step.
            *(
                pytest.param(
                    Track.HATE_CRIME_REPORTING_CENTRE,
                    classification,
                    danger,
                    [step(K.GIVE_ADVICE, "3.2.6", Executor.LANDLORD, advise_within)],
                    id=f"reporting-centre-{classification}-advice-{when}",
                )
                for classification in Classification
            ),
            *(
                pytest.param(
                    Track.CROSS_REFERRAL,
                    classification,
                    danger,
                    [step(K.POLICY_CROSS_REFERRAL, "1.2", Executor.LANDLORD, timedelta(days=1))],
                    id=f"cross-referral-{classification}-{when}",
                )
                for classification in Classification
            ),
            *(
                pytest.param(
                    Track.ONLINE_ADVICE_ONLY,
                    classification,
                    danger,
                    [step(K.GIVE_ADVICE, "3.1", Executor.LANDLORD, advise_within)],
                    id=f"online-advice-{classification}-{when}",
                )
                for classification in Classification
            ),
        ]
        rows += [
            pytest.param(
                Track.CUSTOMER_CASE,
                classification,
                danger,
                # In danger the visit (3.3.1) is the first contact; otherwise staff make it.
                []
                if danger
                else [step(K.GIVE_ADVICE, "3.3.2, 5.2", Executor.LANDLORD, timedelta(days=3))],
                id=f"customer-{classification}-{when}",
            )
            for classification in Classification
        ]
    return rows


@pytest.mark.parametrize(("track", "classification", "danger", "first_step"), _first_step_rows())
def test_first_step_of_each_track(
    track: Track, classification: Classification, danger: bool, first_step: list[PlannedAction]
) -> None:
    """The playbook first whenever someone is in immediate danger (3.3.1, any track), then the
    track's own first step, then 3.3.2 where the track supports the survivor at once."""
    motivation = frozenset() if classification is Classification.HARASSMENT else {M.AGE}
    facts = on_track(
        track,
        classification=classification,
        perceived_motivation=frozenset(motivation),
        immediate_danger=danger,
        perpetrator_kinds=frozenset({P.CUSTOMER}),
        **EVERY_CONDITION,
    )
    playbook = immediate_danger_actions(facts) if danger else []
    secondary = secondary_actions(facts) if SUPPORTED_AT_ONCE[track] else []
    assert plan_actions(facts) == playbook + first_step + secondary


@pytest.mark.parametrize("track", list(Track), ids=str)
@pytest.mark.parametrize("danger", [False, True], ids=["no-danger", "danger"])
def test_which_tracks_get_secondary_actions_straight_away(track: Track, danger: bool) -> None:
    facts = on_track(track, immediate_danger=danger, **EVERYTHING_SECONDARY)
    secondary = secondary_actions(facts)
    assert secondary
    planned = plan_actions(facts)
    if SUPPORTED_AT_ONCE[track]:
        assert planned[-len(secondary) :] == secondary
    else:
        assert not [a for a in planned if a in secondary]
        assert not {a.kind for a in planned} & SUPPORT_ONLY_FROM_THE_TRACK_KINDS


@pytest.mark.parametrize("track", list(Track), ids=str)
@pytest.mark.parametrize("classification", list(Classification), ids=str)
def test_non_customer_never_gets_a_customers_only_action(
    track: Track, classification: Classification
) -> None:
    facts = case(
        track=track,
        survivor_is_customer=False,
        immediate_danger=True,
        classification=classification,
        perceived_motivation=frozenset({M.RACE}),
        perpetrator_kinds=frozenset({P.CUSTOMER}),
        capacity_concern=True,
        **EVERY_CONDITION,
    )
    assert [a.kind for a in plan_actions(facts) if a.applies_to is CUSTOMERS] == []


@pytest.mark.parametrize("classification", list(Classification), ids=str)
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_online_advice_only_without_danger_plans_only_the_advice(
    classification: Classification, customer: bool
) -> None:
    """3.1: advice only, recorded as an action with what was advised (its completion is
    the case's first response); personal communications are not investigated."""
    facts = case(
        track=Track.ONLINE_ADVICE_ONLY,
        classification=classification,
        survivor_is_customer=customer,
        categories=frozenset({IncidentCategory.ONLINE_ABUSE}),
        perpetrator_kinds=frozenset({PerpetratorKind.CUSTOMER}),
        capacity_concern=True,
        vulnerable_adult=True,
    )
    planned = plan_actions(facts)
    assert [summary(a) for a in planned] == [(K.GIVE_ADVICE, ALL, Executor.LANDLORD, DAY, None)]
    assert planned[0].clause == "3.1"


def test_online_advice_only_with_danger_still_gets_the_playbook() -> None:
    facts = case(
        track=Track.ONLINE_ADVICE_ONLY,
        immediate_danger=True,
        categories=frozenset({IncidentCategory.ONLINE_ABUSE}),
    )
    planned = plan_actions(facts)
    playbook = immediate_danger_actions(facts)
    assert planned[0].kind is K.INFORM_EMERGENCY_SERVICES
    assert K.VISIT_WITH_RISK_ASSESSMENT in [a.kind for a in planned]
    # The danger is met first, then the advice, given at once.
    assert planned == [*playbook, step(K.GIVE_ADVICE, "3.1", Executor.LANDLORD, NOW)]


# Where advice is the track's own first step (3.1, 3.2.6), and the clause it cites; a
# customer case out of danger is first contacted with advice too (3.3.2, 5.2).
ADVICE_CLAUSE = {
    Track.ONLINE_ADVICE_ONLY: "3.1",
    Track.HATE_CRIME_REPORTING_CENTRE: "3.2.6",
}
FIRST_CONTACT = "3.3.2, 5.2"


@pytest.mark.parametrize("track", list(Track), ids=str)
@pytest.mark.parametrize("danger", [False, True], ids=["no-danger", "danger"])
@pytest.mark.parametrize("classification", list(Classification), ids=str)
def test_advice_is_planned_on_the_advice_tracks_only(
    track: Track, danger: bool, classification: Classification
) -> None:
    """One advice action, carried out by the landlord, within a working day (at once in
    immediate danger), on the 3.1 and 3.2.6 tracks and no other."""
    facts = on_track(
        track, immediate_danger=danger, classification=classification, **EVERY_CONDITION
    )
    advice = [a for a in plan_actions(facts) if a.kind is K.GIVE_ADVICE]
    if track is Track.CUSTOMER_CASE and not danger:
        assert [(summary(a), a.clause) for a in advice] == [
            ((K.GIVE_ADVICE, ALL, Executor.LANDLORD, timedelta(days=3), None), FIRST_CONTACT)
        ]
        return
    if track not in ADVICE_CLAUSE:
        assert advice == []
        return
    within = NOW if danger else DAY
    assert [(summary(a), a.clause) for a in advice] == [
        ((K.GIVE_ADVICE, ALL, Executor.LANDLORD, within, None), ADVICE_CLAUSE[track])
    ]


POLICE_REFERRAL = (K.POLICE_REFERRAL, ALL, Executor.REFERRALS, DAY, Partner.POLICE)


@pytest.mark.parametrize(
    "perpetrators",
    [
        pytest.param({P.CUSTOMER}, id="customer"),
        pytest.param({P.STAFF}, id="staff"),
        pytest.param({P.ACTING_FOR_LANDLORD}, id="acting-for-landlord"),
        pytest.param({P.NOT_CUSTOMER}, id="not-customer"),
        pytest.param({P.UNKNOWN}, id="unknown"),
        pytest.param(set(), id="nobody-named"),
        pytest.param({P.NOT_CUSTOMER, P.CUSTOMER}, id="not-customer-and-customer"),
    ],
)
@pytest.mark.parametrize("danger", [False, True], ids=["no-danger", "danger"])
def test_non_customer_hate_crime_survivor_gets_police_referral_whoever_the_perpetrator(
    perpetrators: set[PerpetratorKind], danger: bool
) -> None:
    """3.2.6: for non-customers the landlord contacts the Police 'if appropriate'; a hate
    crime is, whether intake routes the survivor to the reporting centre or (a perpetrator
    within reach) to perpetrator investigation."""
    within_reach = bool(perpetrators & {P.CUSTOMER, P.STAFF, P.ACTING_FOR_LANDLORD})
    track = Track.PERPETRATOR_INVESTIGATION if within_reach else Track.HATE_CRIME_REPORTING_CENTRE
    facts = on_track(
        track,
        immediate_danger=danger,
        classification=Classification.HATE_CRIME,
        perceived_motivation=frozenset({M.RELIGION}),
        categories=frozenset({IncidentCategory.PHYSICAL_ATTACK}),
        perpetrator_kinds=frozenset(perpetrators),
    )
    police = [a for a in plan_actions(facts) if a.kind is K.POLICE_REFERRAL]
    assert [summary(a) for a in police] == [POLICE_REFERRAL]
    assert police[0].clause == "3.2.6"
    assert police[0] in secondary_actions(facts)


@pytest.mark.parametrize("track", list(Track), ids=str)
@pytest.mark.parametrize("classification", list(Classification), ids=str)
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_police_referral_only_for_a_non_customer_hate_crime_survivor_supported_at_once(
    track: Track, classification: Classification, customer: bool
) -> None:
    """Not for customers (3.3.1 informs emergency services when in danger), not for a hate
    incident or harassment, and not before a track that confirms or redirects first."""
    facts = case(
        track=track,
        survivor_is_customer=customer,
        classification=classification,
        perceived_motivation=frozenset()
        if classification is Classification.HARASSMENT
        else frozenset({M.RACE}),
        categories=frozenset({IncidentCategory.PHYSICAL_ATTACK}),
        perpetrator_kinds=frozenset({P.CUSTOMER}),
    )
    in_secondary = [a.kind for a in secondary_actions(facts)].count(K.POLICE_REFERRAL)
    planned = [a.kind for a in plan_actions(facts)].count(K.POLICE_REFERRAL)
    hate_crime_non_customer = not customer and classification is Classification.HATE_CRIME
    assert in_secondary == (1 if hate_crime_non_customer else 0)
    assert planned == (1 if hate_crime_non_customer and SUPPORTED_AT_ONCE[track] else 0)


# --------------------------------------------------------------------------- cross-referral


@pytest.mark.parametrize("classification", list(Classification), ids=str)
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_cross_referral_without_danger_plans_only_the_cross_referral(
    classification: Classification, customer: bool
) -> None:
    """1.2: domestic abuse and anti-social behaviour go to their own policies; nothing of
    3.3.2 (not even the Police referral of 3.2.6) straight away."""
    facts = case(
        track=Track.CROSS_REFERRAL,
        survivor_is_customer=customer,
        **EVERYTHING_SECONDARY
        | {
            "classification": classification,
            "perceived_motivation": frozenset()
            if classification is Classification.HARASSMENT
            else frozenset({M.RACE}),
        },
    )
    assert secondary_actions(facts)
    planned = plan_actions(facts)
    assert [summary(a) for a in planned] == [
        (K.POLICY_CROSS_REFERRAL, ALL, Executor.LANDLORD, timedelta(days=1), None)
    ]
    assert planned[0].clause == "1.2"


@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
def test_cross_referral_in_immediate_danger_gets_the_playbook_first(customer: bool) -> None:
    facts = case(
        track=Track.CROSS_REFERRAL,
        survivor_is_customer=customer,
        immediate_danger=True,
        **EVERY_CONDITION | EVERYTHING_SECONDARY,
    )
    playbook = immediate_danger_actions(facts)
    assert playbook[0].kind is K.INFORM_EMERGENCY_SERVICES
    cross_referral = step(K.POLICY_CROSS_REFERRAL, "1.2", Executor.LANDLORD, timedelta(days=1))
    # 3.3.1 has no exception for other policies: the danger is met first, then the referral.
    assert plan_actions(facts) == [*playbook, cross_referral]


# --------------------------------------------------------------------------- deadlines

EVERYTHING = {**EVERY_CONDITION, **EVERYTHING_SECONDARY}
DUE_FACTS = case(immediate_danger=True, **EVERYTHING)


@pytest.mark.parametrize(
    ("facts", "kind", "partner", "due"),
    [
        pytest.param(
            DUE_FACTS,
            K.INFORM_EMERGENCY_SERVICES,
            Partner.EMERGENCY_SERVICES,
            REQUIRED_AT + NOW,
            id="emergency-services-now",
        ),
        pytest.param(
            DUE_FACTS,
            K.VISIT_WITH_RISK_ASSESSMENT,
            None,
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            id="visit-within-24h",
        ),
        pytest.param(
            DUE_FACTS,
            K.SAFEGUARDING_ALERT,
            Partner.CHILDRENS_SOCIAL_SERVICES,
            REQUIRED_AT + NOW,
            id="child-safeguarding-now",
        ),
        pytest.param(
            DUE_FACTS,
            K.FIRE_AUTHORITY_REFERRAL,
            Partner.FIRE_AUTHORITY,
            REQUIRED_AT + NOW,
            id="fire-now",
        ),
        pytest.param(
            DUE_FACTS,
            K.SUPPORT_AND_ADVOCACY_REFERRAL,
            Partner.STOP_HATE_UK,
            datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
            id="support-referral-5-days",
        ),
        pytest.param(
            DUE_FACTS,
            K.SUPPORT_AND_ADVOCACY_REFERRAL,
            Partner.ANTHONY_WALKER_FOUNDATION,
            datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
            id="anthony-walker-referral-5-days",
        ),
        pytest.param(
            DUE_FACTS,
            K.PERPETRATOR_ENFORCEMENT,
            None,
            datetime(2026, 3, 11, 10, 0, tzinfo=UTC),
            id="perpetrator-enforcement-10-days",
        ),
        pytest.param(
            DUE_FACTS,
            K.REHOUSING_EVIDENCE,
            None,
            datetime(2026, 3, 11, 10, 0, tzinfo=UTC),
            id="rehousing-evidence-10-days",
        ),
        pytest.param(
            DUE_FACTS,
            K.REHOUSING_ADVICE,
            None,
            datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
            id="rehousing-advice-5-days",
        ),
        pytest.param(
            DUE_FACTS,
            K.INDEPENDENT_LIVING_REFERRAL,
            Partner.INDEPENDENT_LIVING_SERVICE,
            datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
            id="independent-living-5-days",
        ),
        pytest.param(
            DUE_FACTS,
            K.CAPACITY_ASSESSMENT_REQUEST,
            Partner.CAPACITY_PRACTITIONER,
            datetime(2026, 3, 6, 10, 0, tzinfo=UTC),
            id="capacity-5-days",
        ),
        pytest.param(
            on_track(Track.HATE_CRIME_REPORTING_CENTRE, classification=Classification.HATE_CRIME),
            K.POLICE_REFERRAL,
            Partner.POLICE,
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            id="police-referral-1-day",
        ),
        pytest.param(
            on_track(
                Track.PERPETRATOR_INVESTIGATION,
                classification=Classification.HATE_CRIME,
                perpetrator_kinds=frozenset({P.CUSTOMER}),
            ),
            K.POLICE_REFERRAL,
            Partner.POLICE,
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            id="police-referral-1-day-perpetrator-investigation",
        ),
        pytest.param(
            on_track(Track.ONLINE_ADVICE_ONLY),
            K.GIVE_ADVICE,
            None,
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            id="online-advice-1-day",
        ),
        pytest.param(
            on_track(Track.ONLINE_ADVICE_ONLY, immediate_danger=True),
            K.GIVE_ADVICE,
            None,
            REQUIRED_AT + NOW,
            id="online-advice-now-in-danger",
        ),
        pytest.param(
            on_track(Track.HATE_CRIME_REPORTING_CENTRE),
            K.GIVE_ADVICE,
            None,
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            id="reporting-centre-advice-1-day",
        ),
        pytest.param(
            on_track(Track.HATE_CRIME_REPORTING_CENTRE, immediate_danger=True),
            K.GIVE_ADVICE,
            None,
            REQUIRED_AT + NOW,
            id="reporting-centre-advice-now-in-danger",
        ),
        pytest.param(
            on_track(Track.CROSS_REFERRAL),
            K.POLICY_CROSS_REFERRAL,
            None,
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            id="policy-cross-referral-1-day",
        ),
        pytest.param(
            on_track(Track.CROSS_REFERRAL, immediate_danger=True),
            K.POLICY_CROSS_REFERRAL,
            None,
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            id="policy-cross-referral-1-day-in-danger",
        ),
        pytest.param(
            on_track(Track.STAFF_GRIEVANCE),
            K.REFER_TO_LINE_MANAGER,
            None,
            datetime(2026, 3, 4, 10, 0, tzinfo=UTC),
            id="line-manager-3-days",
        ),
        pytest.param(
            on_track(Track.STAFF_GRIEVANCE, immediate_danger=True),
            K.REFER_TO_LINE_MANAGER,
            None,
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            id="line-manager-24h-in-danger",
        ),
    ],
)
def test_due_at(facts: CaseFacts, kind: ActionKind, partner: Partner | None, due: datetime) -> None:
    (action,) = [a for a in plan_actions(facts) if a.kind is kind and a.partner is partner]
    assert action.due_at(REQUIRED_AT) == due


def _every_planned_action() -> list[PlannedAction]:
    actions: list[PlannedAction] = []
    for track in Track:
        for classification in Classification:
            overrides = {**EVERYTHING, "classification": classification}
            facts = on_track(track, immediate_danger=True, **overrides)
            actions += [a for a in plan_actions(facts) if a not in actions]
    return actions


@pytest.mark.parametrize(
    "action",
    _every_planned_action(),
    ids=lambda a: f"{a.kind}-{a.partner}-{a.due_in}",
)
def test_due_at_is_required_at_plus_due_in(action: PlannedAction) -> None:
    assert action.due_at(REQUIRED_AT) == REQUIRED_AT + action.due_in
    assert action.due_in > timedelta(0)
    if action.kind in IMMEDIATE_KINDS:
        # 3.3.1 is the immediate response: nothing in it waits more than the 24h visit.
        assert action.due_in <= DAY
