"""Court and legal tracking (issue 11, item 4; policy 2.6, 3.3.1, 3.3.2, 4.2): hearings
listed for applications, orders with their terms and expiry, breaches of what is in
force, and reminders before hearings and before orders expire, on durable clocks that
publish each reminder once, whichever replica's scheduler gets there.

The rules are pure and table-tested first, against this file's own reading of the
policy and the issue; then enforcement served in-process against a fresh database and the
session's broker, with the court router and two reminder schedulers added to its
definition here, so these tests do not wait for the wiring in app.py.
"""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from hhc_chassis.access import CaseScope
from hhc_chassis.case_access import remember_case
from hhc_chassis.db import MigrationSet, connect, create_pool, migrate
from hhc_contracts import Envelope, event_spec
from hhc_contracts.examples import example_message
from hhc_contracts.v1 import (
    EnforcementHearingScheduled,
    EnforcementOrderRecorded,
    EnforcementReminderDue,
    ReportReceived,
)
from hhc_contracts.vocabulary import EnforcementStep, ReminderSubject
from hhc_devstack.case_keys import MemoryCaseKeys, payload_opened_with, with_case_keys
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually, serving_service
from hhc_enforcement import court_api
from hhc_enforcement.app import EnforcementSettings, definition
from hhc_enforcement.court import (
    Conflict,
    Invalid,
    Obligation,
    breached,
    check_hearing,
    check_order,
    checked_scale,
    court_day,
    hearing_reminders,
    in_force,
    order_expiry_reminders,
    says_behaviour_continues,
    still_ahead,
)
from hhc_enforcement.reminders import reminder_scheduler, report_due_reminders

S = EnforcementStep
LONDON = ZoneInfo("Europe/London")
TENANCY, POLICE_AND_CIVIL = "tenancy_enforcement", "police_and_civil"
TEAM, OTHER_TEAM = "north", "south"
LEGAL_OFFICER = "legal-officer-3"
DAY = timedelta(days=1)

# --------------------------------------------------------------------------- pure rules

HEARD = {S.INJUNCTION, S.EX_PARTE_INJUNCTION, S.POSSESSION_CLAIM, S.CIVIL_REMEDY}
ORDERED = {
    S.INJUNCTION,
    S.EX_PARTE_INJUNCTION,
    S.OUTCOME_ORDER_GRANTED,
    S.OUTCOME_SUSPENDED,
    S.CIVIL_REMEDY,
}
ROUTE_OF = {
    S.INJUNCTION: TENANCY,
    S.EX_PARTE_INJUNCTION: TENANCY,  # 3.3.1: PCHA customers only
    S.POSSESSION_CLAIM: TENANCY,
    S.OUTCOME_ORDER_GRANTED: TENANCY,
    S.OUTCOME_SUSPENDED: TENANCY,
    S.CIVIL_REMEDY: POLICE_AND_CIVIL,  # 2.6: civil actions, other legal remedies
}
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("hearing_at", "scale", "expected"),
    [
        pytest.param(
            NOW,
            1.0,
            [NOW - timedelta(days=7), NOW - timedelta(days=1)],
            id="real-time-7-days-and-1-day",
        ),
        pytest.param(
            NOW,
            0.5,
            [NOW - timedelta(days=3, hours=12), NOW - timedelta(hours=12)],
            id="half",
        ),
        pytest.param(
            NOW,
            1 / 1440,
            [NOW - timedelta(minutes=7), NOW - timedelta(minutes=1)],
            id="a-day-is-a-minute",
        ),
    ],
)
def test_hearing_reminders_come_7_days_and_1_day_before_scaled(
    hearing_at: datetime, scale: float, expected: list[datetime]
) -> None:
    assert hearing_reminders(hearing_at, scale) == expected


@pytest.mark.parametrize(
    ("expires_on", "scale", "expected"),
    [
        pytest.param(
            date(2026, 1, 29),  # winter: England is on UTC
            1.0,
            [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 22, tzinfo=UTC)],
            id="winter-28-days-and-7-days",
        ),
        pytest.param(
            date(2026, 7, 29),  # summer: the day starts at 23:00 UTC the evening before
            1.0,
            [datetime(2026, 6, 30, 23, tzinfo=UTC), datetime(2026, 7, 21, 23, tzinfo=UTC)],
            id="summer-time",
        ),
        pytest.param(
            date(2026, 1, 29),
            1 / 1440,
            [
                datetime(2026, 1, 29, tzinfo=UTC) - timedelta(minutes=28),
                datetime(2026, 1, 29, tzinfo=UTC) - timedelta(minutes=7),
            ],
            id="a-day-is-a-minute",
        ),
    ],
)
def test_order_expiry_reminders_come_28_days_and_7_days_before_the_expiry_day(
    expires_on: date, scale: float, expected: list[datetime]
) -> None:
    assert order_expiry_reminders(expires_on, scale) == expected


