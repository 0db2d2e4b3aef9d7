"""Intake's rules on values the vocabulary does not know, as a newer producer may send
them: each takes the default that protects the survivor. Pure, except the last tests,
which post to the HTTP API in-process (refused before anything touches a database)."""

import itertools
import json
from typing import Any

import httpx
import pytest

from hhc_chassis.service import create_app
from hhc_contracts.schemagen import EXAMPLES_DIR, file_name
from hhc_contracts.v1 import ReportReceived
from hhc_contracts.vocabulary import (
    Channel,
    Classification,
    IncidentCategory,
    PerceivedMotivation,
    PerpetratorKind,
    RelatedPolicy,
    ReporterRole,
    Track,
)
from hhc_devstack.pytest_plugin import TokenFactory, bearer
from hhc_intake.app import definition
from hhc_intake.domain import (
    RoutingFacts,
    classify,
    reporter_receives_feedback,
    reports_for_someone_else,
    route,
)
from hhc_intake.settings import IntakeSettings

from .conftest import new_kek

Cat = IncidentCategory
Mot = PerceivedMotivation
Perp = PerpetratorKind
Role = ReporterRole

NEW_CATEGORY = Cat("stalking")
NEW_MOTIVATION = Mot("sex_characteristics")
NEW_ROLE = Role("neighbour")
NEW_PERPETRATOR = Perp("contractor_of_partner")
NEW_POLICY = RelatedPolicy("modern_slavery")


def facts(**overrides: Any) -> RoutingFacts:
    values: dict[str, Any] = {
        "reporter_role": Role.SURVIVOR,
        "survivor_is_customer": True,
        "survivor_is_staff": False,
        "perpetrator_kinds": frozenset({Perp.CUSTOMER}),
        "categories": frozenset({Cat.VERBAL_ABUSE}),
    }
    return RoutingFacts(**(values | overrides))


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("categories", "motivation", "expected"),
    [
        # An unknown motivation is still a perceived motivation (3.1.3).
        pytest.param((Cat.VERBAL_ABUSE,), (NEW_MOTIVATION,), "hate_incident", id="motive"),
        pytest.param((Cat.ARSON,), (NEW_MOTIVATION,), "hate_crime", id="motive-with-crime"),
        pytest.param((), (NEW_MOTIVATION,), "hate_incident", id="motive-alone"),
        # An unknown category is still harassment (3.1), not a known criminal act.
        pytest.param((NEW_CATEGORY,), (), "harassment", id="category"),
        pytest.param((NEW_CATEGORY,), (Mot.RACE,), "hate_incident", id="category-with-motive"),
        pytest.param(
            (NEW_CATEGORY, Cat.PHYSICAL_ATTACK), (Mot.RACE,), "hate_crime", id="beside-crime"
        ),
        pytest.param((NEW_CATEGORY,), (NEW_MOTIVATION,), "hate_incident", id="both-unknown"),
    ],
)
def test_classification_of_unknown_values(
    categories: tuple[Cat, ...], motivation: tuple[Mot, ...], expected: str
) -> None:
    assert classify(categories, motivation) is Classification(expected)


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # 3.1: only online abuse alone is advice only; anything more is acted on.
        pytest.param({"categories": frozenset({NEW_CATEGORY})}, "customer_case", id="category"),
        pytest.param(
            {"categories": frozenset({Cat.ONLINE_ABUSE, NEW_CATEGORY})},
            "customer_case",
            id="category-beside-online-abuse",
        ),
        # 3.2.3, 3.2.4: an unknown reporter is taken as reporting for someone else.
        pytest.param({"reporter_role": NEW_ROLE}, "third_party_discreet_contact", id="role"),
        # 1.2: an unknown interlinked policy does not take the case away from this one.
        pytest.param({"related_policy": NEW_POLICY}, "customer_case", id="related-policy"),
        # Staff harmed at work keep their route whatever else is unknown (4.3).
        pytest.param(
            {"survivor_is_staff": True, "reporter_role": NEW_ROLE},
            "staff_grievance",
            id="staff-with-unknown-role",
        ),
    ],
)
def test_routing_of_unknown_values(overrides: dict[str, Any], expected: str) -> None:
    assert route(facts(**overrides)).track is Track(expected)


CONTEXTS = [
    {"survivor_is_customer": customer, "reporter_role": role, "perceived_motivation": motive}
    for customer, role, motive in itertools.product(
        (True, False), (Role.SURVIVOR, Role.WITNESS, Role.STAFF_OBSERVER), (True, False)
    )
]


