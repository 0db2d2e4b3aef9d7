"""The case lifecycle served: intake in-process on a real PostgreSQL and the session's
broker, risk's levels fed to it as risk publishes them. Closure and its agreement, what a
closed case refuses, further reports on a closed case, and a report that turned out
otherwise (3.2.4)."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from hhc_contracts import Envelope, Topic
from hhc_contracts.v1 import RiskAssessed
from hhc_contracts.vocabulary import RiskLevel
from hhc_devstack.pytest_plugin import Broker, TokenFactory, eventually, kafka_consumer

from .conftest import Intake
from .lifecycle_support import Staff, intake_serving, publish_as_risk, report_body, staged

STATUS_CHANGED = "intake.case-status-changed"


@pytest.fixture(scope="module")
async def intake(postgres_server_url: str, broker: Broker) -> AsyncIterator[Intake]:
    # A window of an hour: a case closed two hours ago (backdated) is past it.
    async with intake_serving(
        postgres_server_url, broker, reopen_window=timedelta(hours=1)
    ) as served:
        yield served


@pytest.fixture
async def caseworker(intake: Intake, issue_token: TokenFactory) -> AsyncIterator[Staff]:
    staff = Staff(intake, issue_token, "caseworker", team="north")
    yield staff
    await staff.close()


@pytest.fixture
async def manager(intake: Intake, issue_token: TokenFactory) -> AsyncIterator[Staff]:
    staff = Staff(intake, issue_token, "manager", team="north")
    yield staff
    await staff.close()


async def assessed(broker: Broker, staff: Staff, case_id: str, level: RiskLevel) -> None:
    """Risk assesses the case; intake has heard it once the case shows the level."""
    await publish_as_risk(
        broker,
        RiskAssessed(
            assessment_id=uuid.uuid4(),
            case_id=uuid.UUID(case_id),
            risk_level=level,
            basis="report",
            assessed_at=datetime.now(UTC),
        ),
    )

    async def heard() -> bool:
        return bool((await staff.case(case_id))["risk_level"] == level.value)

    await eventually(heard, message="intake did not hear risk's level")


async def test_a_standard_risk_case_closes_with_its_reason_and_then_refuses_changes(
    intake: Intake, broker: Broker, caseworker: Staff, manager: Staff
) -> None:
    case_id = await caseworker.open_case()
    assert (await caseworker.case(case_id))["status"] == "open"
    await assessed(broker, caseworker, case_id, RiskLevel.STANDARD)
    moved = await caseworker.client.post(
        f"/v1/cases/{case_id}/status", json={"status": "in_progress"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "in_progress"

    closing = f"/v1/cases/{case_id}/closure"
    no_why = await caseworker.client.post(closing, json={"reason": "no_further_action"})
    assert no_why.status_code == 422
    assert [e["field"] for e in no_why.json()["errors"]] == ["detail"]

    closed = await caseworker.client.post(closing, json={"reason": "resolved"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    closure = closed.json()["closure"]
    assert (closure["reason"], closure["closed_by"], closure["agreed_by"]) == (
        "resolved",
        caseworker.subject,
        None,
    )

    # Closed: no new owner, no other status, no second closure; reopening only.
    owner = await manager.client.put(f"/v1/cases/{case_id}/owner", json={"owner": "someone"})
    assert owner.status_code == 409
    again = await caseworker.client.post(closing, json={"reason": "resolved"})
    assert again.status_code == 409
    back = await caseworker.client.post(
        f"/v1/cases/{case_id}/status", json={"status": "in_progress"}
    )
    assert back.status_code == 409

    # Risk hears the closure (and stops the case's clocks) from the broker.
    async with kafka_consumer(broker.bootstrap_servers, Topic.INTAKE_CASES.value) as consumer:
        found: list[dict[str, Any]] = []

        async def published() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value)
                    if envelope.event_type == STATUS_CHANGED and str(envelope.case_id) == case_id:
                        found.append(envelope.payload)
            return any(payload["status"] == "closed" for payload in found)

        await eventually(published, timeout=60, message="the closure was not published")
    closing_event = next(payload for payload in found if payload["status"] == "closed")
    assert closing_event["previous_status"] == "in_progress"
    assert closing_event["closure_reason"] == "resolved"
    assert closing_event["risk_level"] == "standard"
    assert closing_event["changed_by"] == caseworker.subject
    assert closing_event["agreed_by"] is None


async def test_a_high_risk_closure_waits_for_a_manager_of_the_team(
    intake: Intake, broker: Broker, issue_token: TokenFactory, caseworker: Staff, manager: Staff
) -> None:
    case_id = await caseworker.open_case()
    await assessed(broker, caseworker, case_id, RiskLevel.HIGH)
    closing = f"/v1/cases/{case_id}/closure"
    transferred = {"reason": "transferred", "detail": "domestic abuse policy (1.2)"}
    assert (await caseworker.client.post(closing, json=transferred)).status_code == 202
    # News while it waits: the closure lapses, unseen by any manager, and is asked again.
    further = await caseworker.client.post(f"/v1/cases/{case_id}/reports", json=report_body())
    assert further.status_code == 202, further.text
    case = await caseworker.case(case_id)
    assert (case["status"], case["pending_closure"]) == ("in_progress", None)
    asked = await caseworker.client.post(closing, json=transferred)
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "awaiting_closure"
    assert asked.json()["pending_closure"]["requested_by"] == caseworker.subject
    assert asked.json()["closure"] is None

    # A caseworker may not agree it; a manager of another team does not reach the case.
    agreement = f"/v1/cases/{case_id}/closure/agreement"
    assert (await caseworker.client.post(agreement)).status_code == 403
    elsewhere = Staff(intake, issue_token, "manager", team="south")
    try:
        assert (await elsewhere.client.post(agreement)).status_code == 404
    finally:
        await elsewhere.close()

    agreed = await manager.client.post(agreement)
    assert agreed.status_code == 200, agreed.text
    closure = agreed.json()["closure"]
    assert agreed.json()["status"] == "closed"
    assert (closure["reason"], closure["closed_by"], closure["agreed_by"]) == (
        "transferred",
        caseworker.subject,
        manager.subject,
    )
    assert agreed.json()["pending_closure"] is None
    events = await staged(intake.database_url, case_id, STATUS_CHANGED)
    assert [(e["status"], e["agreed_by"], e["risk_level"]) for e in events] == [
        ("awaiting_closure", None, "high"),
        ("in_progress", None, "high"),
        ("awaiting_closure", None, "high"),
        ("closed", manager.subject, "high"),
    ]
    assert events[-1]["personal"]["reason_detail"] == "domestic abuse policy (1.2)"
    # Agreed once; there is nothing left to agree.
    assert (await manager.client.post(agreement)).status_code == 409

    # A manager of the team asking agrees by asking.
    other = await caseworker.open_case()
    await assessed(broker, caseworker, other, RiskLevel.HIGH)
    closed = await manager.client.post(
        f"/v1/cases/{other}/closure", json={"reason": "survivor_withdrew"}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["closure"]["agreed_by"] == manager.subject


async def backdate_closure(database_url: str, case_id: str, by: timedelta) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE intake.cases SET closed_at = closed_at - $2::interval WHERE case_id = $1",
            uuid.UUID(case_id),
            by,
        )
    finally:
        await connection.close()


async def test_a_further_report_reopens_a_closed_case_within_the_window_else_links_a_new_one(
    intake: Intake, manager: Staff
) -> None:
    case_id = await manager.open_case()
    closing = f"/v1/cases/{case_id}/closure"
    # Risk has said nothing of this case: a manager of its team closes it all the same.
    assert (await manager.client.post(closing, json={"reason": "resolved"})).status_code == 200

    further = f"/v1/cases/{case_id}/reports"
    reopened = await manager.client.post(further, json=report_body())
    assert reopened.status_code == 202, reopened.text
    assert (reopened.json()["case_id"], reopened.json()["reopened"]) == (case_id, True)
    case = await manager.case(case_id)
    assert (case["status"], case["closure"], len(case["reports"])) == ("reopened", None, 2)
    events = await staged(intake.database_url, case_id, STATUS_CHANGED, "intake.report-received")
    assert [(e["event_type"], e.get("status")) for e in events[-2:]] == [
        (STATUS_CHANGED, "reopened"),
        ("intake.report-received", None),
    ]

    assert (await manager.client.post(closing, json={"reason": "resolved"})).status_code == 200
    await backdate_closure(intake.database_url, case_id, timedelta(hours=2))
    linked = await manager.client.post(further, json=report_body())
    assert linked.status_code == 202, linked.text
    new_case_id = linked.json()["case_id"]
    assert new_case_id != case_id
    assert linked.json()["linked_case_id"] == case_id
    assert linked.json()["reopened"] is False

    old, new = await manager.case(case_id), await manager.case(new_case_id)
    assert (old["status"], old["linked_cases"], len(old["reports"])) == (
        "closed",
        [new_case_id],
        2,
    )
    assert (new["status"], new["linked_case_id"], new["team"]) == ("open", case_id, old["team"])
    assert new["reference"] != old["reference"]
    [received] = await staged(intake.database_url, new_case_id, "intake.report-received")
    assert (received["linked_case_id"], received["further_report"]) == (case_id, False)


async def test_a_third_party_report_confirmed_by_the_survivor_becomes_their_own(
    intake: Intake, caseworker: Staff
) -> None:
    case_id = await caseworker.open_case(role="witness")
    case = await caseworker.case(case_id)
    assert case["track"] == "third_party_discreet_contact"
    track = f"/v1/cases/{case_id}/track"

    unconfirmed = await caseworker.client.post(track, json={"reason": "not reached yet"})
    assert unconfirmed.status_code == 422
    assert [e["field"] for e in unconfirmed.json()["errors"]] == ["confirmed_by_survivor"]

    changed = await caseworker.client.post(
        track,
        json={
            "track": "customer_case",
            "reason": "Confirmed on the phone",
            "confirmed_by_survivor": True,
        },
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["track"], changed.json()["reporter_role"]) == (
        "customer_case",
        "survivor",
    )
    case = await caseworker.case(case_id)
    assert (case["track"], case["track_clauses"]) == ("customer_case", ["3.3"])
    [event] = await staged(intake.database_url, case_id, "intake.case-track-changed")
    assert (event["track"], event["previous_track"], event["changed_by"]) == (
        "customer_case",
        "third_party_discreet_contact",
        caseworker.subject,
    )
    # Why, in staff's words, only in the personal part.
    assert event["personal"] == {"reason": "Confirmed on the phone"}
    again = await caseworker.client.post(track, json={"confirmed_by_survivor": True})
    assert again.status_code == 409