@pytest.mark.parametrize("scale", [0.0, -1.0, 1.5])
def test_a_deadline_scale_outside_0_to_1_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="deadline_scale"):
        checked_scale(scale)
    with pytest.raises(ValueError, match="deadline_scale"):
        hearing_reminders(NOW, scale)


def test_only_reminders_still_ahead_are_set() -> None:
    times = hearing_reminders(NOW + timedelta(days=3))
    assert still_ahead(times, NOW) == [NOW + timedelta(days=2)]
    assert still_ahead(hearing_reminders(NOW + timedelta(days=8)), NOW) == [
        NOW + DAY,
        NOW + timedelta(days=7),
    ]
    assert still_ahead(hearing_reminders(NOW + timedelta(hours=12)), NOW) == []


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        pytest.param(datetime(2026, 1, 10, 23, 30, tzinfo=UTC), date(2026, 1, 10), id="winter"),
        pytest.param(datetime(2026, 7, 10, 23, 30, tzinfo=UTC), date(2026, 7, 11), id="summer"),
    ],
)
def test_the_court_day_is_englands(moment: datetime, day: date) -> None:
    assert court_day(moment) == day


@pytest.mark.parametrize("step", list(S), ids=str)
def test_which_steps_have_hearings(step: EnforcementStep) -> None:
    route = ROUTE_OF.get(step, TENANCY)
    if step in HEARD:
        check_hearing(step, NOW + DAY, route=route, now=NOW)
    else:
        with pytest.raises(Invalid) as refused:
            check_hearing(step, NOW + DAY, route=route, now=NOW)
        assert refused.value.field == "step"


@pytest.mark.parametrize("step", list(S), ids=str)
def test_which_steps_have_orders(step: EnforcementStep) -> None:
    route = ROUTE_OF.get(step, TENANCY)
    if step in ORDERED:
        check_order(step, TODAY, None, route=route, today=TODAY)
    else:
        with pytest.raises(Invalid) as refused:
            check_order(step, TODAY, None, route=route, today=TODAY)
        assert refused.value.field == "step"


@pytest.mark.parametrize(
    ("step", "route"),
    [
        pytest.param(step, route, id=f"{step}-on-{route}")
        for step, own in ROUTE_OF.items()
        for route in (TENANCY, POLICE_AND_CIVIL, "contract_management", "staff_disciplinary")
        if route != own
    ],
)
def test_a_court_step_off_its_route_conflicts(step: EnforcementStep, route: str) -> None:
    if step in HEARD:
        with pytest.raises(Conflict, match=ROUTE_OF[step]):
            check_hearing(step, NOW + DAY, route=route, now=NOW)
    if step in ORDERED:
        with pytest.raises(Conflict, match=ROUTE_OF[step]):
            check_order(step, TODAY, None, route=route, today=TODAY)


@pytest.mark.parametrize(
    ("hearing_at", "refused"),
    [
        pytest.param(NOW - timedelta(days=30), True, id="last-month"),
        pytest.param(NOW - timedelta(seconds=1), True, id="a-second-ago"),
        pytest.param(NOW, True, id="now"),
        pytest.param(NOW + timedelta(seconds=1), False, id="a-second-ahead"),
        pytest.param(NOW + timedelta(days=200), False, id="months-ahead"),
    ],
)
def test_a_hearing_in_the_past_is_refused(hearing_at: datetime, refused: bool) -> None:
    if not refused:
        check_hearing(S.INJUNCTION, hearing_at, route=TENANCY, now=NOW)
        return
    with pytest.raises(Invalid) as error:
        check_hearing(S.INJUNCTION, hearing_at, route=TENANCY, now=NOW)
    assert error.value.field == "hearing_at"


