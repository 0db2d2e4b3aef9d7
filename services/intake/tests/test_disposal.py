"""Case keys, erasure and legal holds served (policy 3.5.2): intake in-process on a real
PostgreSQL and the session's broker. Keys go to the services that need them only; a
case's personal data leaves intake sealed with its key; an erasure destroys the key and
leaves nothing in intake that names or describes anyone, unless a legal hold stops it;
the retention schedule erases closed cases past their period."""

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from hhc_chassis.audit import chain_pending
from hhc_chassis.db import create_pool
from hhc_chassis.events import new_envelope
from hhc_chassis.sealing import unseal
from hhc_contracts import Envelope, Topic
from hhc_contracts.submission import ReportSubmitted
from hhc_contracts.v1 import EnforcementHearingScheduled
from hhc_contracts.vocabulary import DisposalBasis, EnforcementStep
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually, kafka_consumer
from hhc_devstack.system import dev_key_encryption_key
from hhc_intake.case_keys import DatabaseCaseKeys, destroy_case_key, key_ring
from hhc_intake.court_holds import COURT_HEARINGS, hearing_hold_reason
from hhc_intake.erasure import dispose_due_cases
from hhc_intake.settings import IntakeSettings

from .conftest import Intake, new_kek
from .lifecycle_support import Staff, intake_serving, report_body

KEY_ROUTE = "GET /v1/case-keys/{case_id}"
LOOKUP_ROUTE = "POST /v1/case-key-lookups"


@pytest.fixture(scope="module")
async def intake(postgres_server_url: str, broker: Broker) -> AsyncIterator[Intake]:
    async with intake_serving(postgres_server_url, broker) as served:
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


@pytest.fixture
async def dpo(intake: Intake, issue_token: TokenFactory) -> AsyncIterator[Staff]:
    staff = Staff(intake, issue_token, "data_protection_officer")
    yield staff
    await staff.close()


@pytest.fixture
async def services(
    intake: Intake, issue_token: TokenFactory
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Risk, which may hold case keys, and reporting, which may not: each with a
    service token whose subject is its name."""
    clients = {
        name: httpx.AsyncClient(
            base_url=intake.url, headers=bearer(issue_token("service", subject=name))
        )
        for name in ("risk", "reporting")
    }
    yield clients
    for client in clients.values():
        await client.aclose()


def distinctive() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "name": f"Zebedee Quillfeather {tag}",
        "phone": f"07700 9{tag[:5]}",
        "email": f"zq.{tag}@example.org",
        "narrative": f"Threw paint at flat 4B, Larkspur Row ({tag})",
        "witness": f"Ottoline Brackwater {tag}",
        "detail": f"Zebedee {tag} moved to her sister's",
        "location": f"Larkspur Row {tag}",
        "times": f"after 6pm, not Tuesdays {tag}",
        "recorder": f"adviser-{tag}",
    }


def personal_report(words: dict[str, str]) -> dict[str, Any]:
    return report_body(
        survivor={
            "is_customer": True,
            "name": words["name"],
            "phone": words["phone"],
            "email": words["email"],
            "tenancy_reference": "T-" + words["phone"][-5:],
            "access": {"safe_contact_method": "email", "safe_contact_times": words["times"]},
        },
        incident={
            "categories": ["verbal_abuse"],
            "perceived_motivation": ["race"],
            "description": words["narrative"],
            "location": words["location"],
        },
        witnesses=[{"name": words["witness"], "contact": words["phone"]}],
        alleged_perpetrators=[{"kind": "customer", "description": "Tall, " + words["name"]}],
        consent={"share_with_partners": True, "recorded_by": words["recorder"]},
    )


async def intake_text(database_url: str) -> dict[str, str]:
    """Every row of every table of intake's schema, as text, by table."""
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'intake' ORDER BY tablename"
        )
        found: dict[str, str] = {}
        for table in tables:
            name = table["tablename"]
            rows = await connection.fetch(f'SELECT t::text AS row FROM intake."{name}" t')
            found[name] = "\n".join(row["row"] for row in rows)
        return found
    finally:
        await connection.close()


