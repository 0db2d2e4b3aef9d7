"""Risk's side of a case's lifecycle (issue 12), served in-process against a fresh database
and the session's broker: intake's events are published to its topic as intake would.

- Closing a case stops its open actions (not completed) and the overdue scan then finds
  nothing; closing again stops nothing more; reopening requires them again, once.
- A further report is assessed, and requires no action already open, and none of a
  closed case.
- A report that turned out otherwise (3.2.4) gets the support of its new track, once.
- The landlord's actions recorded as done in another service (rehousing requested in
  referrals, an anonymous report's validity found in enforcement) are done here too.
- The first response (5.2) is the earliest qualifying action at the server's time; a
  completion time a client states cannot move it; advice on the online-abuse track
  records it too.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from hhc_chassis.db import create_pool
from hhc_chassis.events import new_envelope
from hhc_chassis.service import Runtime
from hhc_contracts import Envelope, event_spec
from hhc_contracts.v1 import (
    CaseStatusChanged,
    CaseTrackChanged,
    EnforcementValidityRecorded,
    RehousingRequested,
    ReportReceived,
)
from hhc_contracts.vocabulary import (
    CaseStatus,
    Channel,
    Classification,
    ClosureReason,
    ConsentState,
    IncidentCategory,
    PerpetratorKind,
    ReporterRole,
    Track,
)
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually, serving_service
from hhc_risk.app import definition
from hhc_risk.scheduler import report_overdue_actions
from hhc_risk.settings import RiskSettings

TEAM = "north"
OFFICER = "officer-12"


@dataclass(frozen=True)
class Risk:
    url: str
    settings: RiskSettings
    broker: Broker


@pytest.fixture(scope="module")
async def risk(postgres_server_url: str, broker: Broker) -> AsyncIterator[Risk]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = RiskSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-risk-lifecycle-{uuid.uuid4().hex[:8]}",
    )
    async with serving_service(definition(settings)) as urls:
        yield Risk(urls.staff, settings, broker)


@pytest.fixture
async def client(risk: Risk, issue_token: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    headers = bearer(issue_token("caseworker", team=TEAM, subject=OFFICER))
    async with httpx.AsyncClient(base_url=risk.url, timeout=15, headers=headers) as client:
        yield client


async def publish(risk: Risk, case_id: uuid.UUID, payload: BaseModel) -> uuid.UUID:
    """Publish as its producer (intake, referrals, enforcement) does; the event's id."""
    envelope = new_envelope(payload, case_id=case_id, occurred_at=datetime.now(UTC))
    producer = AIOKafkaProducer(bootstrap_servers=risk.broker.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            event_spec(type(payload)).topic.value,
            envelope.model_dump_json().encode(),
            key=str(case_id).encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers().items()],
        )
    finally:
        await producer.stop()
    return envelope.event_id


async def handled(risk: Risk, *event_ids: uuid.UUID) -> None:
    async def all_in_inbox() -> bool:
        [row] = await query(
            risk, "SELECT count(*) AS n FROM inbox WHERE event_id = ANY($1::uuid[])", event_ids
        )
        return bool(row["n"] == len(event_ids))

    await eventually(all_in_inbox, message="risk did not handle the events")


def report(case_id: uuid.UUID, **changes: Any) -> ReportReceived:
    fields: dict[str, Any] = {
        "case_id": case_id,
        "report_id": uuid.uuid4(),
        "reference": f"HHC-2026-{uuid.uuid4().int % 1_000_000:06d}",
        "channel": Channel.WEB_FORM,
        "reporter_role": ReporterRole.SURVIVOR,
        "survivor_is_customer": True,
        "perpetrator_kinds": [PerpetratorKind.UNKNOWN],
        "categories": [IncidentCategory.THREATS_OF_VIOLENCE],
        "classification": Classification.HARASSMENT,
        "track": Track.CUSTOMER_CASE,
        "immediate_danger": True,
        "consent_to_share": ConsentState.GIVEN,
        "received_at": datetime.now(UTC),
        "team": TEAM,
    }
    return ReportReceived(**(fields | changes))


def status_change(case_id: uuid.UUID, status: CaseStatus, previous: CaseStatus) -> BaseModel:
    return CaseStatusChanged(
        case_id=case_id,
        status=status,
        previous_status=previous,
        closure_reason=ClosureReason.RESOLVED if status is CaseStatus.CLOSED else None,
        changed_by=OFFICER,
        changed_at=datetime.now(UTC),
    )


