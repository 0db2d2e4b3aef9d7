"""Rehousing evidence and exemptions (policy 3.3.2, 3.4).

The rules first, as tables (pure). Then the service served in-process against a real
PostgreSQL: its event handlers fed intake's and risk's events on a connection of its
own pool, its HTTP routes called with signed tokens, and what it stored and staged for
publication (the outbox) read back.
"""

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from hhc_chassis.access import Caller, CaseScope, Role
from hhc_chassis.case_access import remember_case, with_case_access
from hhc_chassis.consumer import Handler
from hhc_chassis.db import create_pool
from hhc_chassis.events import new_envelope
from hhc_contracts import Envelope
from hhc_contracts.v1 import ReportPersonalData, ReportReceived, RiskAssessed
from hhc_contracts.vocabulary import (
    Channel,
    Classification,
    ConsentState,
    IncidentCategory,
    Partner,
    PerpetratorKind,
    ReporterRole,
    RiskLevel,
    Track,
)
from hhc_devstack.case_keys import MemoryCaseKeys, payload_opened_with, with_case_keys
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, serving_service
from hhc_referrals.app import definition
from hhc_referrals.rehousing import (
    SECOND_PERSON,
    Exemption,
    ExemptionStatus,
    decision_refused,
    evidence_from,
    highest_risk_level,
)
from hhc_referrals.settings import ReferralsSettings

TEAM, OTHER_TEAM = "north", "south"
UNKNOWN_LEVEL = RiskLevel("very_high")


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


REPORTED = at(3)


# --- the rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("levels", "highest"),
    [
        ([], None),
        ([RiskLevel.STANDARD], RiskLevel.STANDARD),
        ([RiskLevel.MEDIUM, RiskLevel.STANDARD, RiskLevel.MEDIUM], RiskLevel.MEDIUM),
        ([RiskLevel.STANDARD, RiskLevel.HIGH, RiskLevel.MEDIUM], RiskLevel.HIGH),
        # A level a newer risk service added ranks above every known one, as received.
        ([RiskLevel.HIGH, UNKNOWN_LEVEL, RiskLevel.STANDARD], UNKNOWN_LEVEL),
    ],
)
def test_the_highest_risk_level(levels: list[RiskLevel], highest: RiskLevel | None) -> None:
    assert highest_risk_level(levels) == highest


def test_the_bundle_is_oldest_first_with_police_references_only_once() -> None:
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    incidents: list[dict[str, Any]] = [
        {
            "report_id": second,
            "occurred_at": None,
            "received_at": at(5),
            "categories": ["graffiti"],
            "description": "Graffiti again.",
        },
        {
            "report_id": third,
            "occurred_at": at(6, 9),
            "received_at": at(6, 10),
            "categories": ["verbal_abuse", "threats_of_violence"],
            "description": None,
        },
        {
            "report_id": first,
            # Happened long before it was reported: it comes first.
            "occurred_at": at(1),
            "received_at": at(7),
            "categories": ["verbal_abuse"],
            "description": "Shouted abuse.",
        },
    ]
    assessments = [
        {"assessment_id": uuid.uuid4(), "risk_level": "high", "assessed_at": at(7)},
        {"assessment_id": uuid.uuid4(), "risk_level": "medium", "assessed_at": at(5)},
    ]
    referrals = [
        {"partner": "emergency_services", "incident_number": "CAD-1", "called_at": at(8)},
        {"partner": "police", "incident_number": "CAD-1", "called_at": at(5)},
        {"partner": "police", "incident_number": "  ", "called_at": at(4)},
        {"partner": "stop_hate_uk", "incident_number": "SH-9", "called_at": at(4)},
        {"partner": "emergency_services", "incident_number": " CAD-2 ", "called_at": at(6)},
    ]

    evidence = evidence_from(incidents, assessments, referrals)

    assert [incident.report_id for incident in evidence.incidents] == [first, second, third]
    assert evidence.incidents[2].categories == (
        IncidentCategory.VERBAL_ABUSE,
        IncidentCategory.THREATS_OF_VIOLENCE,
    )
    assert [a.risk_level for a in evidence.assessments] == [RiskLevel.MEDIUM, RiskLevel.HIGH]
    assert evidence.highest_risk_level is RiskLevel.HIGH
    assert [(p.reference, p.partner, p.called_at) for p in evidence.police_references] == [
        ("CAD-1", Partner.POLICE, at(5)),
        ("CAD-2", Partner.EMERGENCY_SERVICES, at(6)),
    ]


def _caller(subject: str, *roles: Role) -> Caller:
    return Caller(subject=subject, roles=frozenset(roles), team=TEAM)


