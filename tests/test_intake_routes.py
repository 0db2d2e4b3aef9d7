"""Intake end to end (issue: every reporting route, routing, consent): each track and each
channel, over HTTP and the inbound topic, asserting what the downstream services did."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from hhc_contracts import Envelope, EventHeaders, Topic, dead_letter_topic
from hhc_contracts.vocabulary import Channel
from hhc_devstack.pytest_plugin import Broker, eventually, kafka_consumer
from hhc_devstack.system import ServiceProcesses

from .conftest import STAFF_SUBJECT, report_body, wait_for_timeline

Clients = dict[str, httpx.AsyncClient]


def body_for(**changes: Any) -> dict[str, Any]:
    """The issue's report without immediate danger, changed by dotted paths."""
    body = report_body(immediate_danger=False)
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return body


async def open_actions(clients: Clients, case_id: str) -> list[str]:
    await wait_for_timeline(clients["reporting"], case_id, "risk.risk-assessed")
    actions = (await clients["risk"].get(f"/v1/cases/{case_id}/actions")).json()
    return sorted(a["kind"] for a in actions if a["kind"] != "risk_review")


async def referrals_of(clients: Clients, case_id: str) -> list[Any]:
    """The case's referrals; none while referrals has not heard of the case (404)."""
    response = await clients["referrals"].get(f"/v1/cases/{case_id}/referrals")
    if response.status_code == 404:
        return []
    response.raise_for_status()
    found: list[Any] = response.json()
    return found


async def referrals(clients: Clients, case_id: str, count: int) -> dict[str, str]:
    async def decided() -> dict[str, str] | None:
        found = await referrals_of(clients, case_id)
        return {r["partner"]: r["status"] for r in found} if len(found) >= count else None

    return await eventually(decided, message="referrals not decided")


TRACKS: list[tuple[str, dict[str, Any], str, Callable[[list[str]], bool]]] = [
    (
        "customer case",
        body_for(),
        "customer_case",
        lambda kinds: (
            "support_and_advocacy_referral" in kinds and "perpetrator_enforcement" in kinds
        ),
    ),
    (
        "hate crime reporting centre",
        body_for(
            survivor={"is_customer": False, "name": "G. Visitor"},
            alleged_perpetrators=[{"kind": "unknown"}],
            incident__categories=["physical_attack"],
        ),
        "hate_crime_reporting_centre",
        lambda kinds: (
            "give_advice" in kinds
            and "police_referral" in kinds
            and "perpetrator_enforcement" not in kinds
        ),
    ),
    (
        "perpetrator investigation",
        body_for(survivor={"is_customer": False}),
        "perpetrator_investigation",
        lambda kinds: "perpetrator_enforcement" in kinds,
    ),
    (
        "staff survivor",
        body_for(survivor={"is_customer": False, "is_staff": True}),
        "staff_grievance",
        lambda kinds: kinds == ["refer_to_line_manager"],
    ),
    (
        "third party for a customer",
        # Consent is the survivor's to give, not the reporter's (3.5.2).
        body_for(reporter={"role": "third_party", "name": "H. Friend"}, consent={}),
        "third_party_discreet_contact",
        lambda kinds: kinds == ["discreet_contact"],
    ),
    (
        "anonymous",
        body_for(reporter={"role": "anonymous"}, consent={}),
        "anonymous_validity_check",
        lambda kinds: kinds == ["validity_investigation"],
    ),
    (
        "online abuse only",
        body_for(incident__categories=["online_abuse"]),
        "online_advice_only",
        lambda kinds: kinds == ["give_advice"],
    ),
    (
        "domestic abuse",
        body_for(incident__related_policy="domestic_abuse"),
        "cross_referral",
        lambda kinds: kinds == ["policy_cross_referral"],
    ),
]


@pytest.mark.parametrize(
    ("body", "track", "expect"), [t[1:] for t in TRACKS], ids=[t[0] for t in TRACKS]
)
async def test_each_track_reaches_the_right_downstream_work(
    shared_clients: Clients,
    body: dict[str, Any],
    track: str,
    expect: Callable[[list[str]], bool],
) -> None:
    response = await shared_clients["intake"].post("/v1/reports", json=body)
    assert response.status_code == 202, response.text
    case_id = response.json()["case_id"]

    case = (await shared_clients["intake"].get(f"/v1/cases/{case_id}")).json()
    assert case["track"] == track
    kinds = await open_actions(shared_clients, case_id)
    assert expect(kinds), kinds
    if track == "perpetrator_investigation":
        await wait_for_timeline(shared_clients["reporting"], case_id, "enforcement.case-opened")