async def query(risk: Risk, sql: str, *args: Any) -> list[dict[str, Any]]:
    pool = await create_pool(risk.settings)
    try:
        return [dict(row) for row in await pool.fetch(sql, *args)]
    finally:
        await pool.close()


async def actions(risk: Risk, case_id: uuid.UUID) -> list[dict[str, Any]]:
    return await query(
        risk, "SELECT * FROM actions WHERE case_id = $1 ORDER BY required_at, kind", case_id
    )


async def emitted(risk: Risk, case_id: uuid.UUID, event_type: str) -> list[dict[str, Any]]:
    rows = await query(
        risk,
        """SELECT payload::text AS payload FROM outbox
           WHERE event_type = $1 AND message_key = $2 ORDER BY id""",
        event_type,
        str(case_id),
    )
    return [Envelope.model_validate_json(row["payload"]).payload for row in rows]


async def planned(risk: Risk, case_id: uuid.UUID, count: int) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        found = await actions(risk, case_id)
        return found if len(found) >= count else None

    return await eventually(enough, message="risk planned too few actions")


async def test_closure_stops_the_clocks_and_reopening_starts_them_again(risk: Risk) -> None:
    case_id = uuid.uuid4()
    await publish(risk, case_id, report(case_id))
    before = await planned(risk, case_id, 3)
    open_before = {row["action_id"]: row for row in before if row["state"] == "open"}

    await publish(risk, case_id, status_change(case_id, CaseStatus.CLOSED, CaseStatus.OPEN))

    async def all_stopped() -> list[dict[str, Any]] | None:
        found = await emitted(risk, case_id, "risk.action-stopped")
        return found if len(found) >= len(open_before) else None

    stops = await eventually(all_stopped, message="the closed case's actions were not stopped")
    assert {uuid.UUID(stop["action_id"]) for stop in stops} == set(open_before)
    assert {stop["reason"] for stop in stops} == {"case-closed"}
    after = {row["action_id"]: row for row in await actions(risk, case_id)}
    assert {after[action_id]["state"] for action_id in open_before} == {"stopped"}
    assert all(after[action_id]["completed_at"] is None for action_id in open_before)

    # Their deadlines pass: the overdue scan finds nothing of the closed case.
    await query(
        risk, "UPDATE actions SET due_at = now() - interval '1 hour' WHERE case_id = $1", case_id
    )
    pool = await create_pool(risk.settings)
    try:
        runtime = cast(Runtime, SimpleNamespace(pool=pool, settings=risk.settings))
        while await report_overdue_actions(runtime):
            pass
    finally:
        await pool.close()
    assert await emitted(risk, case_id, "risk.action-overdue") == []
    for action_id, row in open_before.items():  # as they were, to be re-planned from
        await query(
            risk, "UPDATE actions SET due_at = $2 WHERE action_id = $1", action_id, row["due_at"]
        )

    # Closed again and reopened twice (other events, as retried requests would send):
    # nothing more stops, and each stopped action is required again once.
    reopened_at = datetime.now(UTC)
    await handled(
        risk,
        await publish(risk, case_id, status_change(case_id, CaseStatus.CLOSED, CaseStatus.CLOSED)),
        await publish(
            risk, case_id, status_change(case_id, CaseStatus.REOPENED, CaseStatus.CLOSED)
        ),
        await publish(
            risk, case_id, status_change(case_id, CaseStatus.REOPENED, CaseStatus.CLOSED)
        ),
    )
    renewed = [row for row in await actions(risk, case_id) if row["state"] == "open"]
    assert len(await emitted(risk, case_id, "risk.action-stopped")) == len(open_before)
    assert sorted((row["kind"], row["partner"]) for row in renewed) == sorted(
        (row["kind"], row["partner"]) for row in open_before.values()
    )
    assert not set(row["action_id"] for row in renewed) & set(open_before)
    for row in renewed:
        assert row["required_at"] >= reopened_at
        stopped = next(
            old
            for old in open_before.values()
            if (old["kind"], old["partner"]) == (row["kind"], row["partner"])
        )
        assert row["due_at"] - row["required_at"] == stopped["due_at"] - stopped["required_at"]
    required = await emitted(risk, case_id, "risk.action-required")
    assert {r["action_id"] for r in required} >= {str(row["action_id"]) for row in renewed}


