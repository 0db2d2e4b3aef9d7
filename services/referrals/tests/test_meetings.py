"""Multi-agency meetings (policy 2.8, 3.6.3): a case taken to a meeting is recorded with the
day, the agencies present and the actions agreed, and published through the outbox in the
same transaction; staff who reach the case read its meetings.

The rules (the day, each agency once) are pure and tested first; then referrals served
in-process against a fresh database and the session's broker, with the meetings router
added to its definition here, so these tests do not wait for the wiring in app.py.
"""

import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.exceptions import RequestValidationError

from hhc_chassis.access import CaseScope
from hhc_chassis.case_access import remember_case
from hhc_chassis.db import connect
from hhc_contracts import Envelope
from hhc_contracts.v1 import MultiAgencyMeetingRecorded
from hhc_devstack.case_keys import MemoryCaseKeys, payload_opened_with, with_case_keys
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, serving_service
from hhc_referrals import meetings
from hhc_referrals.app import definition
from hhc_referrals.meetings import a_year_after, distinct_agencies, meeting_date
from hhc_referrals.settings import ReferralsSettings

EVENT_TYPE = "referrals.multi-agency-meeting-recorded"
TEAM, OTHER_TEAM = "north", "south"
CASEWORKER = "caseworker-12"

# --------------------------------------------------------------------------- pure rules

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    "held_on",
    [
        pytest.param(date(2000, 1, 1), id="first-day-of-2000"),
        pytest.param(TODAY - timedelta(days=30), id="last-month"),
        pytest.param(TODAY, id="today"),
        pytest.param(date(2027, 3, 10), id="planned-a-year-ahead"),
    ],
)
def test_a_meeting_held_or_planned_within_a_year_is_kept(held_on: date) -> None:
    assert meeting_date(held_on, today=TODAY) == held_on


@pytest.mark.parametrize(
    ("held_on", "message"),
    [
        pytest.param(date(1999, 12, 31), "before 2000-01-01", id="before-2000"),
        pytest.param(date(2027, 3, 11), "more than a year ahead", id="a-year-and-a-day"),
    ],
)
def test_a_meeting_date_outside_is_refused_naming_held_on(held_on: date, message: str) -> None:
    with pytest.raises(RequestValidationError) as refused:
        meeting_date(held_on, today=TODAY)
    [error] = refused.value.errors()
    assert error["loc"] == ("body", "held_on")
    assert message in error["msg"]


@pytest.mark.parametrize(
    ("day", "after"),
    [
        (date(2026, 3, 10), date(2027, 3, 10)),
        (date(2028, 2, 29), date(2029, 2, 28)),
        (date(2026, 12, 31), date(2027, 12, 31)),
    ],
    ids=["ordinary", "leap-day", "new-years-eve"],
)
def test_a_year_after(day: date, after: date) -> None:
    assert a_year_after(day) == after


@pytest.mark.parametrize(
    ("agencies", "distinct"),
    [
        pytest.param(["Police"], ["Police"], id="one"),
        pytest.param(["Police", "Police"], ["Police"], id="twice"),
        pytest.param(
            ["Police", "Adult Social Services", "police", "POLICE"],
            ["Police", "Adult Social Services"],
            id="case-differs-first-spelling-kept",
        ),
        pytest.param(
            ["Adult  Social Services", "adult social services"],
            ["Adult  Social Services"],
            id="spacing-differs",
        ),
        pytest.param(
            ["Fire Authority", "Police", "Stop Hate UK"],
            ["Fire Authority", "Police", "Stop Hate UK"],
            id="order-kept",
        ),
    ],
)
def test_each_agency_is_listed_once(agencies: list[str], distinct: list[str]) -> None:
    assert distinct_agencies(agencies) == distinct


# --------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class Referrals:
    url: str
    settings: ReferralsSettings
    keys: MemoryCaseKeys


@pytest.fixture(scope="module")
async def referrals(postgres_server_url: str, broker: Broker) -> AsyncIterator[Referrals]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = ReferralsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-referrals-meetings-{uuid.uuid4().hex[:8]}",
    )
    served = definition(settings)
    if meetings.router not in served.routers:
        served = dataclasses.replace(served, routers=[*served.routers, meetings.router])
    keys = MemoryCaseKeys()
    async with serving_service(with_case_keys(served, keys)) as urls:
        yield Referrals(urls.staff, settings, keys)