ASKED = Exemption(
    requested_by="caseworker-1", supported_by="Police (JAG)", status=ExemptionStatus.PENDING
)
MANAGER = _caller("manager-2", Role.MANAGER)


@pytest.mark.parametrize(
    ("exemption", "decider", "approved", "refused"),
    [
        (ASKED, MANAGER, True, None),
        (ASKED, MANAGER, False, None),
        (ASKED, _caller("caseworker-3", Role.CASEWORKER), True, "only a manager"),
        (ASKED, _caller("caseworker-3", Role.CASEWORKER, Role.SAFEGUARDING_LEAD), False, "only"),
        # Whoever asked does not decide, even a manager asking for their own case.
        (ASKED, _caller("caseworker-1", Role.CASEWORKER, Role.MANAGER), True, SECOND_PERSON),
        (ASKED, _caller("caseworker-1", Role.MANAGER), False, SECOND_PERSON),
        (
            Exemption("caseworker-1", "  ", ExemptionStatus.PENDING),
            MANAGER,
            True,
            "statutory agency or a multi-agency group",
        ),
        # Refusing needs no support: refusal is the policy's normal answer.
        (Exemption("caseworker-1", "", ExemptionStatus.PENDING), MANAGER, False, None),
        (
            Exemption("caseworker-1", "Police", ExemptionStatus.APPROVED),
            MANAGER,
            True,
            "already approved",
        ),
        (
            Exemption("caseworker-1", "Police", ExemptionStatus.REFUSED),
            MANAGER,
            True,
            "already refused",
        ),
    ],
)
def test_who_may_decide_an_exemption(
    exemption: Exemption, decider: Caller, approved: bool, refused: str | None
) -> None:
    answer = decision_refused(exemption, decider, approved=approved)
    if refused is None:
        assert answer is None
    else:
        assert answer is not None
        assert refused in answer


# --- the service ----------------------------------------------------------------------


@dataclass(frozen=True)
class Referrals:
    client: httpx.AsyncClient
    pool: asyncpg.Pool
    handlers: Mapping[str, Handler]
    """As the service's consumer runs them (case access kept first)."""
    keys: MemoryCaseKeys


@pytest.fixture(scope="module")
async def referrals(postgres_server_url: str, broker: Broker) -> AsyncIterator[Referrals]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = ReferralsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-rehousing-{uuid.uuid4().hex[:8]}",
    )
    keys = MemoryCaseKeys()
    service = with_case_keys(definition(settings), keys)
    async with (
        serving_service(service) as urls,
        httpx.AsyncClient(base_url=urls.staff, timeout=10) as client,
    ):
        pool = await create_pool(settings)
        try:
            yield Referrals(client, pool, with_case_access(service.handlers), keys)
        finally:
            await pool.close()


async def handle(referrals: Referrals, payload: ReportReceived | RiskAssessed) -> None:
    occurred_at = (
        payload.received_at if isinstance(payload, ReportReceived) else payload.assessed_at
    )
    envelope = new_envelope(payload, case_id=payload.case_id, occurred_at=occurred_at)
    async with referrals.pool.acquire() as connection, connection.transaction():
        await referrals.handlers[envelope.event_type](connection, envelope, payload)


def report_received(
    case_id: UUID,
    *,
    received_at: datetime,
    occurred_at: datetime | None = None,
    categories: tuple[IncidentCategory, ...] = (IncidentCategory.VERBAL_ABUSE,),
    description: str | None = "Shouted racist abuse at my door late at night.",
) -> ReportReceived:
    return ReportReceived(
        case_id=case_id,
        report_id=uuid.uuid4(),
        reference="HHC-2026-000123",
        channel=Channel.TELEPHONE,
        reporter_role=ReporterRole.SURVIVOR,
        survivor_is_customer=True,
        perpetrator_kinds=[PerpetratorKind.CUSTOMER],
        categories=list(categories),
        classification=Classification.HATE_CRIME,
        track=Track.CUSTOMER_CASE,
        immediate_danger=False,
        consent_to_share=ConsentState.GIVEN,
        incident_occurred_at=occurred_at,
        received_at=received_at,
        team=TEAM,
        personal=ReportPersonalData(description=description),
    )


def risk_assessed(case_id: UUID, level: RiskLevel, assessed_at: datetime) -> RiskAssessed:
    return RiskAssessed(
        assessment_id=uuid.uuid4(),
        case_id=case_id,
        risk_level=level,
        basis="visit",
        assessed_at=assessed_at,
    )


