"""Intake's pure rules against the policy: classification (3.1, 3.1.3), routing
(design.md, routing rules; policy 1.2, 3.1, 3.2, 4.3) and who gets feedback (3.2.3)."""

import itertools

import pytest

from hhc_contracts.submission import ReportSubmitted
from hhc_contracts.vocabulary import (
    Classification,
    IncidentCategory,
    PerceivedMotivation,
    PerpetratorKind,
    RelatedPolicy,
    ReporterRole,
    Track,
)
from hhc_intake.cases import route_of
from hhc_intake.domain import (
    CRIMINAL_CATEGORIES,
    REPORTING_FOR_SOMEONE_ELSE,
    Route,
    RoutingFacts,
    case_reference,
    classify,
    reporter_receives_feedback,
    route,
)

Cat = IncidentCategory
Mot = PerceivedMotivation
Perp = PerpetratorKind
Role = ReporterRole
Rel = RelatedPolicy

# The clauses each track cites (design.md, routing rules).
CLAUSES_FOR_TRACK = {
    Track.CUSTOMER_CASE: ("3.3",),
    Track.HATE_CRIME_REPORTING_CENTRE: ("3.2.6",),
    Track.PERPETRATOR_INVESTIGATION: ("3.2.5", "2.6"),
    Track.STAFF_GRIEVANCE: ("4.3",),
    Track.THIRD_PARTY_DISCREET_CONTACT: ("3.2.2", "3.2.3", "3.2.4"),
    Track.ANONYMOUS_VALIDITY_CHECK: ("3.2.5",),
    Track.ONLINE_ADVICE_ONLY: ("3.1",),
    Track.CROSS_REFERRAL: ("1.2",),
}

# Perpetrators the landlord can act against (1.3, 2.6, 3.2.5).
WITHIN_REACH = {Perp.CUSTOMER, Perp.STAFF, Perp.ACTING_FOR_LANDLORD}

# 3.2.2: third parties "who may be aware or have witnessed" the behaviour; a partner
# agency reporting for someone is a third party too (3.2.3, 3.2.4).
FOR_SOMEONE_ELSE = {Role.THIRD_PARTY, Role.WITNESS, Role.PARTNER_AGENCY}


def test_clause_table_covers_every_track() -> None:
    assert set(CLAUSES_FOR_TRACK) == set(Track)


# --------------------------------------------------------------------------- classification


def test_criminal_categories_are_the_criminal_acts_of_3_1() -> None:
    assert (
        frozenset(
            {
                Cat.PHYSICAL_ATTACK,
                Cat.THREATS_OF_VIOLENCE,
                Cat.DAMAGE_TO_PROPERTY,
                Cat.GRAFFITI,
                Cat.ARSON,
                Cat.HOAX_CALLS_ABUSIVE_MESSAGES_HATE_MAIL,
            }
        )
        == CRIMINAL_CATEGORIES
    )