async def test_third_party_and_anonymous_reporters_never_read_the_case_back(
    shared_clients: Clients, shared_system: ServiceProcesses
) -> None:
    intake = shared_clients["intake"]
    lookup = f"{shared_system.public_url('intake')}/v1/report-status"
    own = (await intake.post("/v1/reports", json=body_for())).json()
    async with httpx.AsyncClient() as public:
        status = await public.post(
            lookup, json={"reference": own["reference"], "status_code": own["status_code"]}
        )
        assert status.status_code == 200, status.text
        assert status.json() == {
            "reference": own["reference"],
            "status": "open",
            "opened_at": status.json()["opened_at"],
        }
        wrong_code = await public.post(
            lookup, json={"reference": own["reference"], "status_code": "0000 0000 0000 0000"}
        )
        assert wrong_code.status_code == 404
        # An adviser gives a new code by phone; the old one stops working.
        reissued = await intake.post(f"/v1/cases/{own['case_id']}/status-code")
        assert reissued.status_code == 200, reissued.text
        new_code = reissued.json()["status_code"]
        old = await public.post(
            lookup, json={"reference": own["reference"], "status_code": own["status_code"]}
        )
        assert old.status_code == 404
        new = await public.post(
            lookup, json={"reference": own["reference"], "status_code": new_code}
        )
        assert new.status_code == 200
        for role in ("third_party", "anonymous", "witness"):
            other = (
                await intake.post("/v1/reports", json=body_for(reporter={"role": role}, consent={}))
            ).json()
            # 3.2.3: no code is given to them, and none opens the case to them.
            assert other["status_code"] is None
            refused = await intake.post(f"/v1/cases/{other['case_id']}/status-code")
            assert refused.status_code == 404
            for code in (own["status_code"], "0000 0000 0000 0000"):
                answer = await public.post(
                    lookup, json={"reference": other["reference"], "status_code": code}
                )
                assert (answer.status_code, answer.json()) == (
                    wrong_code.status_code,
                    wrong_code.json(),
                )


@pytest.mark.parametrize("channel", list(Channel), ids=str)
async def test_every_channel_over_http(shared_clients: Clients, channel: Channel) -> None:
    response = await shared_clients["intake"].post(
        "/v1/reports", json=body_for(channel=channel.value)
    )
    case_id = response.json()["case_id"]
    case = (await shared_clients["intake"].get(f"/v1/cases/{case_id}")).json()
    assert case["reports"][0]["channel"] == channel.value
    assert await open_actions(shared_clients, case_id)


def submission(body: dict[str, Any]) -> Envelope:
    now = datetime.now(UTC)
    event_id = uuid.uuid4()
    return Envelope(
        event_id=event_id,
        event_type="intake.report-submitted",
        schema_version=1,
        producer="crm",
        case_id=None,
        occurred_at=now,
        correlation_id=event_id,
        payload=body,
    )


