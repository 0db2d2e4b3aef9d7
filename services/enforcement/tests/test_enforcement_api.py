"""Enforcement wired (issue 11, items 1, 2, 3, 5, 6), against a real PostgreSQL with the
service served in-process.

Reports and risk's actions are fed to the service's own handlers on a connection of its
database, as its consumer would (with the chassis keeping the case's scope first); what
it publishes is read from its outbox. Everything else goes through the HTTP API, signed
in with the test issuer's tokens.

Policy: 2.5 (strong evidence), 2.6, 3.1 and 3.2.6 (advice only), 1.2 (another policy),
3.2.5 (anonymous reports: validity first), 3.3.1 (ex parte injunction, 24 hours), 4.2
(legal action by named people).
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hhc_chassis.case_access import with_case_access
from hhc_chassis.db import connect
from hhc_chassis.events import new_envelope
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ActionRequired,
    EnforcementActionTaken,
    EnforcementEvidenceRecorded,
    EnforcementStepDecided,
    ReportReceived,
)
from hhc_contracts.vocabulary import (
    ActionKind,
    AppliesTo,
    Channel,
    Classification,
    ConsentState,
    EvidenceKind,
    EvidenceLevel,
    EvidenceStrength,
    Executor,
    IncidentCategory,
    PerpetratorKind,
    ReporterRole,
    Track,
)
from hhc_devstack.case_keys import MemoryCaseKeys, payload_opened_with, with_case_keys
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually, serving_service
from hhc_enforcement import handlers
from hhc_enforcement.app import EnforcementSettings, definition
from hhc_enforcement.evidence import ANY_EVIDENCE, EvidenceItem, missing_for

TEAM, OTHER_TEAM = "north", "south"
LEGAL_1, LEGAL_2, MANAGER_1, CASEWORKER_1 = "legal-1", "legal-2", "manager-1", "caseworker-1"
P = PerpetratorKind

# --------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class Enforcement:
    url: str
    settings: EnforcementSettings
    keys: MemoryCaseKeys
    """The case keys the service seals with, as intake would hand them out."""


@pytest.fixture(scope="module")
async def enforcement(postgres_server_url: str, broker: Broker) -> AsyncIterator[Enforcement]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = EnforcementSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-enforcement-{uuid.uuid4().hex[:8]}",
    )
    keys = MemoryCaseKeys()
    async with serving_service(with_case_keys(definition(settings), keys)) as urls:
        yield Enforcement(urls.staff, settings, keys)


@pytest.fixture
async def client(enforcement: Enforcement) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=enforcement.url, timeout=15) as client:
        yield client


@pytest.fixture
def legal(issue_token: TokenFactory) -> dict[str, str]:
    return bearer(issue_token("legal_officer", subject=LEGAL_1))


@pytest.fixture
def legal_2(issue_token: TokenFactory) -> dict[str, str]:
    return bearer(issue_token("legal_officer", subject=LEGAL_2))


@pytest.fixture
def caseworker(issue_token: TokenFactory) -> dict[str, str]:
    return bearer(issue_token("caseworker", team=TEAM, subject=CASEWORKER_1))


# --------------------------------------------------------------------------- feeding it


def report(
    case_id: uuid.UUID,
    *,
    track: Track = Track.CUSTOMER_CASE,
    kinds: tuple[PerpetratorKind, ...] = (P.CUSTOMER,),
    danger: bool = False,
    received_at: datetime | None = None,
    further: bool = False,
    classification: Classification = Classification.HATE_INCIDENT,
) -> ReportReceived:
    anonymous = track is Track.ANONYMOUS_VALIDITY_CHECK
    return ReportReceived(
        case_id=case_id,
        report_id=uuid.uuid4(),
        reference="HHC-2026-000001",
        further_report=further,
        channel=Channel.TELEPHONE,
        reporter_role=ReporterRole.ANONYMOUS if anonymous else ReporterRole.SURVIVOR,
        survivor_is_customer=True,
        perpetrator_kinds=list(kinds),
        categories=[IncidentCategory.VERBAL_ABUSE],
        classification=classification,
        track=track,
        immediate_danger=danger,
        consent_to_share=ConsentState.GIVEN,
        received_at=received_at or datetime.now(UTC),
        team=TEAM,
    )


HANDLERS = with_case_access(
    {
        "intake.report-received": handlers.on_report_received,
        "risk.action-required": handlers.on_action_required,
    }
)


async def feed(enforcement: Enforcement, payload: ReportReceived | ActionRequired) -> None:
    """As the consumer does: one transaction, the case's scope kept first."""
    envelope = new_envelope(payload, case_id=payload.case_id, occurred_at=datetime.now(UTC))
    connection = await connect(enforcement.settings)
    try:
        async with connection.transaction():
            await HANDLERS[envelope.event_type](connection, envelope, payload)
    finally:
        await connection.close()