@pytest.mark.parametrize(
    ("categories", "motivation", "expected"),
    [
        pytest.param((), (), Classification.HARASSMENT, id="nothing-harassment"),
        pytest.param((Cat.VERBAL_ABUSE,), (), Classification.HARASSMENT, id="verbal-no-motive"),
        pytest.param((Cat.PHYSICAL_ATTACK,), (), Classification.HARASSMENT, id="attack-no-motive"),
        pytest.param(
            (Cat.ARSON, Cat.GRAFFITI, Cat.THREATS_OF_VIOLENCE),
            (),
            Classification.HARASSMENT,
            id="several-crimes-no-motive",
        ),
        pytest.param(
            (Cat.VERBAL_ABUSE,), (Mot.RACE,), Classification.HATE_INCIDENT, id="verbal-race"
        ),
        pytest.param(
            (Cat.BULLYING_OR_INTIMIDATION,),
            (Mot.DISABILITY,),
            Classification.HATE_INCIDENT,
            id="bullying-disability",
        ),
        pytest.param(
            (Cat.ONLINE_ABUSE,),
            (Mot.RELIGION,),
            Classification.HATE_INCIDENT,
            id="online-religion",
        ),
        pytest.param(
            (Cat.DISCRIMINATORY_LITERATURE,),
            (Mot.SEXUAL_ORIENTATION,),
            Classification.HATE_INCIDENT,
            id="literature-sexual-orientation",
        ),
        pytest.param(
            (Cat.MALICIOUS_COMPLAINTS,),
            (Mot.AGE,),
            Classification.HATE_INCIDENT,
            id="complaints-age",
        ),
        pytest.param((), (Mot.GENDER,), Classification.HATE_INCIDENT, id="motive-without-category"),
        pytest.param(
            (Cat.PHYSICAL_ATTACK,), (Mot.RACE,), Classification.HATE_CRIME, id="attack-race"
        ),
        pytest.param(
            (Cat.ARSON,), (Mot.TRANSGENDER_IDENTITY,), Classification.HATE_CRIME, id="arson-trans"
        ),
        pytest.param(
            (Cat.VERBAL_ABUSE, Cat.GRAFFITI),
            (Mot.RACE, Mot.RELIGION),
            Classification.HATE_CRIME,
            id="verbal-plus-graffiti-two-motives",
        ),
    ],
)
def test_classify(
    categories: tuple[Cat, ...], motivation: tuple[Mot, ...], expected: Classification
) -> None:
    assert classify(categories, motivation) is expected


@pytest.mark.parametrize("motivation", list(Mot), ids=str)
def test_every_perceived_motivation_makes_a_hate_incident(motivation: Mot) -> None:
    """3.1.3: the survivor's perception of any listed hostility is enough."""
    assert classify([Cat.VERBAL_ABUSE], [motivation]) is Classification.HATE_INCIDENT


@pytest.mark.parametrize("category", sorted(CRIMINAL_CATEGORIES), ids=str)
def test_a_criminal_act_with_motivation_is_a_hate_crime(category: Cat) -> None:
    assert classify([category], [Mot.RACE]) is Classification.HATE_CRIME
    assert classify([Cat.VERBAL_ABUSE, category], [Mot.AGE]) is Classification.HATE_CRIME


@pytest.mark.parametrize("category", sorted(set(Cat) - CRIMINAL_CATEGORIES), ids=str)
def test_a_non_criminal_form_with_motivation_stays_a_hate_incident(category: Cat) -> None:
    assert classify([category], [Mot.DISABILITY]) is Classification.HATE_INCIDENT


@pytest.mark.parametrize("category", list(Cat), ids=str)
def test_without_motivation_every_form_is_harassment(category: Cat) -> None:
    """3.1: harassment need not be a criminal act, and without perceived hostility it is
    not a hate incident."""
    assert classify([category], []) is Classification.HARASSMENT


# --------------------------------------------------------------------------- routing


def facts(
    role: Role = Role.SURVIVOR,
    *,
    customer: bool = True,
    staff: bool = False,
    perps: tuple[Perp, ...] = (Perp.UNKNOWN,),
    cats: tuple[Cat, ...] = (Cat.VERBAL_ABUSE,),
    related: Rel | None = None,
) -> RoutingFacts:
    return RoutingFacts(
        reporter_role=role,
        survivor_is_customer=customer,
        survivor_is_staff=staff,
        perpetrator_kinds=frozenset(perps),
        categories=frozenset(cats),
        related_policy=related,
    )


def test_related_policy_is_optional_and_absent_by_default() -> None:
    assert facts().related_policy is None
    assert RoutingFacts(Role.SURVIVOR, True, False, frozenset(), frozenset()).related_policy is None


def test_reporting_for_someone_else_is_third_party_witness_and_partner_agency() -> None:
    assert frozenset(FOR_SOMEONE_ELSE) == REPORTING_FOR_SOMEONE_ELSE