@pytest.mark.parametrize(
    ("made_on", "expires_on", "field"),
    [
        pytest.param(TODAY, TODAY - DAY, "expires_on", id="expires-before-made"),
        pytest.param(TODAY - DAY, TODAY - DAY, "expires_on", id="expires-the-day-made"),
        pytest.param(TODAY + DAY, None, "made_on", id="made-tomorrow"),
        pytest.param(TODAY - DAY, TODAY, None, id="expires-the-day-after"),
        pytest.param(TODAY, None, None, id="made-today-no-expiry"),
        pytest.param(date(2024, 1, 1), date(2025, 1, 1), None, id="made-and-expired-long-ago"),
        pytest.param(date(2000, 1, 1), date(2000, 1, 2), None, id="made-the-first-day-of-2000"),
        pytest.param(date(1999, 12, 31), None, "made_on", id="made-before-2000"),
        pytest.param(date(1, 1, 1), date(1, 1, 2), "made_on", id="made-in-year-1"),
    ],
)
def test_an_order_is_made_by_today_and_expires_after_it_was_made(
    made_on: date, expires_on: date | None, field: str | None
) -> None:
    if field is None:
        check_order(S.INJUNCTION, made_on, expires_on, route=TENANCY, today=TODAY)
        return
    with pytest.raises(Invalid) as refused:
        check_order(S.INJUNCTION, made_on, expires_on, route=TENANCY, today=TODAY)
    assert refused.value.field == field


def _obligation(step: EnforcementStep, made_on: date, expires_on: date | None = None) -> Obligation:
    return Obligation(uuid.uuid4(), step, made_on, expires_on)


INJUNCTION = _obligation(S.INJUNCTION, date(2026, 1, 10), date(2026, 7, 10))
AGREEMENT = _obligation(S.ACCEPTABLE_BEHAVIOUR_AGREEMENT, date(2025, 12, 1))
SUSPENDED = _obligation(S.OUTCOME_SUSPENDED, date(2026, 5, 1))
WARNING = _obligation(S.WRITTEN_WARNING, date(2025, 11, 1))


@pytest.mark.parametrize(
    ("obligations", "on", "expected"),
    [
        pytest.param([], TODAY, None, id="nothing-to-breach"),
        pytest.param([WARNING], TODAY, None, id="a-warning-is-not-breached"),
        pytest.param([INJUNCTION], date(2026, 1, 9), None, id="before-the-order"),
        pytest.param([INJUNCTION], date(2026, 1, 10), INJUNCTION, id="the-day-it-is-made"),
        pytest.param([INJUNCTION], date(2026, 7, 10), INJUNCTION, id="the-day-it-expires"),
        pytest.param([INJUNCTION], date(2026, 7, 11), None, id="after-it-expired"),
        pytest.param([AGREEMENT], TODAY, AGREEMENT, id="an-agreement"),
        pytest.param([AGREEMENT, INJUNCTION], TODAY, INJUNCTION, id="the-one-made-last"),
        pytest.param(
            [AGREEMENT, INJUNCTION, SUSPENDED], date(2026, 8, 1), SUSPENDED, id="injunction-over"
        ),
    ],
)
def test_a_breach_is_of_an_order_or_agreement_in_force(
    obligations: list[Obligation], on: date, expected: Obligation | None
) -> None:
    assert breached(obligations, on) == expected
    if expected is not None:
        assert in_force(expected, on)


def test_a_breach_of_a_named_order_needs_that_one_in_force() -> None:
    obligations = [AGREEMENT, INJUNCTION]
    assert breached(obligations, TODAY, named=AGREEMENT.obligation_id) == AGREEMENT
    assert breached(obligations, date(2026, 8, 1), named=INJUNCTION.obligation_id) is None
    assert breached(obligations, TODAY, named=uuid.uuid4()) is None


def _report(**changes: Any) -> ReportReceived:
    example = ReportReceived.model_validate(example_message(event_spec(ReportReceived)).payload)
    return example.model_copy(update={"report_id": uuid.uuid4(), **changes})


@pytest.mark.parametrize(
    ("further_report", "ongoing", "breach"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
    ids=["later-and-continuing", "later-not-continuing", "first-report", "neither"],
)
def test_a_later_report_that_says_it_continues_is_a_breach(
    further_report: bool, ongoing: bool, breach: bool
) -> None:
    report = _report(further_report=further_report, ongoing=ongoing)
    assert says_behaviour_continues(report) is breach


# --------------------------------------------------------------------------- the service

SCALE = 2.5 / 86400
"""A day before is 2.5 seconds before; 7 days, 17.5 seconds."""
POLL_SECONDS = 30.0
"""Longer than any test waits: a reminder set is noticed by NOTIFY, not by polling."""


class CourtTestSettings(EnforcementSettings):
    deadline_scale: float = SCALE


@dataclass(frozen=True)
class Enforcement:
    url: str
    settings: CourtTestSettings
    keys: MemoryCaseKeys
    """The case keys the service seals with, as intake would hand them out."""


@pytest.fixture(scope="module")
async def enforcement(postgres_server_url: str, broker: Broker) -> AsyncIterator[Enforcement]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = CourtTestSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-enforcement-court-{uuid.uuid4().hex[:8]}",
    )
    keys = MemoryCaseKeys()
    served = with_case_keys(definition(settings), keys)
    if court_api.router not in served.routers:
        served = dataclasses.replace(served, routers=[*served.routers, court_api.router])
    # Two schedulers, as two replicas would run: each reminder is still published once.
    served = dataclasses.replace(
        served,
        background=[
            *served.background,
            reminder_scheduler(POLL_SECONDS),
            reminder_scheduler(POLL_SECONDS),
        ],
    )
    async with serving_service(served) as urls:
        yield Enforcement(urls.staff, settings, keys)