def tables_holding(text: dict[str, str], *values: str) -> set[str]:
    return {table for table, rows in text.items() for value in values if value in rows}


async def published(
    broker: Broker, topic: str, event_type: str, case_id: str
) -> tuple[bytes, Envelope]:
    """The raw value and envelope of the case's first event of this type on the topic."""
    async with kafka_consumer(broker.bootstrap_servers, topic) as consumer:
        found: list[tuple[bytes, Envelope]] = []

        async def arrived() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value)
                    if envelope.event_type == event_type and str(envelope.case_id) == case_id:
                        found.append((record.value, envelope))
            return bool(found)

        await eventually(arrived, timeout=60, message=f"{event_type} was not published")
    return found[0]


async def audited(database_url: str, case_id: str, operation: str) -> list[tuple[str, str]]:
    """The chain's records of the case, once every look recorded so far is in it."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "intake"})
    try:
        while await chain_pending(connection, "intake"):
            pass
        rows = await connection.fetch(
            """SELECT subject, outcome FROM intake.audit_log
               WHERE case_id = $1 AND operation = $2 ORDER BY id""",
            uuid.UUID(case_id),
            operation,
        )
    finally:
        await connection.close()
    return [(row["subject"], row["outcome"]) for row in rows]


# ------------------------------------------------------------------------ case keys


async def test_a_case_key_goes_to_a_service_that_needs_it_and_to_nobody_else(
    intake: Intake,
    caseworker: Staff,
    services: dict[str, httpx.AsyncClient],
) -> None:
    case_id = await caseworker.open_case()
    path = f"/v1/case-keys/{case_id}"

    given = await services["risk"].get(path)
    assert given.status_code == 200, given.text
    assert given.headers["Cache-Control"] == "no-store"
    assert given.json()["case_id"] == case_id
    key = base64.b64decode(given.json()["key"])
    assert len(key) == 32
    # The same key every time: it was made once, and is kept.
    assert (await services["risk"].get(path)).json()["key"] == given.json()["key"]

    # Reporting keeps aggregates only (3.5); staff read the case file, never its keys.
    assert (await services["reporting"].get(path)).status_code == 403
    assert (await caseworker.client.get(path)).status_code == 403
    assert (await services["risk"].get(f"/v1/case-keys/{uuid.uuid4()}")).status_code == 404

    assert await audited(intake.database_url, case_id, KEY_ROUTE) == [
        ("risk", "granted"),
        ("risk", "granted"),
        ("reporting", "refused"),
    ]


async def test_a_lookup_hands_out_many_keys_at_once_each_audited_as_if_asked_alone(
    intake: Intake,
    caseworker: Staff,
    services: dict[str, httpx.AsyncClient],
) -> None:
    first, second, erased = [await caseworker.open_case() for _ in range(3)]
    connection = await asyncpg.connect(
        intake.database_url, server_settings={"search_path": "intake"}
    )
    try:
        await destroy_case_key(
            connection, uuid.UUID(erased), DisposalBasis.SUBJECT_REQUEST, at=datetime.now(UTC)
        )
    finally:
        await connection.close()
    unknown = str(uuid.uuid4())
    path = "/v1/case-key-lookups"

    looked_up = await services["risk"].post(
        path, json={"case_ids": [first, second, erased, unknown, first]}
    )
    assert looked_up.status_code == 200, looked_up.text
    assert looked_up.headers["Cache-Control"] == "no-store"
    answer = looked_up.json()
    alone = {
        case_id: (await services["risk"].get(f"/v1/case-keys/{case_id}")).json()["key"]
        for case_id in (first, second)
    }
    assert {given["case_id"]: given["key"] for given in answer["keys"]} == alone
    assert alone[first] != alone[second]
    assert (answer["erased"], answer["unknown"]) == ([erased], [unknown])

    # Reporting keeps aggregates only (3.5); staff read the case file, never its keys.
    assert (await services["reporting"].post(path, json={"case_ids": [first]})).status_code == 403
    assert (await caseworker.client.post(path, json={"case_ids": [first]})).status_code == 403
    assert (await services["risk"].post(path, json={"case_ids": []})).status_code == 422
    too_many = [str(uuid.uuid4()) for _ in range(501)]
    assert (await services["risk"].post(path, json={"case_ids": too_many})).status_code == 422

    # One record per case handed out (a case asked twice is answered once), or refused.
    assert await audited(intake.database_url, first, LOOKUP_ROUTE) == [
        ("risk", "granted"),
        ("reporting", "refused"),
    ]
    assert await audited(intake.database_url, second, LOOKUP_ROUTE) == [("risk", "granted")]
    assert await audited(intake.database_url, erased, LOOKUP_ROUTE) == [("risk", "not-found")]


async def test_personal_data_leaves_intake_sealed_with_the_case_key(
    intake: Intake,
    broker: Broker,
    caseworker: Staff,
    services: dict[str, httpx.AsyncClient],
) -> None:
    words = distinctive()
    response = await caseworker.client.post("/v1/reports", json=personal_report(words))
    assert response.status_code == 202, response.text
    case_id = response.json()["case_id"]

    raw, envelope = await published(
        broker, Topic.INTAKE_CASES.value, "intake.report-received", case_id
    )
    for value in (words["name"], words["phone"], words["narrative"], words["witness"]):
        assert value.encode() not in raw
    assert envelope.sealed is not None
    assert envelope.case_id is not None
    assert envelope.payload["personal"] == {}

    key = base64.b64decode((await services["risk"].get(f"/v1/case-keys/{case_id}")).json()["key"])
    personal = unseal(envelope.sealed, key, case_id=envelope.case_id, event_id=envelope.event_id)
    assert personal["survivor_name"] == words["name"]
    assert personal["description"] == words["narrative"]


# -------------------------------------------------------------------------- erasure


async def test_an_erasure_leaves_nothing_of_the_case_that_names_anyone(
    intake: Intake,
    broker: Broker,
    caseworker: Staff,
    manager: Staff,
    dpo: Staff,
    services: dict[str, httpx.AsyncClient],
) -> None:
    words = distinctive()
    response = await caseworker.client.post("/v1/reports", json=personal_report(words))
    assert response.status_code == 202, response.text
    case_id = response.json()["case_id"]
    further = await caseworker.client.post(
        f"/v1/cases/{case_id}/reports", json=personal_report(words)
    )
    assert further.status_code == 202, further.text
    closed = await manager.client.post(
        f"/v1/cases/{case_id}/closure",
        json={"reason": "no_further_action", "detail": words["detail"]},
    )
    assert closed.status_code == 200, closed.text
    others = distinctive()
    other = await caseworker.client.post("/v1/reports", json=personal_report(others))
    other_id = other.json()["case_id"]
    # The report left sealed before the erasure.
    await published(broker, Topic.INTAKE_CASES.value, "intake.report-received", case_id)
    before = await intake_text(intake.database_url)
    assert {"reports", "consents", "cases"} <= tables_holding(
        before, words["name"], words["narrative"], words["detail"], words["recorder"]
    )

    erasure = f"/v1/cases/{case_id}/erasure"
    asked = {"reason": "Subject's erasure request of 28 November, ref DPO-2211"}
    # The data protection officer's alone.
    assert (await caseworker.client.post(erasure, json=asked)).status_code == 403
    assert (await dpo.client.post(erasure, json={"reason": "   "})).status_code == 422
    assert (await dpo.client.get(erasure)).status_code == 404

    # A legal hold stops it, naming itself, until it is lifted.
    placed = await dpo.client.post(
        f"/v1/cases/{case_id}/legal-holds", json={"reason": "Civil claim, Leeds County Court"}
    )
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert (hold["active"], hold["placed_by"]) == (True, dpo.subject)
    assert [h["hold_id"] for h in (await caseworker.case(case_id))["legal_holds"]] == [
        hold["hold_id"]
    ]
    refused = await dpo.client.post(erasure, json=asked)
    assert refused.status_code == 409, refused.text
    assert refused.json()["legal_holds"] == [
        {"hold_id": hold["hold_id"], "reason": hold["reason"], "placed_at": hold["placed_at"]}
    ]
    assert "legal hold" in refused.json()["detail"]
    lifted = await dpo.client.post(f"/v1/cases/{case_id}/legal-holds/{hold['hold_id']}/lift")
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["active"], lifted.json()["lifted_by"]) == (False, dpo.subject)
    holds = (await dpo.client.get(f"/v1/cases/{case_id}/legal-holds")).json()
    assert [(h["hold_id"], h["active"]) for h in holds] == [(hold["hold_id"], False)]
    assert (await caseworker.case(case_id))["legal_holds"] == []

    erased = await dpo.client.post(erasure, json=asked)
    assert erased.status_code == 201, erased.text
    record = erased.json()
    assert (record["basis"], record["reason"], record["requested_by"]) == (
        "subject_request",
        asked["reason"],
        dpo.subject,
    )
    # Once: asked again, the first record, and nothing is done again.
    again = await dpo.client.post(erasure, json={"reason": "asked twice"})
    assert (again.status_code, again.json()) == (200, record)
    assert (await dpo.client.get(erasure)).json() == record

    # Nothing left in intake names or describes anyone of the case; the other case keeps
    # its own.
    after = await intake_text(intake.database_url)
    assert tables_holding(after, *words.values()) == set()
    assert "reports" in tables_holding(after, others["name"])
    assert (await services["risk"].get(f"/v1/case-keys/{case_id}")).status_code == 410
    assert (await services["risk"].get(f"/v1/case-keys/{other_id}")).status_code == 200

    # The case still reads, with nobody in it.
    case = await caseworker.case(case_id)
    assert case["erased_at"] == record["erased_at"]
    assert case["status"] == "closed"
    assert case["closure"]["detail"] is None
    assert [r["report"]["survivor"]["name"] for r in case["reports"]] == [None, None]
    assert case["reports"][0]["report"]["incident"]["categories"] == ["verbal_abuse"]
    # Still a report as submitted, for the rules that read one (a track change).
    for report in case["reports"]:
        ReportSubmitted.model_validate(report["report"])
    assert {c["recorded_by"] for c in case["consent_history"]} == {None}
    # Nothing more to hold.
    late = await dpo.client.post(f"/v1/cases/{case_id}/legal-holds", json={"reason": "late"})
    assert late.status_code == 409
    # A further report is not lost: it opens a case of its own, linked by id.
    after_erasure = await caseworker.client.post(
        f"/v1/cases/{case_id}/reports", json=personal_report(words)
    )
    assert after_erasure.status_code == 202, after_erasure.text
    assert after_erasure.json()["case_id"] != case_id
    assert after_erasure.json()["linked_case_id"] == case_id

    # Every service hears of it; intake's own disposal is on the audit topic.
    _, announced = await published(broker, Topic.INTAKE_CASES.value, "intake.case-erased", case_id)
    assert announced.payload["basis"] == "subject_request"
    assert asked["reason"] not in announced.model_dump_json()
    _, disposed = await published(
        broker, Topic.AUDIT_ACCESS.value, "audit.retention-disposed", case_id
    )
    assert disposed.payload["service"] == "intake"
    assert disposed.payload["counts"]["reports"] == 2
    assert disposed.payload["counts"]["closure_details"] == 1


# ----------------------------------------------------------------- retention schedule


async def close_case(manager: Staff, **changes: Any) -> str:
    case_id = await manager.open_case(**changes)
    closed = await manager.client.post(f"/v1/cases/{case_id}/closure", json={"reason": "resolved"})
    assert closed.status_code == 200, closed.text
    return case_id


async def closed_ago(database_url: str, case_id: str, ago: timedelta) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE intake.cases SET closed_at = now() - $2::interval WHERE case_id = $1",
            uuid.UUID(case_id),
            ago,
        )
    finally:
        await connection.close()


async def test_the_retention_schedule_erases_closed_cases_past_their_period(
    intake: Intake, manager: Staff, dpo: Staff
) -> None:
    years = timedelta(days=365)
    old = await close_case(manager)
    recent = await close_case(manager)
    held = await close_case(manager)
    anonymous = await close_case(manager, role="anonymous")
    named_as_long = await close_case(manager)
    still_open = await manager.open_case()
    for case_id, ago in (
        (old, 7 * years),
        (recent, timedelta(days=1)),
        (held, 7 * years),
        (anonymous, 3 * years),
        (named_as_long, 3 * years),
    ):
        await closed_ago(intake.database_url, case_id, ago)
    hold = await dpo.client.post(
        f"/v1/cases/{held}/legal-holds", json={"reason": "Police investigation"}
    )
    assert hold.status_code == 201, hold.text

    settings = IntakeSettings(database_url=intake.database_url, case_key_kek=new_kek())
    pool = await create_pool(settings)
    try:
        now = datetime.now(UTC)
        # Two replicas at once: each due case is erased once, by one of them.
        passes = await asyncio.gather(
            dispose_due_cases(pool, settings, now), dispose_due_cases(pool, settings, now)
        )
        assert sum(passes) == 2
        assert await dispose_due_cases(pool, settings, now) == 0
    finally:
        await pool.close()

    for case_id in (old, anonymous):
        erasure = await dpo.client.get(f"/v1/cases/{case_id}/erasure")
        assert erasure.status_code == 200, erasure.text
        assert erasure.json()["basis"] == "retention_schedule"
        assert erasure.json()["requested_by"] == "retention-schedule"
        assert (await manager.case(case_id))["reports"][0]["report"]["survivor"]["name"] is None
    for case_id in (recent, held, named_as_long, still_open):
        assert (await dpo.client.get(f"/v1/cases/{case_id}/erasure")).status_code == 404
        assert (await manager.case(case_id))["reports"][0]["report"]["survivor"]["name"]


# --------------------------------------------------------- holds for court hearings


def hearing(
    case_id: str,
    *,
    step: EnforcementStep = EnforcementStep.POSSESSION_CLAIM,
    court: str = "County Court at Leeds",
    hearing_at: datetime = datetime(2031, 3, 14, 10, 30, tzinfo=UTC),
) -> EnforcementHearingScheduled:
    return EnforcementHearingScheduled(
        hearing_id=uuid.uuid4(),
        enforcement_case_id=uuid.uuid4(),
        case_id=uuid.UUID(case_id),
        step=step,
        hearing_at=hearing_at,
        court=court,
        recorded_by=f"caseworker-{uuid.uuid4().hex[:6]}",
        recorded_at=datetime.now(UTC).replace(microsecond=0),
    )


def as_enforcement(payload: EnforcementHearingScheduled) -> Envelope:
    return new_envelope(payload, case_id=payload.case_id, occurred_at=payload.recorded_at)


async def publish_hearings(broker: Broker, *envelopes: Envelope, key: str | None = None) -> None:
    """On enforcement's topic, with the producer header from the envelope, keyed by the
    case as enforcement's outbox keys them (or by ``key``: one partition for all)."""
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send_and_wait(
                Topic.ENFORCEMENT_CASES.value,
                envelope.model_dump_json().encode(),
                key=(key or str(envelope.case_id)).encode(),
                headers=[(k, v.encode()) for k, v in envelope.headers().items()],
            )
    finally:
        await producer.stop()