ROUTING_CASES = [
    # Survivor is a customer: a full case.
    pytest.param(facts(), Track.CUSTOMER_CASE, id="customer-survivor-self-report"),
    pytest.param(
        facts(perps=(Perp.CUSTOMER,)),
        Track.CUSTOMER_CASE,
        id="customer-survivor-customer-perpetrator",
    ),
    pytest.param(
        facts(perps=(Perp.STAFF,)), Track.CUSTOMER_CASE, id="customer-survivor-staff-perpetrator"
    ),
    pytest.param(
        facts(perps=(Perp.NOT_CUSTOMER,)),
        Track.CUSTOMER_CASE,
        id="customer-survivor-non-customer-perpetrator",
    ),
    pytest.param(
        facts(cats=(Cat.PHYSICAL_ATTACK, Cat.ARSON)),
        Track.CUSTOMER_CASE,
        id="customer-survivor-hate-crime-categories",
    ),
    pytest.param(facts(cats=()), Track.CUSTOMER_CASE, id="customer-survivor-no-categories"),
    # Third party reporting for a customer: discreet contact, no feedback (3.2.3, 3.2.4).
    pytest.param(
        facts(Role.THIRD_PARTY), Track.THIRD_PARTY_DISCREET_CONTACT, id="third-party-for-customer"
    ),
    pytest.param(
        facts(Role.THIRD_PARTY, perps=(Perp.CUSTOMER,)),
        Track.THIRD_PARTY_DISCREET_CONTACT,
        id="third-party-for-customer-customer-perpetrator",
    ),
    pytest.param(
        facts(Role.THIRD_PARTY, cats=(Cat.PHYSICAL_ATTACK, Cat.ARSON)),
        Track.THIRD_PARTY_DISCREET_CONTACT,
        id="third-party-for-customer-hate-crime-categories",
    ),
    # 3.2.2: witnesses are third parties; so is a partner agency reporting for a customer.
    pytest.param(
        facts(Role.WITNESS), Track.THIRD_PARTY_DISCREET_CONTACT, id="witness-for-customer"
    ),
    pytest.param(
        facts(Role.WITNESS, perps=(Perp.CUSTOMER,)),
        Track.THIRD_PARTY_DISCREET_CONTACT,
        id="witness-for-customer-customer-perpetrator",
    ),
    pytest.param(
        facts(Role.PARTNER_AGENCY),
        Track.THIRD_PARTY_DISCREET_CONTACT,
        id="partner-agency-for-customer",
    ),
    pytest.param(
        facts(Role.PARTNER_AGENCY, perps=(Perp.STAFF,), cats=(Cat.THREATS_OF_VIOLENCE,)),
        Track.THIRD_PARTY_DISCREET_CONTACT,
        id="partner-agency-for-customer-staff-perpetrator-threats",
    ),
    # 3.3.1 tells observations (staff) apart from third-party reporting: a full case.
    pytest.param(facts(Role.STAFF_OBSERVER), Track.CUSTOMER_CASE, id="staff-observer-for-customer"),
    pytest.param(
        facts(Role.THIRD_PARTY, customer=False),
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="third-party-for-non-customer",
    ),
    pytest.param(
        facts(Role.WITNESS, customer=False),
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="witness-for-non-customer",
    ),
    pytest.param(
        facts(Role.PARTNER_AGENCY, customer=False, perps=(Perp.NOT_CUSTOMER,)),
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="partner-agency-for-non-customer",
    ),
    pytest.param(
        facts(Role.PARTNER_AGENCY, customer=False, perps=(Perp.ACTING_FOR_LANDLORD,)),
        Track.PERPETRATOR_INVESTIGATION,
        id="partner-agency-for-non-customer-acting-for-landlord-perpetrator",
    ),
    pytest.param(
        facts(Role.THIRD_PARTY, customer=False, perps=(Perp.CUSTOMER,)),
        Track.PERPETRATOR_INVESTIGATION,
        id="third-party-for-non-customer-customer-perpetrator",
    ),
    # Alleged perpetrator within the landlord's reach, survivor not a customer (3.2.5, 2.6).
    pytest.param(
        facts(customer=False, perps=(Perp.CUSTOMER,)),
        Track.PERPETRATOR_INVESTIGATION,
        id="non-customer-survivor-customer-perpetrator",
    ),
    pytest.param(
        facts(customer=False, perps=(Perp.STAFF,)),
        Track.PERPETRATOR_INVESTIGATION,
        id="non-customer-survivor-staff-perpetrator",
    ),
    pytest.param(
        facts(customer=False, perps=(Perp.ACTING_FOR_LANDLORD,)),
        Track.PERPETRATOR_INVESTIGATION,
        id="non-customer-survivor-acting-for-landlord-perpetrator",
    ),
    pytest.param(
        facts(customer=False, perps=(Perp.NOT_CUSTOMER, Perp.CUSTOMER)),
        Track.PERPETRATOR_INVESTIGATION,
        id="non-customer-survivor-mixed-perpetrators-one-customer",
    ),
    pytest.param(
        facts(Role.WITNESS, customer=False, perps=(Perp.UNKNOWN, Perp.STAFF)),
        Track.PERPETRATOR_INVESTIGATION,
        id="witness-non-customer-survivor-staff-perpetrator",
    ),
    # Neither survivor nor perpetrator a customer: Hate Crime Reporting Centre (3.2.6).
    pytest.param(
        facts(customer=False, perps=(Perp.NOT_CUSTOMER,)),
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="non-customer-survivor-non-customer-perpetrator",
    ),
    pytest.param(
        facts(customer=False, perps=(Perp.UNKNOWN,)),
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="non-customer-survivor-unknown-perpetrator",
    ),
    pytest.param(
        facts(customer=False, perps=()),
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="non-customer-survivor-no-perpetrator-named",
    ),
    pytest.param(
        facts(customer=False, perps=(Perp.NOT_CUSTOMER, Perp.UNKNOWN)),
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="non-customer-survivor-non-customer-and-unknown-perpetrators",
    ),
    # Staff survivor during duties: grievance policy, wins over everything (4.3).
    pytest.param(facts(staff=True, customer=False), Track.STAFF_GRIEVANCE, id="staff-survivor"),
    pytest.param(
        facts(staff=True, customer=True), Track.STAFF_GRIEVANCE, id="staff-survivor-also-customer"
    ),
    pytest.param(
        facts(Role.ANONYMOUS, staff=True), Track.STAFF_GRIEVANCE, id="staff-survivor-anonymous"
    ),
    pytest.param(
        facts(staff=True, cats=(Cat.ONLINE_ABUSE,)),
        Track.STAFF_GRIEVANCE,
        id="staff-survivor-online-abuse-only",
    ),
    pytest.param(
        facts(Role.THIRD_PARTY, staff=True),
        Track.STAFF_GRIEVANCE,
        id="staff-survivor-third-party-report",
    ),
    pytest.param(
        facts(staff=True, customer=False, perps=(Perp.CUSTOMER,)),
        Track.STAFF_GRIEVANCE,
        id="staff-survivor-customer-perpetrator",
    ),
    # Anonymous: validity first (3.2.5), before online-only and customer rules.
    pytest.param(facts(Role.ANONYMOUS), Track.ANONYMOUS_VALIDITY_CHECK, id="anonymous-customer"),
    pytest.param(
        facts(Role.ANONYMOUS, customer=False),
        Track.ANONYMOUS_VALIDITY_CHECK,
        id="anonymous-non-customer",
    ),
    pytest.param(
        facts(Role.ANONYMOUS, cats=(Cat.ONLINE_ABUSE,)),
        Track.ANONYMOUS_VALIDITY_CHECK,
        id="anonymous-online-abuse-only",
    ),
    pytest.param(
        facts(Role.ANONYMOUS, customer=False, perps=(Perp.CUSTOMER,)),
        Track.ANONYMOUS_VALIDITY_CHECK,
        id="anonymous-customer-perpetrator",
    ),
    # Online abuse only: advice only (3.1); any other form takes the normal route.
    pytest.param(
        facts(cats=(Cat.ONLINE_ABUSE,)), Track.ONLINE_ADVICE_ONLY, id="online-only-customer"
    ),
    pytest.param(
        facts(customer=False, cats=(Cat.ONLINE_ABUSE,)),
        Track.ONLINE_ADVICE_ONLY,
        id="online-only-non-customer",
    ),
    pytest.param(
        facts(Role.THIRD_PARTY, cats=(Cat.ONLINE_ABUSE,)),
        Track.ONLINE_ADVICE_ONLY,
        id="online-only-third-party-for-customer",
    ),
    pytest.param(
        facts(customer=False, perps=(Perp.CUSTOMER,), cats=(Cat.ONLINE_ABUSE,)),
        Track.ONLINE_ADVICE_ONLY,
        id="online-only-customer-perpetrator",
    ),
    pytest.param(
        facts(cats=(Cat.ONLINE_ABUSE, Cat.VERBAL_ABUSE)),
        Track.CUSTOMER_CASE,
        id="online-plus-verbal-customer",
    ),
    pytest.param(
        facts(
            customer=False,
            perps=(Perp.NOT_CUSTOMER,),
            cats=(Cat.ONLINE_ABUSE, Cat.THREATS_OF_VIOLENCE),
        ),
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="online-plus-threats-non-customer",
    ),
    pytest.param(
        facts(Role.THIRD_PARTY, cats=(Cat.ONLINE_ABUSE, Cat.GRAFFITI)),
        Track.THIRD_PARTY_DISCREET_CONTACT,
        id="online-plus-graffiti-third-party-for-customer",
    ),
    pytest.param(
        facts(customer=False, perps=(Perp.STAFF,), cats=(Cat.ONLINE_ABUSE, Cat.VERBAL_ABUSE)),
        Track.PERPETRATOR_INVESTIGATION,
        id="online-plus-verbal-staff-perpetrator",
    ),
    pytest.param(
        facts(Role.WITNESS, cats=(Cat.ONLINE_ABUSE,)),
        Track.ONLINE_ADVICE_ONLY,
        id="online-only-witness-for-customer",
    ),
    pytest.param(
        facts(Role.PARTNER_AGENCY, cats=(Cat.ONLINE_ABUSE,)),
        Track.ONLINE_ADVICE_ONLY,
        id="online-only-partner-agency-for-customer",
    ),
    # Domestic abuse or plain anti-social behaviour: cross-referred to those policies (1.2).
    *(
        pytest.param(
            facts(related=related), Track.CROSS_REFERRAL, id=f"{related}-customer-self-report"
        )
        for related in Rel
    ),
    *(
        pytest.param(
            facts(customer=False, perps=(Perp.NOT_CUSTOMER,), related=related),
            Track.CROSS_REFERRAL,
            id=f"{related}-beats-hate-crime-reporting-centre",
        )
        for related in Rel
    ),
    *(
        pytest.param(
            facts(perps=(Perp.CUSTOMER,), cats=(Cat.PHYSICAL_ATTACK,), related=related),
            Track.CROSS_REFERRAL,
            id=f"{related}-beats-customer-case",
        )
        for related in Rel
    ),
    *(
        pytest.param(
            facts(customer=False, perps=(Perp.CUSTOMER, Perp.STAFF), related=related),
            Track.CROSS_REFERRAL,
            id=f"{related}-beats-perpetrator-investigation",
        )
        for related in Rel
    ),
    *(
        pytest.param(
            facts(role, related=related),
            Track.CROSS_REFERRAL,
            id=f"{related}-beats-discreet-contact-{role}",
        )
        for related in Rel
        for role in sorted(FOR_SOMEONE_ELSE)
    ),
    *(
        pytest.param(
            facts(cats=(Cat.ONLINE_ABUSE,), related=related),
            Track.CROSS_REFERRAL,
            id=f"{related}-beats-online-abuse-only",
        )
        for related in Rel
    ),
    *(
        pytest.param(
            facts(customer=False, cats=(), perps=(), related=related),
            Track.CROSS_REFERRAL,
            id=f"{related}-non-customer-nothing-else-named",
        )
        for related in Rel
    ),
    *(
        pytest.param(
            facts(Role.ANONYMOUS, related=related),
            Track.ANONYMOUS_VALIDITY_CHECK,
            id=f"anonymous-beats-{related}",
        )
        for related in Rel
    ),
    *(
        pytest.param(
            facts(Role.ANONYMOUS, customer=False, cats=(Cat.ONLINE_ABUSE,), related=related),
            Track.ANONYMOUS_VALIDITY_CHECK,
            id=f"anonymous-online-only-non-customer-beats-{related}",
        )
        for related in Rel
    ),
    *(
        pytest.param(
            facts(staff=True, customer=False, related=related),
            Track.STAFF_GRIEVANCE,
            id=f"staff-survivor-beats-{related}",
        )
        for related in Rel
    ),
    *(
        pytest.param(
            facts(Role.ANONYMOUS, staff=True, perps=(Perp.CUSTOMER,), related=related),
            Track.STAFF_GRIEVANCE,
            id=f"staff-survivor-anonymous-beats-{related}",
        )
        for related in Rel
    ),
]


