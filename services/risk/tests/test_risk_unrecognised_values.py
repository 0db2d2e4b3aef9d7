"""Risk's rules on values the vocabulary does not know, as a newer producer may send
them: each takes the default that protects the survivor and plans no step the policy
does not name. Pure: no I/O."""

import dataclasses
import itertools
import json
from typing import Any

import pytest

from hhc_contracts.schemagen import EXAMPLES_DIR, file_name
from hhc_contracts.v1 import ReportReceived
from hhc_contracts.vocabulary import (
    ActionKind,
    Classification,
    IncidentCategory,
    Partner,
    PerceivedMotivation,
    PerpetratorKind,
    RiskLevel,
    Track,
)
from hhc_risk.assessment import REVIEW_INTERVAL, review_interval
from hhc_risk.handlers import facts_of
from hhc_risk.playbook import (
    CaseFacts,
    PlannedAction,
    first_assessment,
    plan_actions,
    report_answers,
    support_partners,
    supported_at_once,
)

K = ActionKind
NEW_TRACK = Track("police_led_investigation")
NEW_CLASSIFICATION = Classification("hate_crime_online")
NEW_CATEGORY = IncidentCategory("stalking")
NEW_MOTIVATION = PerceivedMotivation("sex_characteristics")
NEW_PERPETRATOR = PerpetratorKind("contractor_of_partner")
NEW_LEVEL = RiskLevel("critical")

# The first steps tracks ask for (1.2, 3.1, 3.2.4, 3.2.5, 3.2.6, 4.3): never one for a
# track unknown.
TRACK_FIRST_STEPS = {
    K.REFER_TO_LINE_MANAGER,
    K.DISCREET_CONTACT,
    K.VALIDITY_INVESTIGATION,
    K.POLICY_CROSS_REFERRAL,
    K.GIVE_ADVICE,
}


def case(**overrides: Any) -> CaseFacts:
    base = CaseFacts(
        survivor_is_customer=True,
        immediate_danger=False,
        classification=Classification.HARASSMENT,
        track=Track.CUSTOMER_CASE,
        categories=frozenset({IncidentCategory.VERBAL_ABUSE}),
        perpetrator_kinds=frozenset({PerpetratorKind.UNKNOWN}),
    )
    return dataclasses.replace(base, **overrides)


def kinds(actions: list[PlannedAction]) -> list[ActionKind]:
    return [action.kind for action in actions]


# Every combination of what else the case says, so an equivalence holds whatever it is.
CONTEXTS = [
    {
        "survivor_is_customer": customer,
        "immediate_danger": danger,
        "classification": classification,
        "vulnerable_adult": vulnerable,
        "children_in_household": vulnerable,
        "capacity_concern": vulnerable,
    }
    for customer, danger, classification, vulnerable in itertools.product(
        (True, False), (True, False), tuple(Classification), (True, False)
    )
]


def context_id(context: dict[str, Any]) -> str:
    return "-".join(str(value) for value in context.values())


# --------------------------------------------------------------------------- perpetrators


@pytest.mark.parametrize("context", CONTEXTS, ids=context_id)
def test_an_unknown_perpetrator_kind_is_planned_for_as_an_unknown_perpetrator(
    context: dict[str, Any],
) -> None:
    unknown = case(**context, perpetrator_kinds=frozenset({NEW_PERPETRATOR}))
    known_unknown = case(**context, perpetrator_kinds=frozenset({PerpetratorKind.UNKNOWN}))
    assert plan_actions(unknown) == plan_actions(known_unknown)


def test_no_injunction_against_an_unknown_kind_of_perpetrator() -> None:
    # 3.3.1: an injunction needs someone to be made against.
    danger = case(immediate_danger=True, perpetrator_kinds=frozenset({NEW_PERPETRATOR}))
    assert not danger.perpetrator_known
    assert K.EX_PARTE_INJUNCTION not in kinds(plan_actions(danger))
    beside_a_customer = dataclasses.replace(
        danger, perpetrator_kinds=frozenset({NEW_PERPETRATOR, PerpetratorKind.CUSTOMER})
    )
    assert beside_a_customer.perpetrator_known
    assert K.EX_PARTE_INJUNCTION in kinds(plan_actions(beside_a_customer))


# --------------------------------------------------------------------------- tracks


@pytest.mark.parametrize("context", CONTEXTS, ids=context_id)
def test_an_unknown_track_is_planned_for_as_a_customer_case(context: dict[str, Any]) -> None:
    # Support straight away (1.4, 3.3.2), a customer case's first contact (3.3.2, 5.2),
    # and no first step of a track of its own.
    planned = plan_actions(case(**context, track=NEW_TRACK))
    assert planned == plan_actions(case(**context, track=Track.CUSTOMER_CASE))
    own_steps = [a for a in planned if a.kind in TRACK_FIRST_STEPS and a.clause != "3.3.2, 5.2"]
    assert own_steps == []


