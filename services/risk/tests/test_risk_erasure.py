"""A case erased at intake is erased in risk too (policy 3.5.2; issue 9, item 6), served
in-process against a fresh database and the session's broker: intake's events are
published to its topic as intake would.

What staff wrote of the erased case (an action's outcome in their words, the completion's
notes) is in none of risk's tables afterwards, while another case's still is; the case's
actions, times and states stay; the disposal is on the audit topic with its counts.
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
from hhc_risk.app import definition
from hhc_risk.settings import RiskSettings

TEAM = "north"
OFFICER = "officer-31"
CARRIED_OUT_ELSEWHERE = frozenset({"referrals", "enforcement"})


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
        consumer_group=f"test-risk-erasure-{uuid.uuid4().hex[:8]}",
    )
    async with serving_service(definition(settings)) as urls:
        yield Risk(urls.staff, settings, broker)


async def publish(risk: Risk, case_id: uuid.UUID, payload: BaseModel) -> None:
    """Publish as its producer (intake) does: its envelope, its headers."""
    await publish_as_producer(risk.broker.bootstrap_servers, case_id, payload)


def report(case_id: uuid.UUID) -> ReportReceived:
    return ReportReceived(
        case_id=case_id,
        report_id=uuid.uuid4(),
        reference=f"HHC-2026-{uuid.uuid4().int % 1_000_000:06d}",
        channel=Channel.WEB_FORM,
        reporter_role=ReporterRole.SURVIVOR,
        survivor_is_customer=True,
        perpetrator_kinds=[PerpetratorKind.UNKNOWN],
        categories=[IncidentCategory.THREATS_OF_VIOLENCE],
        classification=Classification.HARASSMENT,
        track=Track.CUSTOMER_CASE,
        immediate_danger=True,
        consent_to_share=ConsentState.GIVEN,
        received_at=datetime.now(UTC),
        team=TEAM,
    )


async def query(risk: Risk, sql: str, *args: Any) -> list[dict[str, Any]]:
    pool = await create_pool(risk.settings)
    try:
        return [dict(row) for row in await pool.fetch(sql, *args)]
    finally:
        await pool.close()


async def complete_an_action(
    risk: Risk, client: httpx.AsyncClient, case_id: uuid.UUID, outcome: str, notes: str
) -> None:
    """Completes one of the case's actions; ``outcome`` is then written as free text, as
    the API took it before outcomes became codes (rows from then are still erased)."""

    async def planned() -> list[dict[str, Any]] | None:
        found = await query(
            risk,
            "SELECT action_id, carried_out_by FROM actions WHERE case_id = $1 AND state = 'open'",
            case_id,
        )
        ours = [row for row in found if row["carried_out_by"] not in CARRIED_OUT_ELSEWHERE]
        return ours or None

    action = (await eventually(planned, message="risk planned no action of its own"))[0]
    response = await client.post(
        f"/v1/actions/{action['action_id']}/complete", json={"outcome": "visited", "notes": notes}
    )
    assert response.status_code == 200, response.text
    await query(
        risk,
        "UPDATE actions SET outcome = $2 WHERE action_id = $1",
        action["action_id"],
        outcome,
    )


async def test_an_outcome_is_a_code_and_free_text_is_refused(
    risk: Risk, issue_token: TokenFactory
) -> None:
    case_id = uuid.uuid4()
    headers = bearer(issue_token("caseworker", team=TEAM, subject=OFFICER))
    await publish(risk, case_id, report(case_id))

    async def planned() -> list[dict[str, Any]] | None:
        return (
            await query(risk, "SELECT action_id FROM actions WHERE case_id = $1", case_id)
        ) or None

    action = (await eventually(planned, message="risk planned nothing"))[0]
    async with httpx.AsyncClient(base_url=risk.url, timeout=15, headers=headers) as client:
        refused = await client.post(
            f"/v1/actions/{action['action_id']}/complete",
            json={"outcome": "Saw Ms Zephyrine Quoll at home"},
        )
    assert refused.status_code == 422
    assert "outcome" in refused.text
    assert "Zephyrine" not in refused.text


async def test_an_erased_case_leaves_no_words_of_staff_in_risk(
    risk: Risk, issue_token: TokenFactory
) -> None:
    erased, kept = uuid.uuid4(), uuid.uuid4()
    headers = bearer(issue_token("caseworker", team=TEAM, subject=OFFICER))
    async with httpx.AsyncClient(base_url=risk.url, timeout=15, headers=headers) as client:
        for case_id in (erased, kept):
            await publish(risk, case_id, report(case_id))
        await complete_an_action(
            risk,
            client,
            erased,
            outcome="Saw Ms Zephyrine Quoll at home",
            notes="Ms Zephyrine Quoll at 14 Larkspur Row, new locks fitted",
        )
        await complete_an_action(
            risk,
            client,
            kept,
            outcome="Saw Mr Ottoline Wrenfield at home",
            notes="Mr Ottoline Wrenfield at 3 Quarry Lane",
        )
    assert "Zephyrine" in await everything_stored(risk.settings.database_url)
    actions_before = await query(
        risk, "SELECT action_id, state, completed_at FROM actions WHERE case_id = $1", erased
    )

    await publish(
        risk,
        erased,
        CaseErased(
            case_id=erased, basis=DisposalBasis.SUBJECT_REQUEST, erased_at=datetime.now(UTC)
        ),
    )

    stored = await stored_once_gone(
        risk.settings.database_url,
        "Zephyrine",
        "Larkspur",
        message="the erased case's words are still in risk",
    )
    assert "Ottoline Wrenfield" in stored  # the other case is untouched
    # The case's actions stay, as they were but for the outcome in staff's words.
    actions_after = await query(
        risk,
        "SELECT action_id, state, completed_at, outcome FROM actions WHERE case_id = $1",
        erased,
    )
    assert sorted(
        (row["action_id"], row["state"], row["completed_at"]) for row in actions_after
    ) == sorted(tuple(row.values()) for row in actions_before)
    assert "erased" in {row["outcome"] for row in actions_after}

    disposals = await disposal_recorded(risk.broker.bootstrap_servers, "risk", erased)
    disposed = disposals[0]
    assert disposed["basis"] == "subject_request"
    assert disposed["counts"]["action_outcomes"] == 1
    assert sum(disposed["counts"].values()) >= 1
    assert not any(payload["case_id"] == str(kept) for payload in disposals)