@pytest.mark.parametrize(("routing_facts", "expected"), ROUTING_CASES)
def test_route(routing_facts: RoutingFacts, expected: Track) -> None:
    decided = route(routing_facts)
    assert decided == Route(expected, CLAUSES_FOR_TRACK[expected])


# Every reporter role, for a customer and for a non-customer survivor (not staff, unknown
# perpetrator, verbal abuse). A witness reporting for a customer is a third party in the
# sense of 3.2.2 ("third parties who may be aware or have witnessed this type of
# behaviour"), and so is a partner agency: 3.2.3/3.2.4 apply.
EVERY_ROLE_CASES = [
    pytest.param(Role.SURVIVOR, True, Track.CUSTOMER_CASE, id="survivor-customer"),
    pytest.param(Role.WITNESS, True, Track.THIRD_PARTY_DISCREET_CONTACT, id="witness-customer"),
    pytest.param(
        Role.THIRD_PARTY, True, Track.THIRD_PARTY_DISCREET_CONTACT, id="third_party-customer"
    ),
    pytest.param(Role.ANONYMOUS, True, Track.ANONYMOUS_VALIDITY_CHECK, id="anonymous-customer"),
    # 3.3.1 distinguishes "observations" (staff) from third-party reporting.
    pytest.param(Role.STAFF_OBSERVER, True, Track.CUSTOMER_CASE, id="staff_observer-customer"),
    pytest.param(
        Role.PARTNER_AGENCY, True, Track.THIRD_PARTY_DISCREET_CONTACT, id="partner_agency-customer"
    ),
    pytest.param(
        Role.SURVIVOR, False, Track.HATE_CRIME_REPORTING_CENTRE, id="survivor-non-customer"
    ),
    pytest.param(Role.WITNESS, False, Track.HATE_CRIME_REPORTING_CENTRE, id="witness-non-customer"),
    pytest.param(
        Role.THIRD_PARTY, False, Track.HATE_CRIME_REPORTING_CENTRE, id="third_party-non-customer"
    ),
    pytest.param(
        Role.ANONYMOUS, False, Track.ANONYMOUS_VALIDITY_CHECK, id="anonymous-non-customer"
    ),
    pytest.param(
        Role.STAFF_OBSERVER,
        False,
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="staff_observer-non-customer",
    ),
    pytest.param(
        Role.PARTNER_AGENCY,
        False,
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="partner_agency-non-customer",
    ),
]