async def publish_submissions(broker: Broker, envelopes: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send_and_wait(
                Topic.INTAKE_SUBMISSIONS.value,
                envelope.model_dump_json().encode(),
                key=str(envelope.event_id).encode(),
                headers=[(k, v.encode()) for k, v in envelope.headers().items()],
            )
    finally:
        await producer.stop()


async def cases_caused_by(broker: Broker, event_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """report-received events on the cases topic, by the submission that caused them."""
    found: dict[uuid.UUID, list[Any]] = {event_id: [] for event_id in event_ids}
    async with kafka_consumer(broker.bootstrap_servers, Topic.INTAKE_CASES.value) as consumer:

        async def collect() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    try:
                        envelope = Envelope.model_validate_json(record.value)
                    except ValidationError:
                        continue  # other tests' poison messages share the topic
                    if envelope.causation_id in found:
                        found[envelope.causation_id].append(envelope)
            return all(found.values())

        await eventually(collect, timeout=60, message="submissions opened no case")
    return found


async def test_every_channel_over_the_inbound_topic_with_http_results(
    shared_clients: Clients, broker: Broker
) -> None:
    envelopes = [submission(body_for(channel=channel.value)) for channel in Channel]
    # A redelivered submission opens no second case.
    await publish_submissions(broker, [*envelopes, envelopes[0]])

    opened = await cases_caused_by(broker, {e.event_id for e in envelopes})
    for envelope in envelopes:
        [received] = opened[envelope.event_id]
        assert received.payload["channel"] == envelope.payload["channel"]
        assert received.payload["track"] == "customer_case"
        assert await open_actions(shared_clients, str(received.case_id))


async def test_invalid_inbound_submission_is_dead_lettered_naming_the_field(
    shared_clients: Clients, broker: Broker
) -> None:
    bad = submission(body_for(incident__categories=["shouting"], favourite_colour="blue"))
    await publish_submissions(broker, [bad])

    async with kafka_consumer(
        broker.bootstrap_servers, dead_letter_topic(Topic.INTAKE_SUBMISSIONS.value)
    ) as consumer:

        async def dead_lettered() -> str | None:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    headers = {name: value.decode() for name, value in record.headers}
                    if headers.get(EventHeaders.EVENT_ID) == str(bad.event_id):
                        return headers[EventHeaders.DLQ_REASON]
            return None

        reason = await eventually(dead_lettered, message="invalid submission not dead-lettered")
    assert "incident.categories.0" in reason
    assert "favourite_colour" in reason


async def test_a_further_report_joins_the_case_and_risk_reassesses(
    shared_clients: Clients,
) -> None:
    intake, risk = shared_clients["intake"], shared_clients["risk"]
    first = (await intake.post("/v1/reports", json=body_for())).json()
    further = await intake.post(
        f"/v1/cases/{first['case_id']}/reports",
        json=body_for(incident__categories=["physical_attack"]),
    )
    assert further.status_code == 202
    # The same case; a further report gets no new status code.
    assert further.json() == {**first, "status_code": None}

    async def reassessed() -> list[Any] | None:
        response = await risk.get(f"/v1/cases/{first['case_id']}/assessments")
        found: list[Any] = response.json() if response.status_code == 200 else []
        return found if len(found) == 2 else None

    assessments = await eventually(reassessed, message="no reassessment")
    assert [a["basis"] for a in assessments] == ["report", "further_report"]
    assert assessments[1]["risk_level"] == "high"  # violence used (matrix)
    case = (await intake.get(f"/v1/cases/{first['case_id']}")).json()
    assert [r["further_report"] for r in case["reports"]] == [False, True]
    missing = await intake.post(f"/v1/cases/{uuid.uuid4()}/reports", json=body_for())
    assert missing.status_code == 404


async def test_consent_given_later_is_published_and_releases_withheld_referrals(
    shared_clients: Clients,
) -> None:
    intake = shared_clients["intake"]
    body = body_for(consent={})
    case_id = (await intake.post("/v1/reports", json=body)).json()["case_id"]
    assert await referrals(shared_clients, case_id, 2) == {
        "stop_hate_uk": "pending_consent",
        "anthony_walker_foundation": "pending_consent",
    }

    changed = await intake.put(
        f"/v1/cases/{case_id}/consent",
        json={
            "share_with_partners": True,
            "given_by": "survivor",
            "safe_contact": {"text_message": True},
            "recorded_by": "Officer 7",
        },
    )
    assert changed.status_code == 200
    assert changed.json()["consent_to_share"] == "given"

    async def released() -> bool:
        found = await referrals_of(shared_clients, case_id)
        # Released, and carried out: both are emailed (the test system's mail server).
        return all(r["status"] == "sent" and r["basis"] == "consent" for r in found)

    await eventually(released, message="withheld referrals not released")
    await wait_for_timeline(shared_clients["reporting"], case_id, "intake.consent-changed")
    case = (await intake.get(f"/v1/cases/{case_id}")).json()
    assert [c["consent_to_share"] for c in case["consent_history"]] == ["not_asked", "given"]
    # Who recorded it is who was signed in, whatever the body said.
    assert case["consent_history"][1]["recorded_by"] == STAFF_SUBJECT


async def test_idempotency_key_returns_the_first_answer_and_opens_no_second_case(
    shared_clients: Clients,
) -> None:
    intake = shared_clients["intake"]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = body_for()
    first = await intake.post("/v1/reports", json=body, headers=key)
    again = await intake.post("/v1/reports", json=body, headers=key)
    assert first.status_code == again.status_code == 202
    # Only the status code's hash is kept: a retry's answer cannot show it again.
    assert {**first.json(), "status_code": None} == {**again.json(), "status_code": None}
    other = await intake.post("/v1/reports", json=body_for(channel="email"), headers=key)
    assert other.status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"incident__categories": []}, "incident.categories"),
        ({"incident__categories": ["shouting"]}, "incident.categories.0"),
        ({"channel": "pigeon"}, "channel"),
        ({"reporter": {"role": "anonymous", "name": "Named Person"}}, "reporter"),
        ({"unexpected": True}, "unexpected"),
        ({"incident__occurred_at": "2026-11-20T21:00:00"}, "incident.occurred_at"),
    ],
    ids=[
        "no category",
        "unknown category",
        "unknown channel",
        "named anonymous",
        "unknown field",
        "time without zone",
    ],
)
async def test_bad_input_gets_422_naming_each_field(
    shared_clients: Clients, change: dict[str, Any], field: str
) -> None:
    response = await shared_clients["intake"].post("/v1/reports", json=body_for(**change))
    assert response.status_code == 422
    fields = [error["field"] for error in response.json()["errors"]]
    assert any(f == field or f.startswith(field) for f in fields), fields
    assert "Named Person" not in response.text


async def test_oversized_body_is_refused(shared_clients: Clients) -> None:
    body = body_for(incident__description="x" * 300_000)
    response = await shared_clients["intake"].post("/v1/reports", json=body)
    assert response.status_code == 413


async def test_openapi_shows_an_example_for_each_reporter_route(shared_clients: Clients) -> None:
    document = (await shared_clients["intake"].get("/openapi.json")).json()
    examples = document["paths"]["/v1/reports"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    assert {
        "survivor",
        "third_party",
        "witness",
        "anonymous",
        "staff_observer",
        "partner_agency",
    } <= set(examples)
