"""Advice as an action (issue 10, item 7): on the online-abuse track (3.1) and the Hate
Crime Reporting Centre's (3.2.6) the landlord's advice is an action, completed with what
was advised, and that completion is the case's first response (5.2).

The rule on notes is pure and tested first; then risk served in-process against a fresh
database and the session's broker, its actions planned by the playbook for a case of each
track, completed through ``POST /v1/actions/{action_id}/complete``.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.exceptions import RequestValidationError

from hhc_chassis.access import CaseScope
from hhc_chassis.case_access import remember_case
from hhc_chassis.db import connect
from hhc_contracts import Envelope
from hhc_contracts.v1 import ActionCompleted
from hhc_contracts.vocabulary import (
    ActionKind,
    Classification,
    ConsentState,
    IncidentCategory,
    PerpetratorKind,
    Track,
)
from hhc_devstack.case_keys import MemoryCaseKeys, payload_opened_with, with_case_keys
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, serving_service
from hhc_risk import casework
from hhc_risk.api import completion_notes
from hhc_risk.app import definition
from hhc_risk.playbook import CaseFacts, plan_actions
from hhc_risk.settings import RiskSettings

K = ActionKind
TEAM = "north"
OFFICER = "officer-7"
ADVISED = "Told them to block the account and report it to the Police on 101."

# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("notes", [None, "", "   ", "\n\t "], ids=["none", "empty", "spaces", "ws"])
def test_advice_without_what_was_advised_is_refused_naming_notes(notes: str | None) -> None:
    with pytest.raises(RequestValidationError) as refused:
        completion_notes(K.GIVE_ADVICE, notes)
    [error] = refused.value.errors()
    assert error["loc"] == ("body", "notes")
    assert "what was advised" in error["msg"]


def test_advice_with_what_was_advised_keeps_the_notes() -> None:
    assert completion_notes(K.GIVE_ADVICE, ADVISED) == ADVISED


@pytest.mark.parametrize(
    "kind",
    [kind for kind in ActionKind if kind is not K.GIVE_ADVICE] + [ActionKind("new_kind")],
    ids=str,
)
@pytest.mark.parametrize("notes", [None, "", "Visited; no one in."], ids=["none", "empty", "some"])
def test_other_actions_need_no_notes(kind: ActionKind, notes: str | None) -> None:
    assert completion_notes(kind, notes) == notes


# --------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class Risk:
    url: str
    settings: RiskSettings
    keys: MemoryCaseKeys


@pytest.fixture(scope="module")
async def risk(postgres_server_url: str, broker: Broker) -> AsyncIterator[Risk]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = RiskSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-risk-advice-{uuid.uuid4().hex[:8]}",
    )
    keys = MemoryCaseKeys()
    async with serving_service(with_case_keys(definition(settings), keys)) as urls:
        yield Risk(urls.staff, settings, keys)


@pytest.fixture
async def client(risk: Risk) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=risk.url, timeout=15) as client:
        yield client


@pytest.fixture
def officer(issue_token: TokenFactory) -> dict[str, str]:
    return bearer(issue_token("caseworker", team=TEAM, subject=OFFICER))


# A case of each advice track, as intake routes them: online abuse of a customer (3.1), and
# a hate crime against someone who is not a customer (3.2.6).
FACTS = {
    Track.ONLINE_ADVICE_ONLY: CaseFacts(
        survivor_is_customer=True,
        immediate_danger=False,
        classification=Classification.HARASSMENT,
        track=Track.ONLINE_ADVICE_ONLY,
        categories=frozenset({IncidentCategory.ONLINE_ABUSE}),
        perpetrator_kinds=frozenset({PerpetratorKind.UNKNOWN}),
    ),
    Track.HATE_CRIME_REPORTING_CENTRE: CaseFacts(
        survivor_is_customer=False,
        immediate_danger=False,
        classification=Classification.HATE_CRIME,
        track=Track.HATE_CRIME_REPORTING_CENTRE,
        categories=frozenset({IncidentCategory.VERBAL_ABUSE}),
        perpetrator_kinds=frozenset({PerpetratorKind.NOT_CUSTOMER}),
    ),
}


async def a_planned_case(risk: Risk, facts: CaseFacts) -> tuple[uuid.UUID, dict[ActionKind, Any]]:
    """A case reported an hour ago with the actions the playbook plans for it, as the
    report-received handler stores them; the action ids by kind."""
    case_id = uuid.uuid4()
    reported_at = datetime.now(UTC) - timedelta(hours=1)
    connection = await connect(risk.settings)
    try:
        async with connection.transaction():
            await remember_case(connection, case_id, CaseScope(team=TEAM))
            await connection.execute(
                """INSERT INTO cases (case_id, survivor_is_customer, immediate_danger,
                                      consent_to_share, reported_at)
                   VALUES ($1, $2, $3, $4, $5)""",
                case_id,
                facts.survivor_is_customer,
                facts.immediate_danger,
                ConsentState.GIVEN.value,
                reported_at,
            )
            await casework.require_actions(
                connection,
                case_id=case_id,
                planned=plan_actions(facts),
                required_at=reported_at,
                deadline_scale=1.0,
                immediate_danger=facts.immediate_danger,
                consent=ConsentState.GIVEN,
                cause=None,
            )
        rows = await connection.fetch(
            "SELECT action_id, kind FROM actions WHERE case_id = $1", case_id
        )
    finally:
        await connection.close()
    return case_id, {ActionKind(row["kind"]): row["action_id"] for row in rows}


@dataclass(frozen=True)
class Afterwards:
    state: str
    first_response_at: datetime | None
    completions: list[ActionCompleted]


async def afterwards(risk: Risk, case_id: uuid.UUID, action_id: uuid.UUID) -> Afterwards:
    connection = await connect(risk.settings)
    try:
        state = await connection.fetchval(
            "SELECT state FROM actions WHERE action_id = $1", action_id
        )
        first_response_at = await connection.fetchval(
            "SELECT first_response_at FROM cases WHERE case_id = $1", case_id
        )
        rows = await connection.fetch(
            """SELECT payload::text AS payload FROM outbox
               WHERE event_type = 'risk.action-completed' AND message_key = $1 ORDER BY id""",
            str(case_id),
        )
    finally:
        await connection.close()
    # Read as a subscriber given the case's key would: before the relay sealed the row,
    # or after (the published row keeps the sealed value).
    completions = [
        ActionCompleted.model_validate(
            payload_opened_with(Envelope.model_validate_json(row["payload"]), risk.keys)
        )
        for row in rows
    ]
    return Afterwards(state, first_response_at, completions)


def complete(action_id: uuid.UUID) -> str:
    return f"/v1/actions/{action_id}/complete"


@pytest.mark.parametrize("track", list(FACTS), ids=str)
async def test_advice_completed_with_what_was_advised_is_the_first_response(
    risk: Risk, client: httpx.AsyncClient, officer: dict[str, str], track: Track
) -> None:
    case_id, actions = await a_planned_case(risk, FACTS[track])
    advice = actions[K.GIVE_ADVICE]

    response = await client.post(
        complete(advice), json={"outcome": "advised", "notes": ADVISED}, headers=officer
    )

    assert response.status_code == 200, response.text
    done = response.json()
    assert (done["kind"], done["state"], done["completed_by"]) == (
        "give_advice",
        "completed",
        OFFICER,
    )
    after = await afterwards(risk, case_id, advice)
    assert after.first_response_at == datetime.fromisoformat(done["completed_at"])
    [completed] = after.completions
    assert completed.kind is K.GIVE_ADVICE
    assert completed.first_response is True
    assert completed.personal.notes == ADVISED


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"outcome": "advised"}, id="no-notes"),
        pytest.param({"outcome": "advised", "notes": None}, id="notes-null"),
        pytest.param({"outcome": "advised", "notes": ""}, id="notes-empty"),
        pytest.param({"outcome": "advised", "notes": "  \n "}, id="notes-blank"),
    ],
)
async def test_advice_without_what_was_advised_is_422_and_changes_nothing(
    risk: Risk, client: httpx.AsyncClient, officer: dict[str, str], body: dict[str, Any]
) -> None:
    case_id, actions = await a_planned_case(risk, FACTS[Track.ONLINE_ADVICE_ONLY])
    advice = actions[K.GIVE_ADVICE]

    response = await client.post(complete(advice), json=body, headers=officer)

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["notes"]
    assert await afterwards(risk, case_id, advice) == Afterwards("open", None, [])


async def test_a_referral_is_not_completed_here_but_by_the_referral_made(
    risk: Risk, client: httpx.AsyncClient, officer: dict[str, str]
) -> None:
    """The 3.2.6 Police referral is carried out by the referrals service: closing it here
    would claim a referral nobody made (a decision is not a deed). 409, and it stays open."""
    case_id, actions = await a_planned_case(risk, FACTS[Track.HATE_CRIME_REPORTING_CENTRE])
    police = actions[K.POLICE_REFERRAL]

    response = await client.post(complete(police), json={"outcome": "done"}, headers=officer)

    assert response.status_code == 409, response.text
    assert "referrals" in response.json()["detail"]
    assert await afterwards(risk, case_id, police) == Afterwards("open", None, [])