@pytest.fixture
async def client(referrals: Referrals) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=referrals.url, timeout=15) as client:
        yield client


async def a_case(referrals: Referrals, team: str = TEAM) -> uuid.UUID:
    """A case referrals knows, as intake's report-received event would have told it."""
    case_id = uuid.uuid4()
    connection = await connect(referrals.settings)
    try:
        await remember_case(connection, case_id, CaseScope(team=team))
    finally:
        await connection.close()
    return case_id


async def published(referrals: Referrals, case_id: uuid.UUID) -> list[Envelope]:
    """The meeting events staged in the outbox for the case."""
    connection = await connect(referrals.settings)
    try:
        rows = await connection.fetch(
            """SELECT payload::text AS payload FROM outbox
               WHERE event_type = $1 AND message_key = $2 ORDER BY id""",
            EVENT_TYPE,
            str(case_id),
        )
    finally:
        await connection.close()
    return [Envelope.model_validate_json(row["payload"]) for row in rows]


def meetings_path(case_id: uuid.UUID) -> str:
    return f"/v1/cases/{case_id}/multi-agency-meetings"


@pytest.fixture
def caseworker(issue_token: TokenFactory) -> dict[str, str]:
    return bearer(issue_token("caseworker", team=TEAM, subject=CASEWORKER))


MEETING: dict[str, Any] = {
    "held_on": "2026-03-10",
    "agencies": ["Police", "Adult Social Services", "police ", "PCHA Community Safety Team"],
    "actions_agreed": ["Police to visit the perpetrator", "CCTV at the entrance"],
}


async def test_a_meeting_is_recorded_and_published_in_one_go(
    referrals: Referrals, client: httpx.AsyncClient, caseworker: dict[str, str]
) -> None:
    case_id = await a_case(referrals)
    before = datetime.now(UTC)

    response = await client.post(meetings_path(case_id), json=MEETING, headers=caseworker)

    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["case_id"] == str(case_id)
    assert stored["held_on"] == "2026-03-10"
    # Each agency once, as first written.
    assert stored["agencies"] == ["Police", "Adult Social Services", "PCHA Community Safety Team"]
    assert stored["actions_agreed"] == MEETING["actions_agreed"]
    # Who recorded it is who is signed in.
    assert stored["recorded_by"] == CASEWORKER
    assert datetime.fromisoformat(stored["recorded_at"]) >= before

    listed = await client.get(meetings_path(case_id), headers=caseworker)
    assert listed.status_code == 200, listed.text
    assert listed.json() == [stored]

    [envelope] = await published(referrals, case_id)
    assert envelope.case_id == case_id
    assert envelope.producer == "referrals"
    # Sealed once the relay published it; opened as a subscriber given the key would.
    event = MultiAgencyMeetingRecorded.model_validate(payload_opened_with(envelope, referrals.keys))
    assert str(event.meeting_id) == stored["meeting_id"]
    assert event.held_on == date(2026, 3, 10)
    assert event.agencies == stored["agencies"]
    assert event.recorded_by == CASEWORKER
    assert event.personal.actions_agreed == MEETING["actions_agreed"]


async def test_a_meeting_without_actions_agreed_and_one_planned_a_year_ahead(
    referrals: Referrals, client: httpx.AsyncClient, caseworker: dict[str, str]
) -> None:
    case_id = await a_case(referrals)
    ahead = a_year_after(datetime.now(UTC).date())

    planned = await client.post(
        meetings_path(case_id),
        json={"held_on": ahead.isoformat(), "agencies": ["Joint Action Group"]},
        headers=caseworker,
    )
    held = await client.post(
        meetings_path(case_id),
        json={"held_on": "2000-01-01", "agencies": ["Police"], "actions_agreed": []},
        headers=caseworker,
    )

    assert planned.status_code == 201, planned.text
    assert planned.json()["actions_agreed"] == []
    assert held.status_code == 201, held.text
    listed = (await client.get(meetings_path(case_id), headers=caseworker)).json()
    # In the order they were held, not the order recorded.
    assert [meeting["held_on"] for meeting in listed] == ["2000-01-01", ahead.isoformat()]
    assert len(await published(referrals, case_id)) == 2


