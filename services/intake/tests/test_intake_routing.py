"""Intake's pure rules against the policy: classification (3.1, 3.1.3) and routing
(design.md, routing rules; policy 3.1, 3.2, 4.3)."""

import itertools

import pytest

from hhc_contracts.vocabulary import (
    Classification,
    IncidentCategory,
    PerceivedMotivation,
    PerpetratorKind,
    ReporterRole,
    Track,
)
from hhc_intake.domain import (
    CRIMINAL_CATEGORIES,
    Route,
    RoutingFacts,
    case_reference,
    classify,
    route,
)

Cat = IncidentCategory
Mot = PerceivedMotivation
Perp = PerpetratorKind
Role = ReporterRole

# The clauses each track cites (design.md, routing rules).
CLAUSES_FOR_TRACK = {
    Track.CUSTOMER_CASE: ("3.3",),
    Track.HATE_CRIME_REPORTING_CENTRE: ("3.2.6",),
    Track.PERPETRATOR_INVESTIGATION: ("3.2.5", "2.6"),
    Track.STAFF_GRIEVANCE: ("4.3",),
    Track.THIRD_PARTY_DISCREET_CONTACT: ("3.2.3", "3.2.4"),
    Track.ANONYMOUS_VALIDITY_CHECK: ("3.2.5",),
    Track.ONLINE_ADVICE_ONLY: ("3.1",),
}

# Perpetrators the landlord can act against (1.3, 2.6, 3.2.5).
WITHIN_REACH = {Perp.CUSTOMER, Perp.STAFF, Perp.ACTING_FOR_LANDLORD}


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
) -> RoutingFacts:
    return RoutingFacts(
        reporter_role=role,
        survivor_is_customer=customer,
        survivor_is_staff=staff,
        perpetrator_kinds=frozenset(perps),
        categories=frozenset(cats),
    )


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
        facts(Role.THIRD_PARTY, customer=False),
        Track.HATE_CRIME_REPORTING_CENTRE,
        id="third-party-for-non-customer",
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
]


@pytest.mark.parametrize(("routing_facts", "expected"), ROUTING_CASES)
def test_route(routing_facts: RoutingFacts, expected: Track) -> None:
    decided = route(routing_facts)
    assert decided == Route(expected, CLAUSES_FOR_TRACK[expected])


# Every reporter role, for a customer and for a non-customer survivor (not staff, unknown
# perpetrator, verbal abuse). A witness reporting for a customer is a third party in the
# sense of 3.2.2 ("third parties who may be aware or have witnessed this type of
# behaviour"), so 3.2.3/3.2.4 apply.
WITNESS_IS_A_THIRD_PARTY = pytest.mark.xfail(
    strict=True,
    reason=(
        "3.2.2 names those who 'have witnessed' the behaviour as third parties; a witness "
        "reporting for a customer should get discreet contact and no feedback (3.2.3, "
        "3.2.4), but route() only treats ReporterRole.THIRD_PARTY that way"
    ),
)

EVERY_ROLE_CASES = [
    pytest.param(Role.SURVIVOR, True, Track.CUSTOMER_CASE, id="survivor-customer"),
    pytest.param(
        Role.WITNESS,
        True,
        Track.THIRD_PARTY_DISCREET_CONTACT,
        id="witness-customer",
        marks=WITNESS_IS_A_THIRD_PARTY,
    ),
    pytest.param(
        Role.THIRD_PARTY, True, Track.THIRD_PARTY_DISCREET_CONTACT, id="third_party-customer"
    ),
    pytest.param(Role.ANONYMOUS, True, Track.ANONYMOUS_VALIDITY_CHECK, id="anonymous-customer"),
    # 3.3.1 distinguishes "observations" (staff) from third-party reporting.
    pytest.param(Role.STAFF_OBSERVER, True, Track.CUSTOMER_CASE, id="staff_observer-customer"),
    pytest.param(Role.PARTNER_AGENCY, True, Track.CUSTOMER_CASE, id="partner_agency-customer"),
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

MATRIX_FACTS = {
    f"{role}-{'customer' if customer else 'non-customer'}-"
    f"{'staff' if staff else 'not-staff'}-{cats}-perp:{perps}": RoutingFacts(
        role, customer, staff, PERPETRATOR_SETS[perps], CATEGORY_SETS[cats]
    )
    for role, customer, staff, cats, perps in itertools.product(
        Role, (True, False), (True, False), CATEGORY_SETS, PERPETRATOR_SETS
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
    # 3.1: online abuse only is advice only; any other form takes the normal route.
    assert (track is Track.ONLINE_ADVICE_ONLY) == online_only
    if online_only:
        return
    # Customers-only processes are only for customers (3.2.3, 3.2.4, 3.3).
    if track in {Track.CUSTOMER_CASE, Track.THIRD_PARTY_DISCREET_CONTACT}:
        assert f.survivor_is_customer
    assert (track is Track.THIRD_PARTY_DISCREET_CONTACT) == (
        f.survivor_is_customer and f.reporter_role is Role.THIRD_PARTY
    )
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