async def telephoned(
    referrals: Referrals, case_id: UUID, partner: Partner, number: str | None, called_at: datetime
) -> None:
    """A referral staff confirmed by telephone, as the confirmation stores it."""
    await referrals.pool.execute(
        """INSERT INTO referrals (referral_id, case_id, partner, partner_kind, channel, status,
                                  basis, decided_at, sent_at, confirmed_by, called_at,
                                  spoke_to, incident_number)
           VALUES ($1, $2, $3, 'statutory', 'telephone', 'sent', 'consent', $4, $4,
                   'caseworker-1', $4, 'Call handler', $5)""",
        uuid.uuid4(),
        case_id,
        partner.value,
        called_at,
        number,
    )


async def new_case(referrals: Referrals, *, received_at: datetime = REPORTED) -> UUID:
    """A case of TEAM with one report."""
    case_id = uuid.uuid4()
    await handle(referrals, report_received(case_id, received_at=received_at))
    return case_id


def staff(issue_token: TokenFactory, role: str, subject: str, team: str = TEAM) -> dict[str, str]:
    return bearer(issue_token(role, team=team, subject=subject))


async def outbox(referrals: Referrals, event_type: str, case_id: UUID) -> list[dict[str, Any]]:
    """The envelopes of ``event_type`` staged for the case, oldest first."""
    rows = await referrals.pool.fetch(
        "SELECT payload FROM outbox WHERE event_type = $1 AND message_key = $2 ORDER BY id",
        event_type,
        str(case_id),
    )
    return [row["payload"] for row in rows]


async def test_the_evidence_is_every_report_assessment_and_police_reference_with_dates(
    referrals: Referrals, issue_token: TokenFactory
) -> None:
    case_id = uuid.uuid4()
    first = report_received(
        case_id,
        received_at=at(3, 9),
        occurred_at=at(2, 22),
        categories=(IncidentCategory.VERBAL_ABUSE, IncidentCategory.GRAFFITI),
    )
    further = report_received(case_id, received_at=at(9, 10), description=None)
    for payload in (first, further, first):  # the first delivered twice
        await handle(referrals, payload)
    await handle(referrals, risk_assessed(case_id, RiskLevel.HIGH, at(3, 10)))
    await handle(referrals, risk_assessed(case_id, RiskLevel.MEDIUM, at(10, 10)))
    await telephoned(referrals, case_id, Partner.POLICE, "CAD-2211", at(3, 11))
    await telephoned(referrals, case_id, Partner.EMERGENCY_SERVICES, None, at(3, 9))

    response = await referrals.client.get(
        f"/v1/cases/{case_id}/rehousing-evidence",
        headers=staff(issue_token, "caseworker", "caseworker-1"),
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "case_id": str(case_id),
        "incidents": [
            {
                "report_id": str(first.report_id),
                "occurred_at": "2026-03-02T22:00:00Z",
                "received_at": "2026-03-03T09:00:00Z",
                "categories": ["verbal_abuse", "graffiti"],
                "description": "Shouted racist abuse at my door late at night.",
            },
            {
                "report_id": str(further.report_id),
                "occurred_at": None,
                "received_at": "2026-03-09T10:00:00Z",
                "categories": ["verbal_abuse"],
                "description": None,
            },
        ],
        "assessments": [
            {
                "assessment_id": response.json()["assessments"][0]["assessment_id"],
                "risk_level": "high",
                "assessed_at": "2026-03-03T10:00:00Z",
            },
            {
                "assessment_id": response.json()["assessments"][1]["assessment_id"],
                "risk_level": "medium",
                "assessed_at": "2026-03-10T10:00:00Z",
            },
        ],
        "police_references": [
            {"reference": "CAD-2211", "partner": "police", "called_at": "2026-03-03T11:00:00Z"}
        ],
        "highest_risk_level": "high",
    }


async def test_another_teams_caseworker_does_not_reach_the_evidence(
    referrals: Referrals, issue_token: TokenFactory
) -> None:
    case_id = await new_case(referrals)
    path = f"/v1/cases/{case_id}/rehousing-evidence"

    elsewhere = await referrals.client.get(
        path, headers=staff(issue_token, "caseworker", "caseworker-9", team=OTHER_TEAM)
    )

    assert elsewhere.status_code == 404
    here = await referrals.client.get(path, headers=staff(issue_token, "caseworker", "cw-1"))
    assert here.status_code == 200