def asked(case_id: uuid.UUID, kind: ActionKind, required_at: datetime) -> ActionRequired:
    return ActionRequired(
        action_id=uuid.uuid4(),
        case_id=case_id,
        kind=kind,
        applies_to=AppliesTo.CUSTOMERS_ONLY,
        clause="3.3.1",
        carried_out_by=Executor.ENFORCEMENT,
        due_at=required_at + timedelta(hours=24),
        required_at=required_at,
        immediate_danger=True,
        consent_to_share=ConsentState.GIVEN,
    )


async def published(
    enforcement: Enforcement, *case_ids: uuid.UUID, event_type: str | None = None
) -> list[Envelope]:
    """What the service staged for the cases, oldest first (audit records aside)."""
    connection = await connect(enforcement.settings)
    try:
        rows = await connection.fetch(
            """SELECT payload::text AS payload FROM outbox
               WHERE message_key = ANY($1::text[]) AND event_type LIKE 'enforcement.%'
                   AND ($2::text IS NULL OR event_type = $2)
               ORDER BY id""",
            [str(case_id) for case_id in case_ids],
            event_type,
        )
    finally:
        await connection.close()
    return [Envelope.model_validate_json(row["payload"]) for row in rows]


@dataclass(frozen=True)
class Sent:
    """An event as the relay published it: the outbox row's bytes, and the envelope."""

    raw: str
    envelope: Envelope


async def sent(
    enforcement: Enforcement, case_id: uuid.UUID, event_type: str | None = None
) -> list[Sent]:
    """The case's events once the relay has published (and so sealed) them all, oldest
    first: the published row keeps the value as it went onto the topic."""

    async def all_published() -> list[Sent] | None:
        connection = await connect(enforcement.settings)
        try:
            rows = await connection.fetch(
                """SELECT payload::text AS payload, published_at IS NOT NULL AS published
                   FROM outbox
                   WHERE message_key = $1 AND event_type LIKE 'enforcement.%'
                       AND ($2::text IS NULL OR event_type = $2)
                   ORDER BY id""",
                str(case_id),
                event_type,
            )
        finally:
            await connection.close()
        if not rows or not all(row["published"] for row in rows):
            return None
        return [Sent(row["payload"], Envelope.model_validate_json(row["payload"])) for row in rows]

    return await eventually(all_published, message=f"the case's {event_type or 'events'} published")