@pytest.fixture
async def client(enforcement: Enforcement) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=enforcement.url, timeout=15) as client:
        yield client


@pytest.fixture
def legal_officer(issue_token: TokenFactory) -> dict[str, str]:
    return bearer(issue_token("legal_officer", subject=LEGAL_OFFICER))


@dataclass(frozen=True)
class Ids:
    enforcement_case_id: uuid.UUID
    case_id: uuid.UUID


async def an_enforcement_case(
    enforcement: Enforcement, route: str = TENANCY, team: str = TEAM
) -> Ids:
    """An enforcement case on a case enforcement knows, as its handlers would have opened."""
    ids = Ids(uuid.uuid4(), uuid.uuid4())
    connection = await connect(enforcement.settings)
    try:
        await remember_case(connection, ids.case_id, CaseScope(team=team))
        await connection.execute(
            """INSERT INTO enforcement_cases (enforcement_case_id, case_id, route,
                                              perpetrator_kind, opened_at)
               VALUES ($1, $2, $3, $4, now())""",
            ids.enforcement_case_id,
            ids.case_id,
            route,
            "customer" if route == TENANCY else "not_customer",
        )
    finally:
        await connection.close()
    return ids


async def published(
    enforcement: Enforcement, case_id: uuid.UUID, event_type: str
) -> list[Envelope]:
    connection = await connect(enforcement.settings)
    try:
        rows = await connection.fetch(
            """SELECT payload::text AS payload FROM outbox
               WHERE event_type = $1 AND message_key = $2 ORDER BY id""",
            event_type,
            str(case_id),
        )
    finally:
        await connection.close()
    return [Envelope.model_validate_json(row["payload"]) for row in rows]


async def sent_raw(enforcement: Enforcement, case_id: uuid.UUID, event_type: str) -> list[str]:
    """The case's events of the type as the relay published them (sealed), oldest first:
    the published row keeps the value as it went onto the topic."""

    async def all_published() -> list[str] | None:
        connection = await connect(enforcement.settings)
        try:
            rows = await connection.fetch(
                """SELECT payload::text AS payload, published_at IS NOT NULL AS published
                   FROM outbox WHERE event_type = $1 AND message_key = $2 ORDER BY id""",
                event_type,
                str(case_id),
            )
        finally:
            await connection.close()
        if not rows or not all(row["published"] for row in rows):
            return None
        return [str(row["payload"]) for row in rows]

    return await eventually(all_published, message=f"the case's {event_type} published")


async def published_anything(enforcement: Enforcement, case_id: uuid.UUID) -> bool:
    """Whether any enforcement event was staged for the case (the audit's are not)."""
    connection = await connect(enforcement.settings)
    try:
        return bool(
            await connection.fetchval(
                """SELECT count(*) FROM outbox
                   WHERE message_key = $1 AND event_type LIKE 'enforcement.%'""",
                str(case_id),
            )
        )
    finally:
        await connection.close()


def court_path(ids: Ids, what: str) -> str:
    return f"/v1/enforcement-cases/{ids.enforcement_case_id}/{what}"