async def handled(database_url: str, envelope: Envelope) -> bool:
    """Intake's consumer handled the event (its inbox row commits with the handling)."""
    connection = await asyncpg.connect(database_url)
    try:
        return bool(
            await connection.fetchval(
                "SELECT true FROM intake.inbox WHERE event_id = $1", envelope.event_id
            )
        )
    finally:
        await connection.close()


async def dead_lettered(database_url: str, envelope: Envelope) -> str | None:
    connection = await asyncpg.connect(database_url)
    try:
        reason: str | None = await connection.fetchval(
            "SELECT reason_class FROM intake.dead_letters WHERE event_id = $1", envelope.event_id
        )
        return reason
    finally:
        await connection.close()


async def active_holds(dpo: Staff, case_id: str) -> list[dict[str, Any]]:
    response = await dpo.client.get(f"/v1/cases/{case_id}/legal-holds")
    assert response.status_code == 200, response.text
    return [hold for hold in response.json() if hold["active"]]


def test_a_hearing_holds_the_case_naming_the_step_court_and_day_only() -> None:
    assert (
        hearing_hold_reason(
            EnforcementStep.INJUNCTION,
            "County Court at Leeds",
            datetime(2031, 3, 14, 10, tzinfo=UTC),
        )
        == "Court hearing listed: injunction at County Court at Leeds on 2031-03-14"
    )
    # The courts' calendar: late on 30 June in UTC is 1 July in London (BST).
    assert hearing_hold_reason(
        EnforcementStep.POSSESSION_CLAIM, "Leeds", datetime(2031, 6, 30, 23, 30, tzinfo=UTC)
    ).endswith("on 2031-07-01")