async def shown(
    client: httpx.AsyncClient, case_id: uuid.UUID, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.get(f"/v1/cases/{case_id}/enforcement", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def the_enforcement_case(
    client: httpx.AsyncClient, case_id: uuid.UUID, headers: dict[str, str]
) -> dict[str, Any]:
    enforcement_cases: list[dict[str, Any]] = (await shown(client, case_id, headers))[
        "enforcement_cases"
    ]
    [only] = enforcement_cases
    return only


STRONG_EVIDENCE = [
    {
        "kind": "crime_number",
        "strength": "moderate",
        "source": "Merseyside Police",
        "reference": "MP/26/001234",
    },
    {
        "kind": "witness_statement",
        "strength": "moderate",
        "source": "Neighbour at number 4",
        "summary": "Heard the threats through the wall.",
    },
]


async def log(
    client: httpx.AsyncClient,
    enforcement_case_id: str,
    items: list[dict[str, Any]],
    headers: dict[str, str],
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for item in items:
        response = await client.post(
            f"/v1/enforcement-cases/{enforcement_case_id}/evidence", json=item, headers=headers
        )
        assert response.status_code == 201, response.text
        body = response.json()
    return body


async def propose(
    client: httpx.AsyncClient,
    enforcement_case_id: str,
    headers: dict[str, str],
    step: str,
    **more: Any,
) -> httpx.Response:
    return await client.post(
        f"/v1/enforcement-cases/{enforcement_case_id}/proposals",
        json={"step": step, "reason": "Repeated racist abuse of the household.", **more},
        headers=headers,
    )


async def decided_and_taken(
    client: httpx.AsyncClient, enforcement_case_id: str, headers: dict[str, str], step: str
) -> str:
    proposed = await propose(client, enforcement_case_id, headers, step)
    assert proposed.status_code == 201, proposed.text
    decision_id: str = proposed.json()["decision"]["decision_id"]
    taken = await client.post(f"/v1/decisions/{decision_id}/taken", json={}, headers=headers)
    assert taken.status_code == 201, taken.text
    return decision_id


# --------------------------------------------------------- item 5: only where policy says


@pytest.mark.parametrize(
    ("track", "opens"),
    [
        pytest.param(Track.CUSTOMER_CASE, True, id="customer-case-opens"),
        pytest.param(Track.ONLINE_ADVICE_ONLY, False, id="online-advice-only-3.1"),
        pytest.param(Track.CROSS_REFERRAL, False, id="cross-referral-1.2"),
        pytest.param(Track.HATE_CRIME_REPORTING_CENTRE, False, id="reporting-centre-3.2.6"),
    ],
)
async def test_enforcement_opens_only_where_the_policy_says(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    track: Track,
    opens: bool,
) -> None:
    case_id = uuid.uuid4()

    await feed(enforcement, report(case_id, track=track, kinds=(P.CUSTOMER, P.STAFF)))

    seen = await shown(client, case_id, legal)
    opened = await published(enforcement, case_id, event_type="enforcement.case-opened")
    if opens:
        routes = {e["route"] for e in seen["enforcement_cases"]}
        assert routes == {"tenancy_enforcement", "staff_disciplinary"}
        assert {e.payload["route"] for e in opened} == routes
        assert {p["kind"] for p in seen["perpetrators"]} == {"customer", "staff"}
    else:
        assert seen["enforcement_cases"] == []
        assert seen["perpetrators"] == []
        assert opened == []
        # Staff cannot open one by recording a perpetrator either.
        added = await client.post(
            f"/v1/cases/{case_id}/perpetrators", json={"kind": "customer"}, headers=legal
        )
        assert added.status_code == 409, added.text
        assert (await shown(client, case_id, legal))["perpetrators"] == []


async def test_an_anonymous_report_opens_enforcement_only_once_found_valid(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    caseworker: dict[str, str],
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id, track=Track.ANONYMOUS_VALIDITY_CHECK))

    waiting = await shown(client, case_id, legal)
    assert waiting["awaits_validity"] is True
    assert waiting["enforcement_cases"] == []
    # The perpetrator is recorded meanwhile, on no enforcement case.
    [perpetrator] = waiting["perpetrators"]
    assert (perpetrator["kind"], perpetrator["enforcement_case_id"]) == ("customer", None)
    # Nor does a further anonymous report, or staff recording someone, open one.
    await feed(enforcement, report(case_id, track=Track.ANONYMOUS_VALIDITY_CHECK, further=True))
    added = await client.post(
        f"/v1/cases/{case_id}/perpetrators", json={"kind": "staff"}, headers=caseworker
    )
    assert added.status_code == 201, added.text
    assert added.json()["enforcement_case_id"] is None
    not_valid = await client.post(
        f"/v1/cases/{case_id}/validity",
        json={"valid": False, "reason": "No such address on the estate."},
        headers=caseworker,
    )
    assert not_valid.status_code == 201, not_valid.text
    assert (await shown(client, case_id, legal))["enforcement_cases"] == []
    # The finding is announced (risk's investigation is done), its reason in the
    # personal part, which travels sealed with the case's key; nothing opens.
    [finding] = await sent(enforcement, case_id)
    assert finding.envelope.event_type == "enforcement.validity-recorded"
    assert finding.envelope.sealed is not None
    assert "No such address" not in finding.raw
    opened = payload_opened_with(finding.envelope, enforcement.keys)
    assert (opened["valid"], opened["recorded_by"]) == (False, CASEWORKER_1)
    assert opened["personal"] == {"reason": "No such address on the estate."}

    found_valid = await client.post(
        f"/v1/cases/{case_id}/validity",
        json={"valid": True, "reason": "Two neighbours confirmed the incidents."},
        headers=caseworker,
    )

    assert found_valid.status_code == 201, found_valid.text
    assert found_valid.json()["recorded_by"] == CASEWORKER_1
    after = await shown(client, case_id, legal)
    assert after["awaits_validity"] is False
    assert {e["route"] for e in after["enforcement_cases"]} == {
        "tenancy_enforcement",
        "staff_disciplinary",
    }
    assert all(p["enforcement_case_id"] for p in after["perpetrators"])
    # The customer named by both anonymous reports is one perpetrator, named by both.
    [customer] = [p for p in after["perpetrators"] if p["kind"] == "customer"]
    assert len(customer["report_ids"]) == 2
    assert len(await published(enforcement, case_id, event_type="enforcement.case-opened")) == 2
    again = await client.post(
        f"/v1/cases/{case_id}/validity",
        json={"valid": False, "reason": "Changed my mind."},
        headers=caseworker,
    )
    assert again.status_code == 409, again.text


async def test_validity_is_for_anonymous_reports_only(
    enforcement: Enforcement, client: httpx.AsyncClient, legal: dict[str, str]
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id))
    response = await client.post(
        f"/v1/cases/{case_id}/validity",
        json={"valid": True, "reason": "Seen on CCTV."},
        headers=legal,
    )
    assert response.status_code == 409, response.text


async def test_a_further_report_joins_the_perpetrators_enforcement_case(
    enforcement: Enforcement, client: httpx.AsyncClient, legal: dict[str, str]
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id))
    first = await the_enforcement_case(client, case_id, legal)

    await feed(enforcement, report(case_id, further=True))

    seen = await shown(client, case_id, legal)
    assert [e["enforcement_case_id"] for e in seen["enforcement_cases"]] == [
        first["enforcement_case_id"]
    ]
    [perpetrator] = seen["perpetrators"]
    assert len(perpetrator["report_ids"]) == 2
    assert len(await published(enforcement, case_id, event_type="enforcement.case-opened")) == 1