def test_every_role_case_table_covers_every_reporter_role() -> None:
    covered = {(case.values[0], case.values[1]) for case in EVERY_ROLE_CASES}
    assert covered == set(itertools.product(Role, (True, False)))


@pytest.mark.parametrize(("role", "customer", "expected"), EVERY_ROLE_CASES)
def test_route_for_every_reporter_role(role: Role, customer: bool, expected: Track) -> None:
    assert route(facts(role, customer=customer)) == Route(expected, CLAUSES_FOR_TRACK[expected])


@pytest.mark.parametrize("related", list(Rel), ids=str)
@pytest.mark.parametrize("customer", [True, False], ids=["customer", "non-customer"])
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_cross_referral_for_every_reporter_role(role: Role, customer: bool, related: Rel) -> None:
    """1.2: every reporter but an anonymous one (validity first, 3.2.5) is cross-referred."""
    expected = Track.ANONYMOUS_VALIDITY_CHECK if role is Role.ANONYMOUS else Track.CROSS_REFERRAL
    decided = route(facts(role, customer=customer, related=related))
    assert decided == Route(expected, CLAUSES_FOR_TRACK[expected])


def test_anti_social_behaviour_with_a_perceived_motivation_is_not_plain() -> None:
    report = ReportSubmitted.model_validate(
        {
            "channel": "telephone",
            "reporter": {"role": "survivor"},
            "survivor": {"is_customer": True},
            "alleged_perpetrators": [{"kind": "customer"}],
            "incident": {
                "categories": ["physical_attack"],
                "perceived_motivation": ["race"],
                "related_policy": "anti_social_behaviour",
            },
        }
    )
    assert classify(report.incident.categories, report.incident.perceived_motivation) is (
        Classification.HATE_CRIME
    )
    assert route_of(report).track is Track.CUSTOMER_CASE