async def test_a_report_that_turned_out_otherwise_gets_its_new_tracks_support(
    risk: Risk,
) -> None:
    """A third party's report, confirmed by the survivor at the discreet contact (3.2.4):
    the case is the survivor's own now, and gets the support of a customer case."""
    case_id = uuid.uuid4()
    third_party = report(
        case_id,
        reporter_role=ReporterRole.THIRD_PARTY,
        track=Track.THIRD_PARTY_DISCREET_CONTACT,
        immediate_danger=False,
    )
    await publish(risk, case_id, third_party)
    [contact] = await planned(risk, case_id, 1)
    assert contact["kind"] == "discreet_contact"
    change = CaseTrackChanged(
        case_id=case_id,
        track=Track.CUSTOMER_CASE,
        previous_track=Track.THIRD_PARTY_DISCREET_CONTACT,
        reporter_role=ReporterRole.SURVIVOR,
        changed_by=OFFICER,
        changed_at=datetime.now(UTC),
    )
    # The same change twice, as two events: planned once.
    await handled(risk, await publish(risk, case_id, change), await publish(risk, case_id, change))

    rows = await actions(risk, case_id)
    assert sorted((row["kind"], row["partner"]) for row in rows) == [
        ("discreet_contact", None),
        ("give_advice", None),
        ("support_and_advocacy_referral", "survivor_support"),
    ]
    [case] = await query(risk, "SELECT reporter_role, facts FROM cases WHERE case_id = $1", case_id)
    assert (case["reporter_role"], case["facts"]["track"]) == ("survivor", "customer_case")


async def test_the_first_response_is_the_earliest_qualifying_action_at_the_servers_time(
    risk: Risk, client: httpx.AsyncClient
) -> None:
    case_id = uuid.uuid4()
    await publish(risk, case_id, report(case_id))
    rows = {row["kind"]: row for row in await planned(risk, case_id, 3)}
    # Evidence for rehousing is no contact with the survivor: no first response yet.
    evidence = rows["rehousing_evidence"]
    response = await client.post(
        f"/v1/actions/{evidence['action_id']}/complete", json={"outcome": "done"}
    )
    assert response.status_code == 200, response.text
    assert await emitted(risk, case_id, "risk.first-response-recorded") == []

    # The visit, said to have been done when the case was reported: recorded at the
    # server's time all the same, the stated time kept beside it.
    visit = rows["visit_with_risk_assessment"]
    stated = visit["required_at"]
    sent_at = datetime.now(UTC)
    response = await client.post(
        f"/v1/actions/{visit['action_id']}/complete",
        json={"outcome": "visited", "completed_at": stated.isoformat()},
    )
    assert response.status_code == 200, response.text
    done = response.json()
    completed_at = datetime.fromisoformat(done["completed_at"])
    assert completed_at >= sent_at
    assert datetime.fromisoformat(done["stated_completed_at"]) == stated

    # Target hardening, also backdated: it cannot become the first.
    hardening = rows["target_hardening"]
    response = await client.post(
        f"/v1/actions/{hardening['action_id']}/complete",
        json={"outcome": "done", "completed_at": stated.isoformat()},
    )
    assert response.status_code == 200, response.text

    [first] = await emitted(risk, case_id, "risk.first-response-recorded")
    assert first["action_id"] == str(visit["action_id"])
    assert first["kind"] == "visit_with_risk_assessment"
    assert datetime.fromisoformat(first["responded_at"]) == completed_at
    [case] = await query(risk, "SELECT reported_at FROM cases WHERE case_id = $1", case_id)
    assert datetime.fromisoformat(first["received_at"]) == case["reported_at"]
    flags = {
        c["kind"]: c["first_response"]
        for c in await emitted(risk, case_id, "risk.action-completed")
    }
    assert flags == {
        "rehousing_evidence": False,
        "visit_with_risk_assessment": True,
        "target_hardening": False,
    }