async def test_a_later_report_tells_the_kind_of_a_perpetrator_not_known(
    enforcement: Enforcement, client: httpx.AsyncClient, legal: dict[str, str]
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id, kinds=(P.UNKNOWN,)))
    police = await the_enforcement_case(client, case_id, legal)
    assert police["route"] == "police_and_civil"
    await log(client, police["enforcement_case_id"], STRONG_EVIDENCE[:1], legal)

    await feed(enforcement, report(case_id, kinds=(P.CUSTOMER,), further=True))

    seen = await shown(client, case_id, legal)
    [perpetrator] = seen["perpetrators"]
    assert perpetrator["kind"] == "customer"
    by_route = {e["route"]: e for e in seen["enforcement_cases"]}
    assert by_route["police_and_civil"]["closed_at"] is not None
    tenancy = by_route["tenancy_enforcement"]
    assert perpetrator["enforcement_case_id"] == tenancy["enforcement_case_id"]
    # The evidence is about them: it went with them.
    assert tenancy["evidence_items"] == 1
    assert by_route["police_and_civil"]["evidence_items"] == 0


async def test_a_perpetrator_identified_in_two_cases_is_one_enforcement_case(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    caseworker: dict[str, str],
) -> None:
    first_case, second_case = uuid.uuid4(), uuid.uuid4()
    await feed(enforcement, report(first_case))
    await feed(enforcement, report(second_case))
    [first] = (await shown(client, first_case, legal))["perpetrators"]
    [second] = (await shown(client, second_case, legal))["perpetrators"]
    tenancy = f"T-{uuid.uuid4().hex[:8]}"

    identified = await client.patch(
        f"/v1/perpetrators/{first['perpetrator_id']}",
        json={"reference": tenancy, "description": "Tenant of flat 3"},
        headers=caseworker,
    )
    assert identified.status_code == 200, identified.text
    assert identified.json()["identified_by"] == CASEWORKER_1
    # The second case's perpetrator turns out to be the same tenant, written otherwise.
    same = await client.patch(
        f"/v1/perpetrators/{second['perpetrator_id']}",
        json={"reference": f"  {tenancy.lower()} "},
        headers=legal,
    )

    assert same.status_code == 200, same.text
    assert same.json()["perpetrator_id"] == first["perpetrator_id"]
    [now_second] = (await shown(client, second_case, legal))["perpetrators"]
    assert now_second["perpetrator_id"] == first["perpetrator_id"]
    assert now_second["enforcement_case_id"] == first["enforcement_case_id"]
    assert now_second["alleged_in_cases"] == 2
    # Recording the same tenancy on a third case links them, not someone new.
    third_case = uuid.uuid4()
    await feed(enforcement, report(third_case, kinds=()))
    linked = await client.post(
        f"/v1/cases/{third_case}/perpetrators",
        json={"kind": "customer", "reference": tenancy},
        headers=legal,
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["perpetrator_id"] == first["perpetrator_id"]
    assert linked.json()["enforcement_case_id"] == first["enforcement_case_id"]


async def test_two_identified_customers_of_one_case_are_two_enforcement_cases(
    enforcement: Enforcement, client: httpx.AsyncClient, legal: dict[str, str]
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id, kinds=(P.CUSTOMER, P.CUSTOMER)))
    seen = await shown(client, case_id, legal)
    first, second = seen["perpetrators"]
    # Not identified, both are on the case's one tenancy enforcement case.
    assert first["enforcement_case_id"] == second["enforcement_case_id"]

    for perpetrator, reference in ((first, "T-A-1"), (second, "T-B-2")):
        response = await client.patch(
            f"/v1/perpetrators/{perpetrator['perpetrator_id']}",
            json={"reference": f"{reference}-{uuid.uuid4().hex[:6]}"},
            headers=legal,
        )
        assert response.status_code == 200, response.text

    after = await shown(client, case_id, legal)
    first, second = after["perpetrators"]
    assert first["enforcement_case_id"] != second["enforcement_case_id"]
    assert [e["route"] for e in after["enforcement_cases"]] == ["tenancy_enforcement"] * 2