async def test_a_court_hearing_places_a_legal_hold_that_stops_disposal_until_lifted(
    intake: Intake, broker: Broker, manager: Staff, caseworker: Staff, dpo: Staff
) -> None:
    case_id = await close_case(manager)
    await closed_ago(intake.database_url, case_id, timedelta(days=7 * 365))
    unknown = as_enforcement(hearing(str(uuid.uuid4())))
    first = as_enforcement(hearing(case_id))
    # A case intake does not know is passed by; the hearing after it is handled.
    await publish_hearings(broker, unknown, first, key=case_id)

    async def held() -> list[dict[str, Any]]:
        return await active_holds(dpo, case_id)

    (hold,) = await eventually(held, timeout=60, message="no hold for the court hearing")
    assert await handled(intake.database_url, unknown)
    assert hold["placed_by"] == COURT_HEARINGS == "enforcement"
    assert (
        hold["reason"]
        == "Court hearing listed: possession claim at County Court at Leeds on 2031-03-14"
    )
    assert datetime.fromisoformat(hold["placed_at"]) == datetime.fromisoformat(
        first.payload["recorded_at"]
    )
    # Shown on the case, as a hold placed by hand is.
    assert [h["hold_id"] for h in (await caseworker.case(case_id))["legal_holds"]] == [
        hold["hold_id"]
    ]

    # The data protection officer's erasure is refused, naming it.
    erasure = f"/v1/cases/{case_id}/erasure"
    asked = {"reason": "Subject's erasure request, ref DPO-3107"}
    refused = await dpo.client.post(erasure, json=asked)
    assert refused.status_code == 409, refused.text
    assert [h["hold_id"] for h in refused.json()["legal_holds"]] == [hold["hold_id"]]
    assert refused.json()["legal_holds"][0]["reason"] == hold["reason"]

    # The retention schedule passes it by, though it is years past its period.
    settings = IntakeSettings(database_url=intake.database_url, case_key_kek=new_kek())
    pool = await create_pool(settings)
    try:
        await dispose_due_cases(pool, settings, datetime.now(UTC))
    finally:
        await pool.close()
    assert (await dpo.client.get(erasure)).status_code == 404

    # A further hearing while the hold stands adds none.
    second = as_enforcement(
        hearing(case_id, step=EnforcementStep.INJUNCTION, court="County Court at Bradford")
    )
    await publish_hearings(broker, second)
    await eventually(
        lambda: handled(intake.database_url, second), timeout=60, message="second not handled"
    )
    holds = (await dpo.client.get(f"/v1/cases/{case_id}/legal-holds")).json()
    assert [h["hold_id"] for h in holds] == [hold["hold_id"]]

    # Lifted by a person, as any hold: then the erasure goes ahead.
    lifted = await dpo.client.post(f"/v1/cases/{case_id}/legal-holds/{hold['hold_id']}/lift")
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["active"], lifted.json()["lifted_by"]) == (False, dpo.subject)
    erased = await dpo.client.post(erasure, json=asked)
    assert erased.status_code == 201, erased.text

    # Nothing is left to hold: a hearing listed after the erasure places nothing.
    late = as_enforcement(hearing(case_id))
    await publish_hearings(broker, late)
    await eventually(
        lambda: handled(intake.database_url, late), timeout=60, message="late not handled"
    )
    assert await active_holds(dpo, case_id) == []