def when(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


async def test_a_hearing_is_recorded_with_its_reminders_and_published(
    enforcement: Enforcement, client: httpx.AsyncClient, legal_officer: dict[str, str]
) -> None:
    ids = await an_enforcement_case(enforcement)
    hearing_at = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    body = {"step": "injunction", "hearing_at": hearing_at.isoformat(), "court": " Leeds CC "}

    response = await client.post(court_path(ids, "hearings"), json=body, headers=legal_officer)

    assert response.status_code == 201, response.text
    hearing = response.json()
    assert hearing["step"] == "injunction"
    assert when(hearing["hearing_at"]) == hearing_at
    assert hearing["court"] == "Leeds CC"
    assert hearing["recorded_by"] == LEGAL_OFFICER
    assert [when(r["due_at"]) for r in hearing["reminders"]] == hearing_reminders(hearing_at, SCALE)
    assert {r["about"] for r in hearing["reminders"]} == {"hearing"}

    court = (await client.get(court_path(ids, "court"), headers=legal_officer)).json()
    assert court["hearings"] == [hearing]
    assert court["reminders"] == hearing["reminders"]
    assert court["case_id"] == str(ids.case_id)

    [envelope] = await published(enforcement, ids.case_id, "enforcement.hearing-scheduled")
    event = EnforcementHearingScheduled.model_validate(envelope.payload)
    assert str(event.hearing_id) == hearing["hearing_id"]
    assert event.enforcement_case_id == ids.enforcement_case_id
    assert (event.step, event.hearing_at, event.recorded_by) == (
        S.INJUNCTION,
        hearing_at,
        LEGAL_OFFICER,
    )

    again = await client.post(court_path(ids, "hearings"), json=body, headers=legal_officer)
    assert again.status_code == 409, again.text
    assert len(await published(enforcement, ids.case_id, "enforcement.hearing-scheduled")) == 1


async def test_an_order_is_recorded_with_its_terms_expiry_reminders_and_published(
    enforcement: Enforcement, client: httpx.AsyncClient, legal_officer: dict[str, str]
) -> None:
    ids = await an_enforcement_case(enforcement)
    today = court_day(datetime.now(UTC))
    expires_on = today + timedelta(days=180)
    body = {
        "step": "injunction",
        "made_on": today.isoformat(),
        "expires_on": expires_on.isoformat(),
        "terms": "Not to enter Example Street",
    }

    response = await client.post(court_path(ids, "orders"), json=body, headers=legal_officer)

    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["made_on"], order["expires_on"], order["terms"]) == (
        today.isoformat(),
        expires_on.isoformat(),
        "Not to enter Example Street",
    )
    assert [when(r["due_at"]) for r in order["reminders"]] == order_expiry_reminders(
        expires_on, SCALE
    )
    assert {r["about"] for r in order["reminders"]} == {"order_expiry"}
    start_of_expiry_day = datetime(expires_on.year, expires_on.month, expires_on.day, tzinfo=LONDON)
    assert {when(r["event_at"]) for r in order["reminders"]} == {start_of_expiry_day}

    [raw] = await sent_raw(enforcement, ids.case_id, "enforcement.order-recorded")
    envelope = Envelope.model_validate_json(raw)
    event = EnforcementOrderRecorded.model_validate(payload_opened_with(envelope, enforcement.keys))
    assert str(event.order_id) == order["order_id"]
    assert event.expires_on == expires_on
    assert event.personal.terms == "Not to enter Example Street"
    # The terms travel sealed with the case's key, nowhere in clear.
    assert envelope.sealed is not None
    assert "Example Street" not in raw

    # An order without an expiry has no reminders.
    lasting = await client.post(
        court_path(ids, "orders"),
        json={"step": "injunction", "made_on": today.isoformat()},
        headers=legal_officer,
    )
    assert lasting.status_code == 201, lasting.text
    assert lasting.json()["reminders"] == []
    court = (await client.get(court_path(ids, "court"), headers=legal_officer)).json()
    assert [o["order_id"] for o in court["orders"]] == [
        order["order_id"],
        lasting.json()["order_id"],
    ]
    assert court["reminders"] == order["reminders"]


def _refusals() -> list[Any]:
    now = datetime.now(UTC)
    today = court_day(now)
    hearing = {"step": "possession_claim", "hearing_at": (now + DAY).isoformat(), "court": "X"}
    order = {"step": "outcome_suspended", "made_on": today.isoformat()}
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("hearings", "hearing_at", {**hearing, "hearing_at": (now - DAY).isoformat()}, "past"),
        ("hearings", "hearing_at", {**hearing, "hearing_at": "2030-01-01T10:00:00"}, "naive"),
        ("hearings", "step", {**hearing, "step": "written_warning"}, "no-hearing-for-step"),
        ("hearings", "step", {**hearing, "step": "trial_by_combat"}, "unknown-step"),
        ("hearings", "court", {**hearing, "court": "  "}, "blank-court"),
        ("hearings", "court", {**hearing, "court": "Leeds\x00"}, "control-character"),
        ("hearings", "recorded_by", {**hearing, "recorded_by": "someone"}, "extra-field"),
        ("orders", "expires_on", {**order, "expires_on": (today - DAY).isoformat()}, "early"),
        ("orders", "expires_on", {**order, "expires_on": today.isoformat()}, "same-day"),
        ("orders", "made_on", {**order, "made_on": (today + DAY).isoformat()}, "future"),
        ("orders", "step", {**order, "step": "notice_of_seeking_possession"}, "no-order"),
        ("orders", "terms", {**order, "terms": "x" * 4001}, "terms-too-long"),
        ("breaches", "summary", {}, "no-summary"),
        (
            "breaches",
            "reported_at",
            {"summary": "s", "reported_at": "2099-01-01T00:00:00Z"},
            "ahead",
        ),
        (
            "breaches",
            "reported_at",
            {"summary": "s", "reported_at": "0001-01-01T00:00:00Z"},
            "year-1",
        ),
        (
            "orders",
            "made_on",
            {**order, "made_on": "0001-01-01", "expires_on": "0001-01-02"},
            "year-1",
        ),
        ("breaches", "order_id", {"summary": "s", "order_id": str(uuid.uuid4())}, "not-its-order"),
    ]
    return [
        pytest.param(what, field, body, id=f"{what}-{name}") for what, field, body, name in cases
    ]