# --------------------------------------------------------------------------- items 2, 3, 6


async def test_evidence_is_logged_rated_and_published_with_personal_data_apart(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    caseworker: dict[str, str],
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id))
    enforcement_case = (await the_enforcement_case(client, case_id, legal))["enforcement_case_id"]
    path = f"/v1/enforcement-cases/{enforcement_case}/evidence"

    photo = await client.post(
        path,
        json={"kind": "photograph", "strength": "weak", "source": "Survivor"},
        headers=caseworker,
    )
    assert photo.status_code == 422, photo.text
    assert "storage_reference" in [e["field"] for e in photo.json()["errors"]]
    signed = await client.post(
        path,
        json={**STRONG_EVIDENCE[0], "recorded_by": "someone-else"},
        headers=caseworker,
    )
    assert signed.status_code == 422, signed.text

    first = await log(client, enforcement_case, STRONG_EVIDENCE[:1], caseworker)
    assert first["evidence_level"] == "some"
    both = await log(client, enforcement_case, STRONG_EVIDENCE[1:], legal)

    assert both["evidence_level"] == "strong"
    assert [i["recorded_by"] for i in both["items"]] == [CASEWORKER_1, LEGAL_1]
    listed = await client.get(path, headers=caseworker)
    assert listed.status_code == 200, listed.text
    assert listed.json() == both
    events = await sent(enforcement, case_id, event_type="enforcement.evidence-recorded")
    recorded = [
        EnforcementEvidenceRecorded.model_validate(
            payload_opened_with(e.envelope, enforcement.keys)
        )
        for e in events
    ]
    assert [e.evidence_level for e in recorded][-1] is EvidenceLevel.STRONG
    assert recorded[0].personal.reference == "MP/26/001234"
    assert recorded[0].recorded_by == CASEWORKER_1
    # The personal part travels sealed with the case's key, nowhere in clear.
    assert all(e.envelope.sealed is not None for e in events)
    assert "MP/26/001234" not in events[0].raw
    assert "Neighbour at number 4" not in events[1].raw


async def test_a_step_missing_its_evidence_is_refused_naming_what_is_missing(
    enforcement: Enforcement, client: httpx.AsyncClient, legal: dict[str, str]
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id))
    enforcement_case = (await the_enforcement_case(client, case_id, legal))["enforcement_case_id"]
    weak = {"kind": "diary_entry", "strength": "weak", "source": "Survivor"}
    nothing = await propose(client, enforcement_case, legal, "advice_or_verbal_warning")
    assert nothing.status_code == 422, nothing.text
    assert nothing.json()["detail"][0]["missing"] == [ANY_EVIDENCE]
    await log(client, enforcement_case, [weak], legal)
    await decided_and_taken(client, enforcement_case, legal, "advice_or_verbal_warning")

    response = await propose(client, enforcement_case, legal, "written_warning")

    assert response.status_code == 422, response.text
    [refusal] = response.json()["detail"]
    assert refusal["type"] == "evidence-missing"
    assert refusal["loc"] == ["body", "step"]
    logged = EvidenceItem(
        kind=EvidenceKind.DIARY_ENTRY,
        strength=EvidenceStrength.WEAK,
        recorded_by=LEGAL_1,
        recorded_at=datetime.now(UTC),
        source="Survivor",
    )
    assert refusal["missing"] == missing_for(EvidenceLevel.SUBSTANTIAL, [logged])
    assert refusal["missing"]
    decided = (await the_enforcement_case(client, case_id, legal))["decisions"]
    assert [d["step"] for d in decided] == ["advice_or_verbal_warning"]
    events = await published(enforcement, case_id, event_type="enforcement.step-decided")
    assert [e.payload["step"] for e in events] == ["advice_or_verbal_warning"]


@pytest.mark.parametrize(
    ("step", "code"),
    [
        pytest.param("outcome_order_granted", "step-not-allowed-now", id="outcome-without-claim"),
        pytest.param("breach_reported", "step-not-allowed-now", id="breach-without-order"),
        pytest.param("ex_parte_injunction", "immediate-danger-only", id="ex-parte-no-danger"),
    ],
)
async def test_a_step_the_ladder_does_not_allow_now_is_409(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    step: str,
    code: str,
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id))
    enforcement_case = (await the_enforcement_case(client, case_id, legal))["enforcement_case_id"]
    await log(client, enforcement_case, STRONG_EVIDENCE, legal)

    response = await propose(client, enforcement_case, legal, step)

    assert response.status_code == 409, response.text
    assert response.json()["detail"][0]["type"] == code
    allowed = (await the_enforcement_case(client, case_id, legal))["allowed_next"]
    assert step not in allowed
    assert "advice_or_verbal_warning" in allowed