# --------------------------------------------------------------------------- feedback

# 3.2.3: those reporting for someone else get no feedback on follow-up actions; an
# anonymous reporter cannot be given any. The survivor and the landlord's own staff can.
FEEDBACK_CASES = [
    pytest.param(Role.SURVIVOR, True, id="survivor"),
    pytest.param(Role.WITNESS, False, id="witness"),
    pytest.param(Role.THIRD_PARTY, False, id="third_party"),
    pytest.param(Role.ANONYMOUS, False, id="anonymous"),
    pytest.param(Role.STAFF_OBSERVER, True, id="staff_observer"),
    pytest.param(Role.PARTNER_AGENCY, False, id="partner_agency"),
]


def test_feedback_table_covers_every_reporter_role() -> None:
    roles = [case.values[0] for case in FEEDBACK_CASES]
    assert len(roles) == len(set(roles))
    assert set(roles) == set(Role)


@pytest.mark.parametrize(("role", "expected"), FEEDBACK_CASES)
def test_reporter_receives_feedback(role: Role, expected: bool) -> None:
    assert reporter_receives_feedback(role) is expected


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_feedback_is_refused_exactly_to_those_reporting_for_someone_else_or_anonymously(
    role: Role,
) -> None:
    assert reporter_receives_feedback(role) is not (
        role in FOR_SOMEONE_ELSE or role is Role.ANONYMOUS
    )


