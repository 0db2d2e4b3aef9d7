"""A case erased at intake is erased in referrals too (policy 3.5.2; issue 9, item 6),
served in-process against a fresh database and the session's broker: intake's and risk's
events are published to their topics as they would be.

The survivor's details and account, whom staff spoke to on the telephone and the incident
number they were given, why consent was overridden, the actions a meeting agreed, the
notes and evidence of a rehousing request, the reason for an exemption: none is in any of
referrals' tables afterwards, while another case's still is; the referrals themselves
stay; the disposal is on the audit topic with its counts. A report whose personal part is
empty (its key destroyed) still gets its referral made, with nothing personal in it.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from hhc_chassis.db import create_pool
from hhc_contracts.v1 import ActionRequired, CaseErased, ReportPersonalData, ReportReceived
from hhc_contracts.vocabulary import (
    ActionKind,
    AppliesTo,
    Channel,
    Classification,
    ConsentState,
    DisposalBasis,
    Executor,
    IncidentCategory,
    Partner,
    PartnerKind,
    PerpetratorKind,
    ReporterRole,
    Track,
)
from hhc_devstack.events import disposal_recorded, publish_as_producer
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import (
    Broker,
    TokenFactory,
    bearer,
    eventually,
    serving_service,
)
from hhc_devstack.stored import everything_stored, stored_once_gone
from hhc_referrals.app import definition
from hhc_referrals.settings import ReferralsSettings
from hhc_referrals.sharing import PERSONAL_DETAIL_FIELDS

TEAM = "north"
CASEWORKER = "caseworker-41"
ERASED_WORDS = ("Zephyrine", "Larkspur", "PC ZQ Quillon", "CAD-ZQ-7781", "Operator ZQ", "JAG-ZQ")


@dataclass(frozen=True)
class Referrals:
    url: str
    settings: ReferralsSettings
    broker: Broker


@pytest.fixture(scope="module")
async def referrals(postgres_server_url: str, broker: Broker) -> AsyncIterator[Referrals]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = ReferralsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-referrals-erasure-{uuid.uuid4().hex[:8]}",
    )
    async with serving_service(definition(settings)) as urls:
        yield Referrals(urls.staff, settings, broker)


async def publish(
    referrals: Referrals, case_id: uuid.UUID, payload: BaseModel, *, key_destroyed: bool = False
) -> None:
    """Publish as its producer (intake, risk) does: its envelope and headers. A case
    whose key is destroyed has its personal part withheld, as intake's relay does."""
    withheld = {"payload": {**payload.model_dump(mode="json"), "personal": {}}}
    await publish_as_producer(
        referrals.broker.bootstrap_servers,
        case_id,
        payload,
        envelope_changes=withheld if key_destroyed else None,
    )


def report(case_id: uuid.UUID, personal: ReportPersonalData) -> ReportReceived:
    return ReportReceived(
        case_id=case_id,
        report_id=uuid.uuid4(),
        reference=f"HHC-2026-{uuid.uuid4().int % 1_000_000:06d}",
        channel=Channel.TELEPHONE,
        reporter_role=ReporterRole.SURVIVOR,
        survivor_is_customer=True,
        perpetrator_kinds=[PerpetratorKind.CUSTOMER],
        categories=[IncidentCategory.THREATS_OF_VIOLENCE],
        classification=Classification.HATE_INCIDENT,
        track=Track.CUSTOMER_CASE,
        immediate_danger=True,
        consent_to_share=ConsentState.GIVEN,
        # The emergency services only by an override (3.5.2), with its reason.
        consent_by_partner_kind={PartnerKind.EMERGENCY: ConsentState.REFUSED},
        received_at=datetime.now(UTC),
        team=TEAM,
        personal=personal,
    )


def action_for(case_id: uuid.UUID, kind: ActionKind, partner: Partner) -> ActionRequired:
    now = datetime.now(UTC)
    return ActionRequired(
        action_id=uuid.uuid4(),
        case_id=case_id,
        kind=kind,
        applies_to=AppliesTo.ALL_REPORTEES,
        clause="3.3.1",
        carried_out_by=Executor.REFERRALS,
        partner=partner,
        required_at=now,
        due_at=now + timedelta(days=1),
        immediate_danger=True,
        consent_to_share=ConsentState.GIVEN,
    )


async def query(referrals: Referrals, sql: str, *args: Any) -> list[dict[str, Any]]:
    pool = await create_pool(referrals.settings)
    try:
        return [dict(row) for row in await pool.fetch(sql, *args)]
    finally:
        await pool.close()


async def report_handled(referrals: Referrals, case_id: uuid.UUID) -> None:
    """The report first, so the actions find the case's consent (their topics differ)."""

    async def kept() -> bool:
        return bool(
            await query(referrals, "SELECT 1 FROM case_consent WHERE case_id = $1", case_id)
        )

    await eventually(kept, message="referrals did not handle the report")


async def referral_to(referrals: Referrals, case_id: uuid.UUID, partner: Partner) -> uuid.UUID:
    async def made() -> list[dict[str, Any]] | None:
        found = await query(
            referrals,
            "SELECT referral_id FROM referrals WHERE case_id = $1 AND partner = $2",
            case_id,
            partner.value,
        )
        return found or None

    rows = await eventually(made, message=f"no referral to {partner.value}")
    referral_id: uuid.UUID = rows[0]["referral_id"]
    return referral_id