def test_an_unknown_track_is_supported_at_once() -> None:
    assert supported_at_once(NEW_TRACK)
    assert K.SUPPORT_AND_ADVOCACY_REFERRAL in kinds(plan_actions(case(track=NEW_TRACK)))


def test_an_unknown_track_in_immediate_danger_gets_the_playbook() -> None:
    planned = kinds(plan_actions(case(track=NEW_TRACK, immediate_danger=True)))
    assert planned[:2] == [K.INFORM_EMERGENCY_SERVICES, K.VISIT_WITH_RISK_ASSESSMENT]


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize("customer", [True, False])
def test_an_unknown_classification_is_supported_as_hate(customer: bool) -> None:
    unknown = case(classification=NEW_CLASSIFICATION, survivor_is_customer=customer)
    hate = case(classification=Classification.HATE_INCIDENT, survivor_is_customer=customer)
    assert support_partners(unknown) == support_partners(hate) == [Partner.STOP_HATE_UK]
    assert report_answers(unknown)["hate_motivation"] is True
    assert first_assessment(unknown) == first_assessment(hate)


def test_an_unknown_classification_is_not_taken_for_a_crime() -> None:
    # 3.2.6's Police referral is for hate crime; it is not invented for what is unknown.
    unknown = case(classification=NEW_CLASSIFICATION, survivor_is_customer=False)
    assert K.POLICE_REFERRAL not in kinds(plan_actions(unknown))


# --------------------------------------------------------------------------- categories, motivation


@pytest.mark.parametrize("context", CONTEXTS, ids=context_id)
def test_an_unknown_category_is_planned_for_as_harassment(context: dict[str, Any]) -> None:
    # Still harassment (3.1), adding nothing a known category would not.
    verbal_abuse = IncidentCategory.VERBAL_ABUSE
    with_unknown = case(**context, categories=frozenset({verbal_abuse, NEW_CATEGORY}))
    known = case(**context, categories=frozenset({verbal_abuse}))
    assert plan_actions(with_unknown) == plan_actions(known)
    assert first_assessment(with_unknown) == first_assessment(known)


def test_an_unknown_motivation_is_supported_as_hate() -> None:
    unknown = case(
        classification=Classification.HATE_INCIDENT,
        perceived_motivation=frozenset({NEW_MOTIVATION}),
    )
    assert support_partners(unknown) == [Partner.STOP_HATE_UK]


# --------------------------------------------------------------------------- risk levels


@pytest.mark.parametrize("level", list(RiskLevel), ids=str)
def test_review_interval_of_known_levels(level: RiskLevel) -> None:
    assert review_interval(level) == REVIEW_INTERVAL.get(level)


def test_an_unknown_risk_level_is_reviewed_as_the_highest() -> None:
    assert review_interval(NEW_LEVEL) == REVIEW_INTERVAL[RiskLevel.HIGH]


# --------------------------------------------------------------------------- a newer producer


def newer_report_received() -> ReportReceived:
    """The golden intake.report-received as a newer intake might send it: a channel, a
    category, a motivation and a track this vocabulary lacks."""
    message = json.loads(
        (EXAMPLES_DIR / file_name("intake.report-received", 1)).read_text(encoding="utf-8")
    )
    message["payload"] |= {
        "channel": "video_call",
        "categories": ["threats_of_violence", "stalking"],
        "perceived_motivation": ["sex_characteristics"],
        "perpetrator_kinds": ["contractor_of_partner"],
        "track": "police_led_investigation",
    }
    return ReportReceived.model_validate(message["payload"])


def test_a_newer_producers_report_gets_the_safe_plan() -> None:
    report = newer_report_received()
    facts = facts_of(report)
    planned = kinds(plan_actions(facts))

    # Immediate danger: the playbook, as for any track (3.3.1), but no injunction against
    # someone whose kind is unknown.
    assert first_assessment(facts).level is RiskLevel.HIGH
    assert planned[:2] == [K.INFORM_EMERGENCY_SERVICES, K.VISIT_WITH_RISK_ASSESSMENT]
    assert K.SAFEGUARDING_ALERT in planned
    assert K.EX_PARTE_INJUNCTION not in planned
    # Supported at once, with a hate crime agency (3.3.2); no invented first step.
    assert K.SUPPORT_AND_ADVOCACY_REFERRAL in planned
    assert Partner.STOP_HATE_UK in support_partners(facts)
    assert not TRACK_FIRST_STEPS & set(planned)
    # The same plan as for the report in words this vocabulary knows.
    known = dataclasses.replace(
        facts,
        track=Track.CUSTOMER_CASE,
        categories=frozenset({IncidentCategory.THREATS_OF_VIOLENCE}),
        perceived_motivation=frozenset(),
        perpetrator_kinds=frozenset({PerpetratorKind.UNKNOWN}),
    )
    assert plan_actions(facts) == plan_actions(known)