# --------------------------------------------------------------------------- matrix

CATEGORY_SETS = {
    "no-categories": frozenset(),
    "online-only": frozenset({Cat.ONLINE_ABUSE}),
    "online-plus-verbal": frozenset({Cat.ONLINE_ABUSE, Cat.VERBAL_ABUSE}),
    "attack": frozenset({Cat.PHYSICAL_ATTACK}),
    "arson-graffiti": frozenset({Cat.ARSON, Cat.GRAFFITI}),
}
PERPETRATOR_SETS = {
    "none-named": frozenset(),
    "customer": frozenset({Perp.CUSTOMER}),
    "staff": frozenset({Perp.STAFF}),
    "acting-for-landlord": frozenset({Perp.ACTING_FOR_LANDLORD}),
    "not-customer": frozenset({Perp.NOT_CUSTOMER}),
    "unknown": frozenset({Perp.UNKNOWN}),
    "not-customer+customer": frozenset({Perp.NOT_CUSTOMER, Perp.CUSTOMER}),
    "unknown+staff": frozenset({Perp.UNKNOWN, Perp.STAFF}),
}

RELATED_POLICIES: tuple[Rel | None, ...] = (None, *Rel)

MATRIX_FACTS = {
    f"{role}-{'customer' if customer else 'non-customer'}-"
    f"{'staff' if staff else 'not-staff'}-{cats}-perp:{perps}-related:{related}": RoutingFacts(
        role, customer, staff, PERPETRATOR_SETS[perps], CATEGORY_SETS[cats], related
    )
    for role, customer, staff, cats, perps, related in itertools.product(
        Role, (True, False), (True, False), CATEGORY_SETS, PERPETRATOR_SETS, RELATED_POLICIES
    )
}
MATRIX = [pytest.param(f, id=name) for name, f in MATRIX_FACTS.items()]