async def test_only_the_roles_the_ladder_names_decide_a_step(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    caseworker: dict[str, str],
    issue_token: TokenFactory,
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id, kinds=(P.ACTING_FOR_LANDLORD,)))
    contract = (await the_enforcement_case(client, case_id, legal))["enforcement_case_id"]
    await log(client, contract, STRONG_EVIDENCE, legal)

    # A caseworker decides nothing (no decide_enforcement); a legal officer does not refer
    # a contractor to their contract's owner: a manager does (1.3).
    by_caseworker = await propose(client, contract, caseworker, "contract_management_referral")
    by_legal = await propose(client, contract, legal, "contract_management_referral")
    manager = bearer(issue_token("manager", team=TEAM, subject=MANAGER_1))
    by_manager = await propose(client, contract, manager, "contract_management_referral")

    assert by_caseworker.status_code == 403, by_caseworker.text
    assert by_legal.status_code == 403, by_legal.text
    assert by_manager.status_code == 201, by_manager.text
    decision = by_manager.json()["decision"]
    assert decision["decided_by"] == [MANAGER_1]
    other_team = bearer(issue_token("manager", team=OTHER_TEAM))
    assert (await propose(client, contract, other_team, "contract_outcome")).status_code == 404
    taken_by_legal = await client.post(
        f"/v1/decisions/{decision['decision_id']}/taken", json={}, headers=legal
    )
    assert taken_by_legal.status_code == 403, taken_by_legal.text


async def test_notice_and_possession_need_two_different_people(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    legal_2: dict[str, str],
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id, classification=Classification.HATE_CRIME))
    enforcement_case = (await the_enforcement_case(client, case_id, legal))["enforcement_case_id"]
    await log(client, enforcement_case, STRONG_EVIDENCE, legal)

    proposed = await propose(
        client,
        enforcement_case,
        legal,
        "notice_of_seeking_possession",
        skip_reason="Serious racially aggravated assault; warnings would not protect her.",
        serious_hate_crime=True,
    )
    assert proposed.status_code == 201, proposed.text
    pending = proposed.json()
    assert (pending["status"], pending["decision"]) == ("pending", None)
    assert await published(enforcement, case_id, event_type="enforcement.step-decided") == []
    decide_path = f"/v1/proposals/{pending['proposal_id']}/decision"

    by_the_same = await client.post(decide_path, json={"agree": True}, headers=legal)

    assert by_the_same.status_code == 422, by_the_same.text
    assert by_the_same.json()["detail"][0]["type"] == "second-decider-needed"
    seen = await the_enforcement_case(client, case_id, legal)
    assert seen["decisions"] == []
    assert [p["proposal_id"] for p in seen["pending_proposals"]] == [pending["proposal_id"]]
    twice = await propose(
        client,
        enforcement_case,
        legal_2,
        "notice_of_seeking_possession",
        skip_reason="As proposed.",
        serious_hate_crime=True,
    )
    assert twice.status_code == 409, twice.text

    by_another = await client.post(decide_path, json={"agree": True}, headers=legal_2)

    assert by_another.status_code == 200, by_another.text
    answered = by_another.json()
    assert answered["status"] == "decided"
    decision = answered["decision"]
    assert decision["decided_by"] == [LEGAL_1, LEGAL_2]
    assert decision["skipped_steps"] == [
        "advice_or_verbal_warning",
        "written_warning",
        "acceptable_behaviour_agreement",
        "injunction",
    ]
    [event] = await sent(enforcement, case_id, event_type="enforcement.step-decided")
    decided = EnforcementStepDecided.model_validate(
        payload_opened_with(event.envelope, enforcement.keys)
    )
    assert decided.decided_by == [LEGAL_1, LEGAL_2]
    assert str(decided.decision_id) == decision["decision_id"]
    assert decided.personal.skip_reason == (
        "Serious racially aggravated assault; warnings would not protect her."
    )
    # The reason travels sealed with the case's key, nowhere in clear.
    assert event.envelope.sealed is not None
    assert "racially aggravated" not in event.raw
    again = await client.post(decide_path, json={"agree": True}, headers=legal_2)
    assert again.status_code == 409, again.text


