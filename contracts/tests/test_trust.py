"""Which events a consumer may act on: table-tested against the catalogue's examples."""

import uuid

import pytest

from hhc_contracts import EVENT_TYPES, Envelope, Topic, model_for
from hhc_contracts.examples import example_message
from hhc_contracts.trust import trust_problem


def _example(event_type: str, version: int = 1) -> tuple[Envelope, object]:
    envelope = example_message(EVENT_TYPES[(event_type, version)])
    model = model_for(envelope.event_type, envelope.schema_version)
    assert model is not None
    return envelope, model.model_validate(envelope.payload)


@pytest.mark.parametrize("key", sorted(EVENT_TYPES), ids=lambda key: f"{key[0]}.v{key[1]}")
def test_every_catalogued_example_is_trusted_on_its_own_topic(key: tuple[str, int]) -> None:
    spec = EVENT_TYPES[key]
    envelope, payload = _example(spec.event_type, spec.version)
    assert trust_problem(spec.topic.value, envelope.producer, envelope, payload) is None


def test_an_event_on_another_topic_is_untrusted() -> None:
    envelope, payload = _example("intake.consent-changed")
    problem = trust_problem(Topic.RISK_ACTIONS.value, "intake", envelope, payload)
    assert (
        problem == "intake.consent-changed belongs on hhc.intake.cases.v1, not hhc.risk.actions.v1"
    )


@pytest.mark.parametrize(
    ("event_type", "producer"),
    [
        ("intake.report-received", "evil"),
        ("intake.report-received", "risk"),  # a service writing a topic it does not own
        ("intake.consent-changed", "crm"),
        ("risk.action-required", "referrals"),
        ("audit.access-recorded", "someone"),
    ],
)
def test_a_producer_that_does_not_own_the_topic_is_untrusted(
    event_type: str, producer: str
) -> None:
    envelope, payload = _example(event_type)
    forged = envelope.model_copy(update={"producer": producer})
    topic = EVENT_TYPES[(event_type, 1)].topic.value
    assert trust_problem(topic, producer, forged, payload) is not None


def test_the_producer_header_when_there_must_agree_with_the_envelope() -> None:
    envelope, payload = _example("intake.report-received")
    topic = Topic.INTAKE_CASES.value
    assert trust_problem(topic, None, envelope, payload) is None
    assert trust_problem(topic, "evil", envelope, payload) is not None
    evil = envelope.model_copy(update={"producer": "evil"})
    assert trust_problem(topic, None, evil, payload) is not None


def test_the_envelope_and_payload_must_name_the_same_case() -> None:
    envelope, payload = _example("risk.action-required")
    other_case = envelope.model_copy(update={"case_id": uuid.uuid4()})
    problem = trust_problem(Topic.RISK_ACTIONS.value, "risk", other_case, payload)
    assert problem == "the envelope and the payload name different cases"


def test_other_systems_submit_reports_naming_themselves() -> None:
    # Who may write the submissions topic is the broker's ACLs' to say (issue 9, item 1).
    envelope, payload = _example("intake.report-submitted")
    topic = Topic.INTAKE_SUBMISSIONS.value
    crm = envelope.model_copy(update={"producer": "crm"})
    assert trust_problem(topic, "crm", crm, payload) is None
    assert trust_problem(topic, None, crm, payload) is None
    assert trust_problem(topic, "someone-else", crm, payload) is not None


def test_the_audit_names_any_service_of_the_system() -> None:
    envelope, payload = _example("audit.access-recorded")
    for service in ("intake", "risk", "referrals", "enforcement", "reporting"):
        by = envelope.model_copy(update={"producer": service})
        assert trust_problem(Topic.AUDIT_ACCESS.value, service, by, payload) is None