def _refusals() -> list[Any]:
    far_ahead = a_year_after(datetime.now(UTC).date()) + timedelta(days=1)
    changed: list[tuple[str, dict[str, Any], str]] = [
        ("held_on", {"held_on": "1999-12-31"}, "before 2000"),
        ("held_on", {"held_on": far_ahead.isoformat()}, "a-year-and-a-day-ahead"),
        ("held_on", {"held_on": "10/03/2026"}, "not-a-date"),
        ("agencies", {"agencies": []}, "no-agency"),
        ("agencies.1", {"agencies": ["Police", "   "]}, "blank-agency"),
        ("agencies.0", {"agencies": ["x" * 101]}, "agency-too-long"),
        ("agencies", {"agencies": [f"Agency {n}" for n in range(51)]}, "too-many-agencies"),
        ("actions_agreed.0", {"actions_agreed": [""]}, "empty-action"),
        ("actions_agreed.1", {"actions_agreed": ["Visit", "x" * 1001]}, "action-too-long"),
        ("actions_agreed.0", {"actions_agreed": ["Visit\x00"]}, "control-character"),
        ("recorded_by", {"recorded_by": "someone-else"}, "who-recorded-it-is-not-given"),
    ]
    rows = [pytest.param(field, {**MEETING, **change}, id=name) for field, change, name in changed]
    rows += [
        pytest.param(field, {k: v for k, v in MEETING.items() if k != field}, id=f"no-{field}")
        for field in ("held_on", "agencies")
    ]
    return rows


@pytest.mark.parametrize(("field", "body"), _refusals())
async def test_a_meeting_not_as_the_rules_say_is_refused_naming_the_field(
    referrals: Referrals,
    client: httpx.AsyncClient,
    caseworker: dict[str, str],
    field: str,
    body: dict[str, Any],
) -> None:
    case_id = await a_case(referrals)

    response = await client.post(meetings_path(case_id), json=body, headers=caseworker)

    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert (await client.get(meetings_path(case_id), headers=caseworker)).json() == []
    assert await published(referrals, case_id) == []


@pytest.mark.parametrize(
    ("role", "team", "post", "get"),
    [
        pytest.param("caseworker", TEAM, 201, 200, id="caseworker-own-team"),
        pytest.param("manager", TEAM, 201, 200, id="manager-own-team"),
        pytest.param("caseworker", OTHER_TEAM, 404, 404, id="caseworker-other-team"),
        pytest.param("data_protection_officer", None, 403, 200, id="dpo-reads-only"),
        pytest.param("adviser", TEAM, 403, 403, id="adviser"),
        pytest.param("legal_officer", None, 403, 403, id="legal-officer"),
    ],
)
async def test_who_records_and_reads_a_cases_meetings(
    referrals: Referrals,
    client: httpx.AsyncClient,
    issue_token: TokenFactory,
    role: str,
    team: str | None,
    post: int,
    get: int,
) -> None:
    """Recording is casework on the case (confirm_referral); reading is read_referrals; a
    case the caller may not reach is 404, as one that does not exist."""
    case_id = await a_case(referrals)
    headers = bearer(issue_token(role, team=team))

    recorded = await client.post(meetings_path(case_id), json=MEETING, headers=headers)
    listed = await client.get(meetings_path(case_id), headers=headers)

    assert (recorded.status_code, listed.status_code) == (post, get)
    assert len(await published(referrals, case_id)) == (1 if post == 201 else 0)


async def test_without_a_token_or_for_an_unknown_case(
    client: httpx.AsyncClient, caseworker: dict[str, str]
) -> None:
    unknown = uuid.uuid4()
    assert (await client.post(meetings_path(unknown), json=MEETING)).status_code == 401
    assert (await client.get(meetings_path(unknown))).status_code == 401
    recorded = await client.post(meetings_path(unknown), json=MEETING, headers=caseworker)
    assert recorded.status_code == 404
    assert (await client.get(meetings_path(unknown), headers=caseworker)).status_code == 404