async def test_a_second_person_may_decline(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    issue_token: TokenFactory,
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id, classification=Classification.HATE_CRIME))
    enforcement_case = (await the_enforcement_case(client, case_id, legal))["enforcement_case_id"]
    await log(client, enforcement_case, STRONG_EVIDENCE, legal)
    proposed = await propose(
        client,
        enforcement_case,
        legal,
        "possession_claim",
        skip_reason="Serious hate crime.",
        serious_hate_crime=True,
    )
    assert proposed.status_code == 201, proposed.text
    manager = bearer(issue_token("manager", team=TEAM, subject=MANAGER_1))

    declined = await client.post(
        f"/v1/proposals/{proposed.json()['proposal_id']}/decision",
        json={"agree": False},
        headers=manager,
    )

    assert declined.status_code == 200, declined.text
    assert (declined.json()["status"], declined.json()["answered_by"]) == ("declined", MANAGER_1)
    seen = await the_enforcement_case(client, case_id, legal)
    assert (seen["decisions"], seen["pending_proposals"]) == ([], [])


async def test_nothing_is_taken_until_a_named_person_records_it(
    enforcement: Enforcement, client: httpx.AsyncClient, legal: dict[str, str]
) -> None:
    """A decision is not a deed: risk's actions for enforcement stay open through the
    report, the evidence and the decision, and are answered by the step recorded taken."""
    case_id = uuid.uuid4()
    reported_at = datetime.now(UTC) - timedelta(hours=2)
    # Risk's actions may arrive before the report: they wait for its enforcement case.
    ex_parte = asked(case_id, ActionKind.EX_PARTE_INJUNCTION, reported_at)
    enforce = asked(case_id, ActionKind.PERPETRATOR_ENFORCEMENT, reported_at)
    await feed(enforcement, ex_parte)
    await feed(enforcement, report(case_id, danger=True, received_at=reported_at))
    await feed(enforcement, enforce)
    await feed(enforcement, ex_parte)  # delivered twice
    seen = await shown(client, case_id, legal)
    [enforcement_case] = seen["enforcement_cases"]
    eid = enforcement_case["enforcement_case_id"]
    assert {r["action_id"] for r in seen["requests"]} == {
        str(ex_parte.action_id),
        str(enforce.action_id),
    }
    assert {r["enforcement_case_id"] for r in seen["requests"]} == {eid}
    assert "ex_parte_injunction" in enforcement_case["allowed_next"]
    await log(client, eid, STRONG_EVIDENCE, legal)
    proposed = await propose(client, eid, legal, "ex_parte_injunction")
    assert proposed.status_code == 201, proposed.text
    decision = proposed.json()["decision"]

    assert await published(enforcement, case_id, event_type="enforcement.action-taken") == []
    assert all(r["answered_at"] is None for r in (await shown(client, case_id, legal))["requests"])

    taken = await client.post(
        f"/v1/decisions/{decision['decision_id']}/taken",
        json={"note": "Application lodged at the County Court."},
        headers=legal,
    )

    assert taken.status_code == 201, taken.text
    assert taken.json()["recorded_by"] == LEGAL_1
    events = await published(enforcement, case_id, event_type="enforcement.action-taken")
    deeds = [EnforcementActionTaken.model_validate(e.payload) for e in events]
    assert {d.action_id for d in deeds} == {ex_parte.action_id, enforce.action_id}
    for deed in deeds:
        assert (deed.step, deed.action) == ("ex_parte_injunction", "ex_parte_injunction")
        assert str(deed.decision_id) == decision["decision_id"]
        assert deed.recorded_by == LEGAL_1
    after = await shown(client, case_id, legal)
    assert all(r["answered_at"] for r in after["requests"])
    [step] = after["enforcement_cases"][0]["steps"]
    assert set(step["answers_action_ids"]) == {str(ex_parte.action_id), str(enforce.action_id)}
    again = await client.post(
        f"/v1/decisions/{decision['decision_id']}/taken", json={}, headers=legal
    )
    assert again.status_code == 409, again.text


async def test_an_ex_parte_injunction_against_someone_not_a_customer_is_a_civil_remedy(
    enforcement: Enforcement, client: httpx.AsyncClient, legal: dict[str, str]
) -> None:
    """3.3.1 asks for an ex parte injunction for a survivor in immediate danger, whoever
    the perpetrator is; against someone who is not a customer it is sought as a civil
    remedy, on the police-and-civil route, and that step taken answers risk's action."""
    case_id = uuid.uuid4()
    reported_at = datetime.now(UTC) - timedelta(hours=1)
    ex_parte = asked(case_id, ActionKind.EX_PARTE_INJUNCTION, reported_at)
    await feed(enforcement, report(case_id, kinds=(P.NOT_CUSTOMER,), danger=True))
    await feed(enforcement, ex_parte)
    police_and_civil = await the_enforcement_case(client, case_id, legal)
    assert police_and_civil["route"] == "police_and_civil"
    [request] = (await shown(client, case_id, legal))["requests"]
    assert request["enforcement_case_id"] == police_and_civil["enforcement_case_id"]
    eid = police_and_civil["enforcement_case_id"]
    await log(client, eid, STRONG_EVIDENCE, legal)

    await decided_and_taken(client, eid, legal, "civil_remedy")

    events = await published(enforcement, case_id, event_type="enforcement.action-taken")
    [deed] = [EnforcementActionTaken.model_validate(e.payload) for e in events]
    assert (deed.step, deed.action_id) == ("civil_remedy", ex_parte.action_id)