@pytest.mark.parametrize(("what", "field", "body"), _refusals())
async def test_what_the_rules_refuse_is_a_422_naming_the_field_and_nothing_is_stored(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal_officer: dict[str, str],
    what: str,
    field: str,
    body: dict[str, Any],
) -> None:
    ids = await an_enforcement_case(enforcement)

    response = await client.post(court_path(ids, what), json=body, headers=legal_officer)

    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    court = (await client.get(court_path(ids, "court"), headers=legal_officer)).json()
    assert court["hearings"] == court["orders"] == court["breaches"] == court["reminders"] == []
    assert not await published_anything(enforcement, ids.case_id)


@pytest.mark.parametrize(
    ("route", "what", "body"),
    [
        pytest.param(POLICE_AND_CIVIL, "hearings", {"step": "possession_claim"}, id="possession"),
        pytest.param(POLICE_AND_CIVIL, "orders", {"step": "ex_parte_injunction"}, id="ex-parte"),
        pytest.param(TENANCY, "hearings", {"step": "civil_remedy"}, id="civil-on-tenancy"),
        pytest.param("staff_disciplinary", "orders", {"step": "injunction"}, id="staff"),
    ],
)
async def test_a_court_step_off_the_cases_route_is_a_409(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    legal_officer: dict[str, str],
    route: str,
    what: str,
    body: dict[str, Any],
) -> None:
    ids = await an_enforcement_case(enforcement, route=route)
    now = datetime.now(UTC)
    full = (
        {"hearing_at": (now + DAY).isoformat(), "court": "Leeds"}
        if what == "hearings"
        else {"made_on": court_day(now).isoformat()}
    )

    response = await client.post(
        court_path(ids, what), json={**body, **full}, headers=legal_officer
    )

    assert response.status_code == 409, response.text
    assert route in response.json()["detail"]
    assert not await published_anything(enforcement, ids.case_id)


async def test_a_breach_needs_an_order_in_force(
    enforcement: Enforcement, client: httpx.AsyncClient, legal_officer: dict[str, str]
) -> None:
    ids = await an_enforcement_case(enforcement)
    now = datetime.now(UTC)
    today = court_day(now)

    nothing = await client.post(
        court_path(ids, "breaches"), json={"summary": "Shouted at the door"}, headers=legal_officer
    )
    assert nothing.status_code == 409, nothing.text

    made = await client.post(
        court_path(ids, "orders"),
        json={
            "step": "injunction",
            "made_on": (today - timedelta(days=10)).isoformat(),
            "expires_on": (today + timedelta(days=100)).isoformat(),
        },
        headers=legal_officer,
    )
    assert made.status_code == 201, made.text
    order_id = made.json()["order_id"]

    before_it = await client.post(
        court_path(ids, "breaches"),
        json={"summary": "Before the order", "reported_at": (now - timedelta(days=30)).isoformat()},
        headers=legal_officer,
    )
    assert before_it.status_code == 409, before_it.text

    breach = await client.post(
        court_path(ids, "breaches"), json={"summary": "Shouted at the door"}, headers=legal_officer
    )
    assert breach.status_code == 201, breach.text
    stored = breach.json()
    assert stored["order_id"] == order_id
    assert (stored["source"], stored["summary"], stored["recorded_by"]) == (
        "staff",
        "Shouted at the door",
        LEGAL_OFFICER,
    )
    court = (await client.get(court_path(ids, "court"), headers=legal_officer)).json()
    assert court["breaches"] == [stored]
    # A breach publishes nothing of its own: the decision on it does (the ladder's).
    connection = await connect(enforcement.settings)
    try:
        types = await connection.fetch(
            """SELECT DISTINCT event_type FROM outbox
               WHERE message_key = $1 AND event_type LIKE 'enforcement.%'""",
            str(ids.case_id),
        )
    finally:
        await connection.close()
    assert [row["event_type"] for row in types] == ["enforcement.order-recorded"]


