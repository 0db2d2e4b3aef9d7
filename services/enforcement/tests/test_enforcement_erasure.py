"""A case erased at intake is erased in enforcement too (policy 3.5.2; issue 9, item 6),
served in-process against a fresh database and the session's broker: intake's events are
published to its topic as intake would.

What is known of the alleged perpetrator (their reference and description), the evidence
log's sources, references and summaries, the reason for a step and the note of its being
taken: none is in any of enforcement's tables afterwards, while another case's still is;
the enforcement case, its step and its evidence kinds stay; the disposal is on the audit
topic with its counts.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from hhc_chassis.db import create_pool
from hhc_contracts.v1 import CaseErased, ReportReceived
from hhc_contracts.vocabulary import (
    Channel,
    Classification,
    ConsentState,
    DisposalBasis,
    IncidentCategory,
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
from hhc_enforcement.app import EnforcementSettings, definition

TEAM = "north"
LEGAL = "legal-51"
ERASED_WORDS = ("Zephyrine", "Larkspur", "T-ZQ-0042", "MP/ZQ/7781")


@dataclass(frozen=True)
class Enforcement:
    url: str
    settings: EnforcementSettings
    broker: Broker


@pytest.fixture(scope="module")
async def enforcement(postgres_server_url: str, broker: Broker) -> AsyncIterator[Enforcement]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = EnforcementSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-enforcement-erasure-{uuid.uuid4().hex[:8]}",
    )
    async with serving_service(definition(settings)) as urls:
        yield Enforcement(urls.staff, settings, broker)


async def publish(enforcement: Enforcement, case_id: uuid.UUID, payload: BaseModel) -> None:
    """Publish as its producer (intake) does: its envelope, its headers."""
    await publish_as_producer(enforcement.broker.bootstrap_servers, case_id, payload)


def report(case_id: uuid.UUID) -> ReportReceived:
    return ReportReceived(
        case_id=case_id,
        report_id=uuid.uuid4(),
        reference=f"HHC-2026-{uuid.uuid4().int % 1_000_000:06d}",
        channel=Channel.TELEPHONE,
        reporter_role=ReporterRole.SURVIVOR,
        survivor_is_customer=True,
        perpetrator_kinds=[PerpetratorKind.CUSTOMER],
        categories=[IncidentCategory.VERBAL_ABUSE],
        classification=Classification.HATE_INCIDENT,
        track=Track.CUSTOMER_CASE,
        immediate_danger=False,
        consent_to_share=ConsentState.GIVEN,
        received_at=datetime.now(UTC),
        team=TEAM,
    )


async def query(enforcement: Enforcement, sql: str, *args: Any) -> list[dict[str, Any]]:
    pool = await create_pool(enforcement.settings)
    try:
        return [dict(row) for row in await pool.fetch(sql, *args)]
    finally:
        await pool.close()


async def open_case(
    enforcement: Enforcement, client: httpx.AsyncClient, case_id: uuid.UUID, name: str, tag: str
) -> None:
    """A case with what enforcement keeps in words about it, through its own routes."""
    await publish(enforcement, case_id, report(case_id))

    async def opened() -> dict[str, Any] | None:
        response = await client.get(f"/v1/cases/{case_id}/enforcement")
        body: dict[str, Any] = response.json()
        ready = response.status_code == 200 and any(
            p["enforcement_case_id"] for p in body["perpetrators"]
        )
        return body if ready else None

    seen = await eventually(opened, message="enforcement opened no case")
    [perpetrator] = seen["perpetrators"]
    enforcement_case_id = perpetrator["enforcement_case_id"]
    response = await client.patch(
        f"/v1/perpetrators/{perpetrator['perpetrator_id']}",
        json={"reference": f"T-{tag}-0042", "description": f"Lives next door to {name}"},
    )
    assert response.status_code == 200, response.text
    for item in (
        {
            "kind": "crime_number",
            "strength": "moderate",
            "source": "Merseyside Police",
            "reference": f"MP/{tag}/7781",
        },
        {
            "kind": "witness_statement",
            "strength": "moderate",
            "source": f"{name}'s neighbour",
            "summary": f"Heard the threats shouted at {name}",
        },
    ):
        response = await client.post(
            f"/v1/enforcement-cases/{enforcement_case_id}/evidence", json=item
        )
        assert response.status_code == 201, response.text
    response = await client.post(
        f"/v1/enforcement-cases/{enforcement_case_id}/proposals",
        json={"step": "advice_or_verbal_warning", "reason": f"Repeated abuse of {name}"},
    )
    assert response.status_code == 201, response.text
    decision_id = response.json()["decision"]["decision_id"]
    response = await client.post(
        f"/v1/decisions/{decision_id}/taken",
        json={"note": f"Warned on the doorstep about {name}"},
    )
    assert response.status_code == 201, response.text


async def test_an_erased_case_leaves_no_words_in_enforcement(
    enforcement: Enforcement, issue_token: TokenFactory
) -> None:
    erased, kept = uuid.uuid4(), uuid.uuid4()
    headers = bearer(issue_token("legal_officer", subject=LEGAL))
    async with httpx.AsyncClient(base_url=enforcement.url, timeout=15, headers=headers) as client:
        await open_case(enforcement, client, erased, "Zephyrine Quoll of Larkspur Row", "ZQ")
        await open_case(enforcement, client, kept, "Ottoline Wrenfield", "OW")
    before = await everything_stored(enforcement.settings.database_url)
    assert all(word in before for word in ERASED_WORDS)
    steps_before = await query(
        enforcement,
        """SELECT s.step_id, s.step, s.taken_at FROM enforcement_steps s
           JOIN enforcement_cases c USING (enforcement_case_id) WHERE c.case_id = $1""",
        erased,
    )

    await publish(
        enforcement,
        erased,
        CaseErased(
            case_id=erased, basis=DisposalBasis.SUBJECT_REQUEST, erased_at=datetime.now(UTC)
        ),
    )

    stored = await stored_once_gone(
        enforcement.settings.database_url,
        *ERASED_WORDS,
        message="the erased case's words are still here",
    )
    for word in ("Ottoline Wrenfield", "T-OW-0042", "MP/OW/7781"):
        assert word in stored  # the other case is untouched
    steps_after = await query(
        enforcement,
        """SELECT s.step_id, s.step, s.taken_at FROM enforcement_steps s
           JOIN enforcement_cases c USING (enforcement_case_id) WHERE c.case_id = $1""",
        erased,
    )
    assert steps_after == steps_before

    disposals = await disposal_recorded(enforcement.broker.bootstrap_servers, "enforcement", erased)
    disposed = disposals[0]
    assert disposed["basis"] == "subject_request"
    counts = disposed["counts"]
    for kind in ("perpetrators", "evidence_items", "proposal_reasons", "decision_reasons"):
        assert counts[kind] >= 1, kind
    assert counts["step_notes"] == 1
    assert all(payload["case_id"] != str(kept) for payload in disposals)