async def open_case(
    referrals: Referrals,
    client: httpx.AsyncClient,
    case_id: uuid.UUID,
    name: str,
    street: str,
    tag: str,
) -> None:
    """A case with everything referrals keeps in words about it."""
    personal = ReportPersonalData(
        survivor_name=name,
        survivor_phone="07700 900456",
        location=street,
        description=f"{name} was threatened outside {street}",
    )
    await publish(referrals, case_id, report(case_id, personal))
    await report_handled(referrals, case_id)
    await publish(
        referrals, case_id, action_for(case_id, ActionKind.POLICE_REFERRAL, Partner.POLICE)
    )
    await publish(
        referrals,
        case_id,
        action_for(case_id, ActionKind.INFORM_EMERGENCY_SERVICES, Partner.EMERGENCY_SERVICES),
    )
    police = await referral_to(referrals, case_id, Partner.POLICE)
    response = await client.post(
        f"/v1/referrals/{police}/confirmation",
        json={"spoke_to": f"PC {tag} Quillon", "incident_number": f"CAD-{tag}-7781"},
    )
    assert response.status_code == 200, response.text
    emergency = await referral_to(referrals, case_id, Partner.EMERGENCY_SERVICES)
    response = await client.post(
        f"/v1/referrals/{emergency}/confirmation",
        json={
            "spoke_to": f"Operator {tag}",
            "override_reason": f"{name} is in danger tonight at {street}",
        },
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        f"/v1/cases/{case_id}/multi-agency-meetings",
        json={
            "held_on": date.today().isoformat(),
            "agencies": ["Police"],
            "actions_agreed": [f"Move {name} away from {street}"],
        },
    )
    assert response.status_code == 201, response.text
    response = await client.post(
        f"/v1/cases/{case_id}/rehousing-requests",
        json={"banding": "emergency", "notes": f"{name} cannot stay at {street}"},
    )
    assert response.status_code == 201, response.text
    response = await client.post(
        f"/v1/cases/{case_id}/exemption-requests",
        json={
            "rule": "Rent arrears bar on a transfer",
            "reason": f"{name}'s arrears came from the harassment at {street}",
            "supported_by": "Police (Joint Action Group)",
            "support_reference": f"JAG-{tag}-1",
        },
    )
    assert response.status_code == 201, response.text


async def test_an_erased_case_leaves_nothing_personal_in_referrals(
    referrals: Referrals, issue_token: TokenFactory
) -> None:
    erased, kept = uuid.uuid4(), uuid.uuid4()
    headers = bearer(issue_token("caseworker", team=TEAM, subject=CASEWORKER))
    async with httpx.AsyncClient(base_url=referrals.url, timeout=15, headers=headers) as client:
        await open_case(referrals, client, erased, "Zephyrine Quoll", "14 Larkspur Row", "ZQ")
        await open_case(referrals, client, kept, "Ottoline Wrenfield", "3 Quarry Lane", "OW")
    before = await everything_stored(referrals.settings.database_url)
    assert all(word in before for word in ERASED_WORDS)
    referrals_before = await query(
        referrals,
        "SELECT referral_id, partner, status, sent_at FROM referrals WHERE case_id = $1",
        erased,
    )

    await publish(
        referrals,
        erased,
        CaseErased(
            case_id=erased, basis=DisposalBasis.RETENTION_SCHEDULE, erased_at=datetime.now(UTC)
        ),
    )

    stored = await stored_once_gone(
        referrals.settings.database_url,
        *ERASED_WORDS,
        message="the erased case's data is still in referrals",
    )
    for word in ("Ottoline Wrenfield", "3 Quarry Lane", "PC OW Quillon", "CAD-OW-7781"):
        assert word in stored  # the other case is untouched
    referrals_after = await query(
        referrals,
        "SELECT referral_id, partner, status, sent_at FROM referrals WHERE case_id = $1",
        erased,
    )
    assert sorted(referrals_after, key=str) == sorted(referrals_before, key=str)

    disposals = await disposal_recorded(referrals.broker.bootstrap_servers, "referrals", erased)
    disposed = disposals[0]
    assert disposed["basis"] == "retention_schedule"
    counts = disposed["counts"]
    for kind in (
        "case_details",
        "incident_descriptions",
        "referral_confirmations",
        "consent_override_reasons",
        "rehousing_requests",
        "exemption_requests",
        "meeting_actions_agreed",
    ):
        assert counts[kind] >= 1, kind
    assert all(payload["case_id"] != str(kept) for payload in disposals)


async def test_a_report_without_its_personal_part_is_still_referred(
    referrals: Referrals, issue_token: TokenFactory
) -> None:
    """A destroyed key leaves the report's personal part empty: the partner is still
    told, with the case's reference to contact the landlord by, and nothing personal."""
    case_id = uuid.uuid4()
    await publish(referrals, case_id, report(case_id, ReportPersonalData()), key_destroyed=True)
    await report_handled(referrals, case_id)
    await publish(
        referrals, case_id, action_for(case_id, ActionKind.POLICE_REFERRAL, Partner.POLICE)
    )
    police = await referral_to(referrals, case_id, Partner.POLICE)
    headers = bearer(issue_token("caseworker", team=TEAM, subject=CASEWORKER))
    async with httpx.AsyncClient(base_url=referrals.url, timeout=15, headers=headers) as client:
        response = await client.post(
            f"/v1/referrals/{police}/confirmation", json={"spoke_to": "the duty officer"}
        )
    assert response.status_code == 200, response.text
    made = response.json()
    assert made["status"] == "sent"
    assert "case_reference" in made["shared_fields"]
    assert not set(made["shared_fields"]) & set(PERSONAL_DETAIL_FIELDS)