async def test_a_rehousing_request_is_stored_and_published_with_its_evidence(
    referrals: Referrals, issue_token: TokenFactory
) -> None:
    case_id = await new_case(referrals, received_at=at(3, 9))
    await handle(referrals, risk_assessed(case_id, RiskLevel.MEDIUM, at(3, 10)))
    await handle(referrals, risk_assessed(case_id, RiskLevel.HIGH, at(4, 10)))
    await telephoned(referrals, case_id, Partner.POLICE, "CAD-7", at(3, 11))

    response = await referrals.client.post(
        f"/v1/cases/{case_id}/rehousing-requests",
        json={"banding": "emergency", "notes": "  Moves in with her sister meanwhile.  "},
        headers=staff(issue_token, "caseworker", "caseworker-12"),
    )

    assert response.status_code == 201, response.text
    request_id = UUID(response.json()["request_id"])
    row = await referrals.pool.fetchrow(
        "SELECT * FROM rehousing_requests WHERE request_id = $1", request_id
    )
    assert row["case_id"] == case_id
    assert row["banding"] == "emergency"
    assert row["requested_by"] == "caseworker-12"
    assert row["notes"] == "Moves in with her sister meanwhile."
    assert row["highest_risk_level"] == "high"
    assert row["evidence"]["police_references"] == [
        {"reference": "CAD-7", "partner": "police", "called_at": "2026-03-03T11:00:00Z"}
    ]
    [envelope] = await outbox(referrals, "referrals.rehousing-requested", case_id)
    # Sealed once the relay published the row: read as a subscriber given the key would.
    payload = payload_opened_with(Envelope.model_validate(envelope), referrals.keys)
    assert envelope["case_id"] == str(case_id)
    assert payload["request_id"] == str(request_id)
    assert payload["banding"] == "emergency"
    assert payload["requested_by"] == "caseworker-12"
    assert (
        payload["incident_count"],
        payload["assessment_count"],
        payload["police_reference_count"],
    ) == (1, 2, 1)
    assert payload["highest_risk_level"] == "high"
    assert payload["personal"] == {
        "incidents": [
            {
                "occurred_at": None,
                "received_at": "2026-03-03T09:00:00Z",
                "categories": ["verbal_abuse"],
                "description": "Shouted racist abuse at my door late at night.",
            }
        ],
        "assessments": [
            {"assessed_at": "2026-03-03T10:00:00Z", "risk_level": "medium"},
            {"assessed_at": "2026-03-04T10:00:00Z", "risk_level": "high"},
        ],
        "police_references": ["CAD-7"],
        "notes": "Moves in with her sister meanwhile.",
    }


async def test_no_rehousing_request_before_an_incident_is_recorded(
    referrals: Referrals, issue_token: TokenFactory
) -> None:
    # The case is known (its scope arrived) but none of its reports is kept here.
    case_id = uuid.uuid4()
    async with referrals.pool.acquire() as connection:
        await remember_case(connection, case_id, CaseScope(team=TEAM))

    response = await referrals.client.post(
        f"/v1/cases/{case_id}/rehousing-requests",
        json={"banding": "priority"},
        headers=staff(issue_token, "caseworker", "caseworker-12"),
    )

    assert response.status_code == 409, response.text
    assert "no incident" in response.json()["detail"]
    stored = await referrals.pool.fetchval(
        "SELECT count(*) FROM rehousing_requests WHERE case_id = $1", case_id
    )
    assert stored == 0
    assert await outbox(referrals, "referrals.rehousing-requested", case_id) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"banding": "urgent"}, "banding"),
        ({}, "banding"),
        ({"banding": "priority", "evidence": []}, "evidence"),
    ],
)
async def test_a_rehousing_request_off_its_form_is_422_naming_the_field(
    referrals: Referrals, issue_token: TokenFactory, body: dict[str, Any], field: str
) -> None:
    case_id = await new_case(referrals)

    response = await referrals.client.post(
        f"/v1/cases/{case_id}/rehousing-requests",
        json=body,
        headers=staff(issue_token, "caseworker", "caseworker-12"),
    )

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]


EXEMPTION = {
    "rule": "Rent arrears bar on a transfer",
    "reason": "Arrears built up while she could not go home; the JAG supports a move.",
    "supported_by": "Joint Action Group",
    "support_reference": "JAG-2026-03",
}


@pytest.mark.parametrize("supported_by", [None, "", "   "])
async def test_an_exemption_request_names_its_statutory_or_multi_agency_support(
    referrals: Referrals, issue_token: TokenFactory, supported_by: str | None
) -> None:
    case_id = await new_case(referrals)
    body = {name: value for name, value in EXEMPTION.items() if name != "supported_by"}
    if supported_by is not None:
        body["supported_by"] = supported_by

    response = await referrals.client.post(
        f"/v1/cases/{case_id}/exemption-requests",
        json=body,
        headers=staff(issue_token, "caseworker", "caseworker-12"),
    )

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["supported_by"]
    stored = await referrals.pool.fetchval(
        "SELECT count(*) FROM exemption_requests WHERE case_id = $1", case_id
    )
    assert stored == 0