async def test_advice_on_the_online_abuse_track_records_the_first_response(
    risk: Risk, client: httpx.AsyncClient
) -> None:
    case_id = uuid.uuid4()
    online = report(
        case_id,
        track=Track.ONLINE_ADVICE_ONLY,
        categories=[IncidentCategory.ONLINE_ABUSE],
        immediate_danger=False,
    )
    await publish(risk, case_id, online)
    [advice] = await planned(risk, case_id, 1)
    assert (advice["kind"], advice["clause"]) == ("give_advice", "3.1")

    response = await client.post(
        f"/v1/actions/{advice['action_id']}/complete",
        json={"outcome": "advised", "notes": "Block the account; report it to the Police."},
    )

    assert response.status_code == 200, response.text
    [first] = await emitted(risk, case_id, "risk.first-response-recorded")
    assert first["kind"] == "give_advice"
    assert datetime.fromisoformat(first["responded_at"]) == datetime.fromisoformat(
        response.json()["completed_at"]
    )


async def test_what_staff_record_in_referrals_and_enforcement_closes_their_action_here(
    risk: Risk,
) -> None:
    anonymous_case, customer_case = uuid.uuid4(), uuid.uuid4()
    anonymous = report(
        anonymous_case,
        reporter_role=ReporterRole.ANONYMOUS,
        track=Track.ANONYMOUS_VALIDITY_CHECK,
        immediate_danger=False,
    )
    await publish(risk, anonymous_case, anonymous)
    await publish(risk, customer_case, report(customer_case))
    [investigation] = await planned(risk, anonymous_case, 1)
    assert investigation["kind"] == "validity_investigation"
    evidence = next(
        a for a in await planned(risk, customer_case, 3) if a["kind"] == "rehousing_evidence"
    )
    now = datetime.now(UTC)
    found = EnforcementValidityRecorded(
        finding_id=uuid.uuid4(),
        case_id=anonymous_case,
        valid=False,
        recorded_by="investigator-3",
        recorded_at=now,
    )
    requested = RehousingRequested(
        request_id=uuid.uuid4(),
        case_id=customer_case,
        banding="emergency",
        requested_by="housing-officer-9",
        requested_at=now,
        incident_count=1,
        assessment_count=1,
        police_reference_count=0,
    )
    await handled(
        risk,
        await publish(risk, anonymous_case, found),
        await publish(risk, customer_case, requested),
    )

    def done(rows: list[dict[str, Any]], action_id: uuid.UUID) -> tuple[str, str, str]:
        row = next(r for r in rows if r["action_id"] == action_id)
        return row["state"], row["outcome"], row["completed_by"]

    assert done(await actions(risk, anonymous_case), investigation["action_id"]) == (
        "completed",
        "found_not_valid",
        "investigator-3",
    )
    assert done(await actions(risk, customer_case), evidence["action_id"]) == (
        "completed",
        "rehousing_requested",
        "housing-officer-9",
    )


async def test_a_further_report_adds_no_action_already_open_and_none_to_a_closed_case(
    risk: Risk,
) -> None:
    """Each further report is assessed; the actions its plan needs are required only where
    none of that kind (and partner) is open, and not at all once the case is closed: its
    clocks are stopped until intake reopens it."""
    case_id = uuid.uuid4()
    await publish(risk, case_id, report(case_id))
    first = await planned(risk, case_id, 3)
    open_first = sorted((row["kind"], row["partner"]) for row in first if row["state"] == "open")
    assert len(open_first) == len(set(open_first))

    await handled(risk, await publish(risk, case_id, report(case_id, further_report=True)))
    assessed = await query(risk, "SELECT * FROM assessments WHERE case_id = $1", case_id)
    assert len(assessed) == 2
    # A new assessment supersedes the review of the last and plans its own; nothing else.
    open_now = sorted(
        (row["kind"], row["partner"])
        for row in await actions(risk, case_id)
        if row["state"] == "open"
    )
    assert open_now == open_first

    await handled(
        risk,
        await publish(risk, case_id, status_change(case_id, CaseStatus.CLOSED, CaseStatus.OPEN)),
    )
    required_before = len(await emitted(risk, case_id, "risk.action-required"))
    await handled(risk, await publish(risk, case_id, report(case_id, further_report=True)))
    assert len(await query(risk, "SELECT * FROM assessments WHERE case_id = $1", case_id)) == 3
    assert [row for row in await actions(risk, case_id) if row["state"] == "open"] == []
    assert len(await emitted(risk, case_id, "risk.action-required")) == required_before