async def test_a_later_report_that_says_it_continues_breaches_the_order_in_force_once(
    enforcement: Enforcement, client: httpx.AsyncClient, legal_officer: dict[str, str]
) -> None:
    with_order = await an_enforcement_case(enforcement)
    without_order = await an_enforcement_case(enforcement)
    today = court_day(datetime.now(UTC))
    for ids in (with_order,):
        made = await client.post(
            court_path(ids, "orders"),
            json={"step": "injunction", "made_on": (today - DAY).isoformat()},
            headers=legal_officer,
        )
        assert made.status_code == 201, made.text
    received_at = datetime.now(UTC)
    continuing = _report(
        case_id=with_order.case_id, further_report=True, ongoing=True, received_at=received_at
    )

    connection = await connect(enforcement.settings)
    try:
        first = await court_api.record_breaches_on_later_report(connection, continuing)
        redelivered = await court_api.record_breaches_on_later_report(connection, continuing)
        stopped = await court_api.record_breaches_on_later_report(
            connection, _report(case_id=with_order.case_id, further_report=True, ongoing=False)
        )
        no_order = await court_api.record_breaches_on_later_report(
            connection, _report(case_id=without_order.case_id, further_report=True, ongoing=True)
        )
    finally:
        await connection.close()

    assert len(first) == 1
    assert redelivered == stopped == no_order == []
    [breach] = (await client.get(court_path(with_order, "court"), headers=legal_officer)).json()[
        "breaches"
    ]
    assert breach["breach_id"] == str(first[0])
    assert (breach["source"], breach["report_id"], breach["summary"]) == (
        "later_report",
        str(continuing.report_id),
        None,
    )
    assert when(breach["reported_at"]) == received_at
    empty = (await client.get(court_path(without_order, "court"), headers=legal_officer)).json()
    assert empty["breaches"] == []


async def test_a_hearing_reminder_falls_due_and_is_published_once(
    enforcement: Enforcement, client: httpx.AsyncClient, legal_officer: dict[str, str]
) -> None:
    """Under DEADLINE_SCALE a day before is 2.5 seconds before: a hearing 4 seconds ahead
    has one reminder (the 7-day one has passed already), due in about 1.5 seconds, which
    the schedulers notice by NOTIFY (they poll only every 30 seconds)."""
    ids = await an_enforcement_case(enforcement)
    hearing_at = datetime.now(UTC) + timedelta(seconds=4)

    response = await client.post(
        court_path(ids, "hearings"),
        json={"step": "ex_parte_injunction", "hearing_at": hearing_at.isoformat(), "court": "X"},
        headers=legal_officer,
    )

    assert response.status_code == 201, response.text
    [reminder] = response.json()["reminders"]
    assert when(reminder["due_at"]) == hearing_at - DAY * SCALE

    async def reminded() -> list[Envelope]:
        return await published(enforcement, ids.case_id, "enforcement.reminder-due")

    [envelope] = await eventually(reminded, timeout=10, message="no reminder published")
    event = EnforcementReminderDue.model_validate(envelope.payload)
    assert str(event.reminder_id) == reminder["reminder_id"]
    assert (event.about, event.enforcement_case_id, event.case_id) == (
        ReminderSubject.HEARING,
        ids.enforcement_case_id,
        ids.case_id,
    )
    assert event.due_at == when(reminder["due_at"])
    assert event.detected_at >= event.due_at
    # Marked in the transaction that published it: no longer to come, and never again.
    court = (await client.get(court_path(ids, "court"), headers=legal_officer)).json()
    assert court["reminders"] == court["hearings"][0]["reminders"] == []
    assert len(await reminded()) == 1