async def ask_for_exemption(
    referrals: Referrals, case_id: UUID, headers: dict[str, str]
) -> dict[str, Any]:
    response = await referrals.client.post(
        f"/v1/cases/{case_id}/exemption-requests", json=EXEMPTION, headers=headers
    )
    assert response.status_code == 201, response.text
    asked: dict[str, Any] = response.json()
    return asked


async def test_an_exemption_is_decided_once_by_a_manager_who_did_not_ask(
    referrals: Referrals, issue_token: TokenFactory
) -> None:
    case_id = await new_case(referrals)
    asking_manager = staff(issue_token, "manager", "manager-1")
    asked = await ask_for_exemption(referrals, case_id, asking_manager)
    assert asked["status"] == "pending"
    assert asked["requested_by"] == "manager-1"
    decision_path = f"/v1/exemption-requests/{asked['exemption_id']}/decision"
    approve = {"approved": True, "reason": "Support from the JAG is on file."}

    own = await referrals.client.post(decision_path, json=approve, headers=asking_manager)
    caseworker = await referrals.client.post(
        decision_path, json=approve, headers=staff(issue_token, "caseworker", "caseworker-2")
    )
    other_team = await referrals.client.post(
        decision_path,
        json=approve,
        headers=staff(issue_token, "manager", "manager-9", team=OTHER_TEAM),
    )

    assert own.status_code == 409, own.text
    assert own.json()["detail"].startswith("a second person must decide (3.4.3)")
    assert caseworker.status_code == 403
    assert other_team.status_code == 404
    assert await outbox(referrals, "referrals.exemption-decided", case_id) == []

    decided = await referrals.client.post(
        decision_path, json=approve, headers=staff(issue_token, "manager", "manager-2")
    )

    assert decided.status_code == 200, decided.text
    row = await referrals.pool.fetchrow(
        "SELECT * FROM exemption_requests WHERE exemption_id = $1", UUID(asked["exemption_id"])
    )
    assert (row["status"], row["decided_by"], row["requested_by"]) == (
        "approved",
        "manager-2",
        "manager-1",
    )
    assert row["decision_reason"] == "Support from the JAG is on file."
    [envelope] = await outbox(referrals, "referrals.exemption-decided", case_id)
    assert envelope["payload"] == {
        "exemption_id": asked["exemption_id"],
        "case_id": str(case_id),
        "rule": "Rent arrears bar on a transfer",
        "approved": True,
        "supported_by": "Joint Action Group",
        "requested_by": "manager-1",
        "decided_by": "manager-2",
        "decided_at": envelope["payload"]["decided_at"],
    }
    assert datetime.fromisoformat(envelope["payload"]["decided_at"]) == row["decided_at"]

    again = await referrals.client.post(
        decision_path,
        json={"approved": False, "reason": "Changed my mind about it."},
        headers=staff(issue_token, "manager", "manager-3"),
    )

    assert again.status_code == 409
    assert "already approved" in again.json()["detail"]
    assert len(await outbox(referrals, "referrals.exemption-decided", case_id)) == 1
    listed = await referrals.client.get(
        f"/v1/cases/{case_id}/exemption-requests",
        headers=staff(issue_token, "caseworker", "caseworker-2"),
    )
    assert listed.status_code == 200
    assert [(e["status"], e["decided_by"]) for e in listed.json()] == [("approved", "manager-2")]


async def test_a_refusal_is_stored_and_published_too(
    referrals: Referrals, issue_token: TokenFactory
) -> None:
    case_id = await new_case(referrals)
    asked = await ask_for_exemption(
        referrals, case_id, staff(issue_token, "caseworker", "caseworker-12")
    )

    refused = await referrals.client.post(
        f"/v1/exemption-requests/{asked['exemption_id']}/decision",
        json={"approved": False, "reason": "The arrears predate the harassment."},
        headers=staff(issue_token, "manager", "manager-2"),
    )

    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused"
    [envelope] = await outbox(referrals, "referrals.exemption-decided", case_id)
    assert envelope["payload"]["approved"] is False
    assert envelope["payload"]["requested_by"] == "caseworker-12"


async def test_an_unknown_exemption_request_is_404(
    referrals: Referrals, issue_token: TokenFactory
) -> None:
    response = await referrals.client.post(
        f"/v1/exemption-requests/{uuid.uuid4()}/decision",
        json={"approved": True, "reason": "Support from the JAG is on file."},
        headers=staff(issue_token, "manager", "manager-2"),
    )

    assert response.status_code == 404