async def test_a_forged_hearing_places_no_hold(
    intake: Intake, broker: Broker, manager: Staff, dpo: Staff
) -> None:
    target = await close_case(manager)
    other = await close_case(manager)
    genuine = as_enforcement(hearing(other))
    forged = [
        # Intake itself, or anyone else, naming themselves in header and envelope alike.
        as_enforcement(hearing(target)).model_copy(update={"producer": producer})
        for producer in ("intake", "evil")
    ]
    # One partition, the forgeries first: when the genuine hearing's hold is there, they
    # have been read.
    await publish_hearings(broker, *forged, genuine, key=other)

    async def held() -> list[dict[str, Any]]:
        return await active_holds(dpo, other)

    await eventually(held, timeout=60, message="no hold for the genuine hearing")
    assert (await dpo.client.get(f"/v1/cases/{target}/legal-holds")).json() == []
    for envelope in forged:
        assert await dead_lettered(intake.database_url, envelope) == "untrusted-event"
        assert not await handled(intake.database_url, envelope)


async def test_the_relays_batch_of_keys_is_what_one_case_at_a_time_would_give(
    intake: Intake, caseworker: Staff
) -> None:
    """One round trip for a batch (``keys_for``) must give each case the key that
    ``key_for`` gives, make a key for a case that has none, and none for a case that
    is not intake's or whose key is destroyed."""
    with_key, without_key, erased = [await caseworker.open_case() for _ in range(3)]
    settings = IntakeSettings(
        database_url=intake.database_url,
        case_key_kek=SecretStr(dev_key_encryption_key(intake.database_url)),
    )
    pool = await create_pool(settings)
    try:
        keys = DatabaseCaseKeys(pool, key_ring(settings))
        async with pool.acquire() as connection:
            # The relay made keys for the cases' first reports; one is made afresh here.
            await connection.execute(
                "DELETE FROM case_keys WHERE case_id = $1", uuid.UUID(without_key)
            )
            await destroy_case_key(
                connection, uuid.UUID(erased), DisposalBasis.SUBJECT_REQUEST, at=datetime.now(UTC)
            )
        unknown = uuid.uuid4()
        cases = [uuid.UUID(with_key), uuid.UUID(without_key), uuid.UUID(erased), unknown]
        batch = await keys.keys_for(cases)
        one_by_one = {case: await keys.key_for(case) for case in cases}
    finally:
        await pool.close()
    assert batch == one_by_one
    assert batch[uuid.UUID(with_key)] is not None
    assert batch[uuid.UUID(without_key)] is not None
    assert batch[uuid.UUID(erased)] is None
    assert batch[unknown] is None