@pytest.mark.parametrize("context", CONTEXTS, ids=str)
def test_an_unknown_perpetrator_kind_routes_as_an_unknown_perpetrator(
    context: dict[str, Any],
) -> None:
    # Not someone the landlord can act against (1.3, 2.6): no perpetrator investigation.
    unknown = facts(**context, perpetrator_kinds=frozenset({NEW_PERPETRATOR}))
    assert route(unknown) == route(facts(**context, perpetrator_kinds=frozenset({Perp.UNKNOWN})))


@pytest.mark.parametrize("customer", [True, False])
def test_an_unknown_reporter_routes_as_a_third_party(customer: bool) -> None:
    unknown = facts(reporter_role=NEW_ROLE, survivor_is_customer=customer)
    third_party = facts(reporter_role=Role.THIRD_PARTY, survivor_is_customer=customer)
    assert route(unknown) == route(third_party)


def test_an_unknown_reporter_gets_no_feedback() -> None:
    # 3.2.3: feedback could tell a stranger about someone else's case.
    assert reports_for_someone_else(NEW_ROLE)
    assert reporter_receives_feedback(NEW_ROLE) is False
    assert reporter_receives_feedback(Role.SURVIVOR) is True


# --------------------------------------------------------------------------- a newer producer


def newer_report_received() -> ReportReceived:
    """The golden intake.report-received as a newer intake might send it: a channel, a
    category and a motivation this vocabulary lacks."""
    message = json.loads(
        (EXAMPLES_DIR / file_name("intake.report-received", 1)).read_text(encoding="utf-8")
    )
    message["payload"] |= {
        "channel": "video_call",
        "categories": ["online_abuse", "stalking"],
        "perceived_motivation": ["sex_characteristics"],
    }
    return ReportReceived.model_validate(message["payload"])


def routing_facts_of(report: ReportReceived) -> RoutingFacts:
    return RoutingFacts(
        reporter_role=report.reporter_role,
        survivor_is_customer=report.survivor_is_customer,
        survivor_is_staff=report.survivor_is_staff,
        perpetrator_kinds=frozenset(report.perpetrator_kinds),
        categories=frozenset(report.categories),
        related_policy=report.related_policy,
        perceived_motivation=bool(report.perceived_motivation),
    )


def test_a_newer_producers_report_is_classified_and_routed_safely() -> None:
    report = newer_report_received()
    assert report.channel == "video_call"
    # Hostility perceived, even if of a kind not yet listed: a hate incident (3.1.3).
    assert classify(report.categories, report.perceived_motivation) is Classification.HATE_INCIDENT
    # More than online abuse, so a customer case, not advice only (3.1); the channel a
    # report came by changes nothing, known or not.
    decided = route(routing_facts_of(report))
    assert decided.track is Track.CUSTOMER_CASE
    by_telephone = report.model_copy(update={"channel": Channel.TELEPHONE})
    assert route(routing_facts_of(by_telephone)) == decided


# --------------------------------------------------------------------------- strict edge

REPORT: dict[str, Any] = {
    "channel": "telephone",
    "reporter": {"role": "survivor"},
    "survivor": {"is_customer": True},
    "alleged_perpetrators": [{"kind": "customer"}],
    "incident": {"categories": ["verbal_abuse"]},
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"channel": "video_call"}, "channel", id="channel"),
        pytest.param(
            {"incident": {"categories": ["verbal_abuse", "stalking"]}},
            "incident.categories.1",
            id="category",
        ),
        pytest.param(
            {"alleged_perpetrators": [{"kind": "alien"}]},
            "alleged_perpetrators.0.kind",
            id="perpetrator-kind",
        ),
    ],
)
async def test_the_http_api_refuses_unknown_values_naming_the_field(
    change: dict[str, Any], field: str, issue_token: TokenFactory
) -> None:
    app = create_app(definition(IntakeSettings(case_key_kek=new_kek())))
    # No lifespan: no database or broker. The token is checked against the test issuer's
    # keys; validation refuses the body before the route, which would fail without them,
    # runs.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        response = await client.post(
            "/v1/reports", json={**REPORT, **change}, headers=bearer(issue_token("adviser"))
        )
    assert response.status_code == 422
    body = response.json()
    assert [error["field"] for error in body["errors"]] == [field]
    assert body["errors"][0]["message"].startswith("Input should be ")
    assert [item["type"] for item in body["detail"]] == ["enum"]