@pytest.mark.parametrize("routing_facts", MATRIX)
def test_exactly_one_track_and_it_respects_the_policy(routing_facts: RoutingFacts) -> None:
    decided = route(routing_facts)
    assert isinstance(decided, Route)
    assert isinstance(decided.track, Track)
    assert decided.clauses == CLAUSES_FOR_TRACK[decided.track]
    assert route(routing_facts) == decided, "routing must be deterministic"

    track = decided.track
    f = routing_facts
    within_reach = bool(WITHIN_REACH & f.perpetrator_kinds)
    online_only = f.categories == {Cat.ONLINE_ABUSE}

    # 4.3: a staff survivor always goes to the grievance policy, and only a staff survivor.
    assert (track is Track.STAFF_GRIEVANCE) == f.survivor_is_staff
    if f.survivor_is_staff:
        return
    # 3.2.5: anonymous reports are checked for validity first.
    assert (track is Track.ANONYMOUS_VALIDITY_CHECK) == (f.reporter_role is Role.ANONYMOUS)
    if f.reporter_role is Role.ANONYMOUS:
        return
    # 1.2: domestic abuse and anti-social behaviour are cross-referred to their policies,
    # whoever reports, whoever the survivor and perpetrator, whatever the form.
    assert (track is Track.CROSS_REFERRAL) == (f.related_policy is not None)
    if f.related_policy is not None:
        return
    # 3.1: online abuse only is advice only; any other form takes the normal route.
    assert (track is Track.ONLINE_ADVICE_ONLY) == online_only
    if online_only:
        return
    # Customers-only processes are only for customers (3.2.3, 3.2.4, 3.3).
    if track in {Track.CUSTOMER_CASE, Track.THIRD_PARTY_DISCREET_CONTACT}:
        assert f.survivor_is_customer
    assert (track is Track.THIRD_PARTY_DISCREET_CONTACT) == (
        f.survivor_is_customer and f.reporter_role in FOR_SOMEONE_ELSE
    )
    # 3.2.3: whoever is told nothing of the case's discreet contact gets no feedback.
    if track is Track.THIRD_PARTY_DISCREET_CONTACT:
        assert not reporter_receives_feedback(f.reporter_role)
    if f.survivor_is_customer:
        assert track in {Track.CUSTOMER_CASE, Track.THIRD_PARTY_DISCREET_CONTACT}
        return
    # Non-customer survivor: investigation when the perpetrator is within reach (3.2.5,
    # 2.6), otherwise the Hate Crime Reporting Centre (3.2.6).
    expected = (
        Track.PERPETRATOR_INVESTIGATION if within_reach else Track.HATE_CRIME_REPORTING_CENTRE
    )
    assert track is expected


def test_matrix_reaches_every_track() -> None:
    reached = {route(f).track for f in MATRIX_FACTS.values()}
    assert reached == set(Track)


@pytest.mark.parametrize("related", list(Rel), ids=str)
def test_matrix_cross_refers_each_related_policy(related: Rel) -> None:
    tracks = {route(f).track for f in MATRIX_FACTS.values() if f.related_policy is related}
    assert tracks == {Track.STAFF_GRIEVANCE, Track.ANONYMOUS_VALIDITY_CHECK, Track.CROSS_REFERRAL}


def test_without_related_policy_the_matrix_never_cross_refers() -> None:
    tracks = {route(f).track for f in MATRIX_FACTS.values() if f.related_policy is None}
    assert tracks == set(Track) - {Track.CROSS_REFERRAL}


# --------------------------------------------------------------------------- reference


@pytest.mark.parametrize(
    ("year", "sequence", "expected"),
    [
        pytest.param(2026, 1, "HHC-2026-000001", id="first"),
        pytest.param(2026, 42, "HHC-2026-000042", id="padded"),
        pytest.param(2027, 999_999, "HHC-2027-999999", id="six-digits"),
        pytest.param(2027, 1_234_567, "HHC-2027-1234567", id="overflow-not-truncated"),
    ],
)
def test_case_reference(year: int, sequence: int, expected: str) -> None:
    assert case_reference(year, sequence) == expected