async def test_a_later_step_answers_no_request_already_answered(
    enforcement: Enforcement, client: httpx.AsyncClient, legal: dict[str, str]
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id))
    enforce = asked(case_id, ActionKind.PERPETRATOR_ENFORCEMENT, datetime.now(UTC))
    await feed(enforcement, enforce)
    eid = (await the_enforcement_case(client, case_id, legal))["enforcement_case_id"]
    await log(client, eid, STRONG_EVIDENCE, legal)

    await decided_and_taken(client, eid, legal, "advice_or_verbal_warning")
    await decided_and_taken(client, eid, legal, "written_warning")

    deeds = [
        EnforcementActionTaken.model_validate(e.payload)
        for e in await published(enforcement, case_id, event_type="enforcement.action-taken")
    ]
    assert [(d.step, d.action_id) for d in deeds] == [
        ("advice_or_verbal_warning", enforce.action_id),
        ("written_warning", None),
    ]
    allowed = (await the_enforcement_case(client, case_id, legal))["allowed_next"]
    assert "acceptable_behaviour_agreement" in allowed
    assert "injunction" not in allowed


@pytest.mark.parametrize(
    ("hours_ago", "met"),
    [pytest.param(2, True, id="within-24-hours"), pytest.param(30, False, id="late")],
)
async def test_the_ex_parte_injunction_records_its_24_hour_target(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    hours_ago: int,
    met: bool,
) -> None:
    case_id = uuid.uuid4()
    reported_at = (datetime.now(UTC) - timedelta(hours=hours_ago)).replace(microsecond=0)
    await feed(enforcement, report(case_id, danger=True, received_at=reported_at))
    eid = (await the_enforcement_case(client, case_id, legal))["enforcement_case_id"]
    await log(client, eid, STRONG_EVIDENCE, legal)

    proposed = await propose(client, eid, legal, "ex_parte_injunction")

    assert proposed.status_code == 201, proposed.text
    decision = proposed.json()["decision"]
    target = reported_at + timedelta(hours=24)
    assert datetime.fromisoformat(decision["target_at"]) == target
    assert decision["within_target"] is met
    [event] = await published(enforcement, case_id, event_type="enforcement.step-decided")
    decided = EnforcementStepDecided.model_validate(event.payload)
    assert (decided.target_due_at, decided.target_met) == (target, met)


async def test_who_reaches_a_cases_enforcement(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal: dict[str, str],
    caseworker: dict[str, str],
    issue_token: TokenFactory,
) -> None:
    case_id = uuid.uuid4()
    await feed(enforcement, report(case_id))
    eid = (await the_enforcement_case(client, case_id, legal))["enforcement_case_id"]
    south = bearer(issue_token("caseworker", team=OTHER_TEAM))
    adviser = bearer(issue_token("adviser", team=TEAM))

    assert (await client.get(f"/v1/cases/{case_id}/enforcement")).status_code == 401
    assert (
        await client.get(f"/v1/cases/{case_id}/enforcement", headers=caseworker)
    ).status_code == 200
    assert (await client.get(f"/v1/cases/{case_id}/enforcement", headers=south)).status_code == 404
    assert (
        await client.get(f"/v1/cases/{case_id}/enforcement", headers=adviser)
    ).status_code == 403
    item = STRONG_EVIDENCE[1]
    assert (
        await client.post(f"/v1/enforcement-cases/{eid}/evidence", json=item, headers=south)
    ).status_code == 404
    unknown = uuid.uuid4()
    for path in (
        f"/v1/enforcement-cases/{unknown}/evidence",
        f"/v1/enforcement-cases/{unknown}/proposals",
    ):
        body = item if path.endswith("evidence") else {"step": "written_warning", "reason": "x"}
        assert (await client.post(path, json=body, headers=legal)).status_code == 404
    assert (
        await client.post(f"/v1/decisions/{unknown}/taken", json={}, headers=legal)
    ).status_code == 404
    assert (
        await client.patch(f"/v1/perpetrators/{unknown}", json={"kind": "staff"}, headers=legal)
    ).status_code == 404
    extra = await propose(client, eid, legal, "advice_or_verbal_warning", decided_by="legal-9")
    assert extra.status_code == 422, extra.text