async def test_two_schedulers_publish_each_due_reminder_once(database_url: str) -> None:
    settings = CourtTestSettings(database_url=database_url)
    await migrate(settings, [MigrationSet(name="enforcement", package="hhc_enforcement")])
    pools: list[asyncpg.Pool] = [await create_pool(settings) for _ in range(2)]
    try:
        ids = Ids(uuid.uuid4(), uuid.uuid4())
        async with pools[0].acquire() as connection:
            await connection.execute(
                """INSERT INTO enforcement_cases (enforcement_case_id, case_id, route,
                                                  perpetrator_kind, opened_at)
                   VALUES ($1, $2, 'tenancy_enforcement', 'customer', now())""",
                ids.enforcement_case_id,
                ids.case_id,
            )
            due = await connection.fetch(
                """INSERT INTO reminders (reminder_id, enforcement_case_id, case_id, about, due_at)
                   SELECT gen_random_uuid(), $1, $2, 'hearing', now() - n * interval '1 second'
                   FROM generate_series(1, 40) AS n RETURNING reminder_id""",
                ids.enforcement_case_id,
                ids.case_id,
            )
            # Three to come, and one already published: neither is claimed.
            await connection.execute(
                """INSERT INTO reminders (reminder_id, enforcement_case_id, case_id, about, due_at)
                   SELECT gen_random_uuid(), $1, $2, 'order_expiry', now() + interval '1 hour'
                   FROM generate_series(1, 3)""",
                ids.enforcement_case_id,
                ids.case_id,
            )
            await connection.execute(
                """INSERT INTO reminders (reminder_id, enforcement_case_id, case_id, about,
                                          due_at, reported_at)
                   VALUES (gen_random_uuid(), $1, $2, 'hearing', now() - interval '1 day',
                           now())""",
                ids.enforcement_case_id,
                ids.case_id,
            )

        async def drain(pool: asyncpg.Pool) -> int:
            published = 0
            while claimed := await report_due_reminders(pool, batch_size=3):
                published += claimed
            return published

        counts = await asyncio.gather(drain(pools[0]), drain(pools[1]), drain(pools[1]))

        assert sum(counts) == 40
        async with pools[0].acquire() as connection:
            events = await connection.fetch(
                "SELECT payload::text AS payload FROM outbox WHERE event_type = $1",
                "enforcement.reminder-due",
            )
            waiting = await connection.fetchval(
                "SELECT count(*) FROM reminders WHERE reported_at IS NULL"
            )
        reminded = [
            EnforcementReminderDue.model_validate(
                Envelope.model_validate_json(row["payload"]).payload
            )
            for row in events
        ]
        assert sorted(r.reminder_id for r in reminded) == sorted(row["reminder_id"] for row in due)
        assert waiting == 3
        assert await report_due_reminders(pools[0]) == 0
    finally:
        for pool in pools:
            await pool.close()


@pytest.mark.parametrize(
    ("role", "team", "write", "read"),
    [
        pytest.param("legal_officer", None, 201, 200, id="legal-officer-any-team"),
        pytest.param("manager", TEAM, 201, 200, id="manager-own-team"),
        pytest.param("manager", OTHER_TEAM, 404, 404, id="manager-other-team"),
        pytest.param("caseworker", TEAM, 403, 200, id="caseworker-reads-only"),
        pytest.param("data_protection_officer", None, 403, 200, id="dpo-reads-only"),
        pytest.param("adviser", TEAM, 403, 403, id="adviser"),
    ],
)
async def test_who_records_and_reads_court_tracking(
    enforcement: Enforcement,
    client: httpx.AsyncClient,
    issue_token: TokenFactory,
    role: str,
    team: str | None,
    write: int,
    read: int,
) -> None:
    """Recording is deciding enforcement (legal officers, managers: 4.2); reading is
    reading enforcement; a case the caller may not reach is 404, as one that is not."""
    ids = await an_enforcement_case(enforcement)
    headers = bearer(issue_token(role, team=team))
    hearing_at = (datetime.now(UTC) + timedelta(days=20)).isoformat()

    recorded = await client.post(
        court_path(ids, "hearings"),
        json={"step": "injunction", "hearing_at": hearing_at, "court": "Leeds"},
        headers=headers,
    )
    listed = await client.get(court_path(ids, "court"), headers=headers)

    assert (recorded.status_code, listed.status_code) == (write, read)
    events = await published(enforcement, ids.case_id, "enforcement.hearing-scheduled")
    assert len(events) == (1 if write == 201 else 0)


async def test_without_a_token_or_for_an_unknown_enforcement_case(
    client: httpx.AsyncClient, legal_officer: dict[str, str]
) -> None:
    unknown = Ids(uuid.uuid4(), uuid.uuid4())
    body = {"summary": "Shouted at the door"}
    assert (await client.post(court_path(unknown, "breaches"), json=body)).status_code == 401
    assert (await client.get(court_path(unknown, "court"))).status_code == 401
    answer = await client.post(court_path(unknown, "breaches"), json=body, headers=legal_officer)
    assert answer.status_code == 404
    assert (
        await client.get(court_path(unknown, "court"), headers=legal_officer)
    ).status_code == 404
