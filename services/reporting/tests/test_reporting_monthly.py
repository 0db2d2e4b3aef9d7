"""The monthly report (issue 12, items 6 and 7; policy 5.1, 5.2): suppression of small
numbers, the response targets, the schedule that publishes once, JSON/CSV/HTML served
from events fed through the broker, and a rebuild by replay that changes nothing."""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from hhc_chassis.db import create_pool, migrate
from hhc_chassis.events import new_envelope, topic_of
from hhc_chassis.service import Runtime
from hhc_contracts import EventHeaders, event_spec, v1
from hhc_contracts.examples import example_message
from hhc_contracts.vocabulary import (
    ActionKind,
    CaseStatus,
    Classification,
    ClosureReason,
    RiskLevel,
    SaferFeeling,
)
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually, serving_service
from hhc_reporting.app import MIGRATIONS, definition
from hhc_reporting.kpi import first_working_day, month_due
from hhc_reporting.measures import (
    RESPONSE_TARGETS,
    published_count,
    published_rate_per_1000,
    published_share,
    published_statistic,
)
from hhc_reporting.publish import publish_due_month
from hhc_reporting.rebuild import rebuild
from hhc_reporting.report import MonthFigures, assemble
from hhc_reporting.settings import ReportingSettings


@pytest.mark.parametrize(
    ("figure", "published"),
    [
        (published_count(4), None),
        (published_count(5), 5),
        (published_count(0), None),
        (published_share(4, 4), None),  # a share of fewer than 5 cases gives them away
        (published_share(0, 5), 0.0),
        (published_share(4, 5), 0.8),
        (published_statistic(3600.0, 4), None),
        (published_statistic(3600.0, 5), 3600.0),
        (published_rate_per_1000(7, 2000), 3.5),
        (published_rate_per_1000(4, 2000), None),
        (published_rate_per_1000(7, None), None),  # HOMES_MANAGED unset
    ],
)
def test_small_numbers_are_suppressed(figure: float | None, published: float | None) -> None:
    assert figure == published


def test_shares_within_target_are_of_each_levels_cases() -> None:
    figures = MonthFigures(
        cases_received=9,
        cases_by_risk_level_with_target={"high": 5},
        within_target_by_risk_level={"high": 4},
    )
    report = assemble(date(2026, 11, 1), figures, homes=None, published_at=datetime.now(UTC))
    # 3.3.1's 24 hours is the one target the policy gives; no other level is invented.
    assert set(RESPONSE_TARGETS) == {RiskLevel.HIGH}
    assert report.first_response.share_within_target_by_risk_level == {"high": 0.8}
    assert report.first_response.cases_responded is None  # none of the nine: 0 < 5
    assert report.tenant_satisfaction_measures.asb_cases_per_1000_homes is None


@pytest.mark.parametrize(
    ("today", "holidays", "due"),
    [
        (date(2026, 12, 1), (), date(2026, 11, 1)),  # Tuesday, the first working day
        (date(2026, 11, 1), (), date(2026, 9, 1)),  # Sunday: October's is not due yet
        (date(2026, 11, 2), (), date(2026, 10, 1)),  # Monday
        (date(2027, 1, 1), (date(2027, 1, 1),), date(2026, 11, 1)),  # bank holiday
        (date(2027, 1, 4), (date(2027, 1, 1),), date(2026, 12, 1)),
    ],
)
def test_month_due(today: date, holidays: tuple[date, ...], due: date) -> None:
    assert month_due(today, holidays) == due


def test_first_working_day_skips_weekends_and_bank_holidays() -> None:
    assert first_working_day(date(2026, 8, 1)) == date(2026, 8, 3)
    assert first_working_day(date(2026, 6, 1), [date(2026, 6, 1)]) == date(2026, 6, 2)


# --------------------------------------------------------------------------- the service

MONTH = "2003-03"
"""Long before anything else the session's broker carries: the rebuild reads every topic
from the start, and other tests' events must not fall in the month compared."""
START = datetime(2003, 3, 3, 9, 0, tzinfo=UTC)


def like_example(model: type[BaseModel], **changes: Any) -> BaseModel:
    example = example_message(event_spec(model)).payload
    return model.model_validate({**example, **changes})


def month_events() -> list[tuple[BaseModel, datetime]]:
    """Seven cases: five harassment, two hate incidents; five high risk answered by
    first-response-recorded after 1, 2, 3, 4 and 30 hours; one with only a completed
    action flagged first_response (which no longer counts); five closed as resolved, one
    closed and reopened; two survey answers."""
    cases = [uuid.uuid4() for _ in range(7)]
    events: list[tuple[BaseModel, datetime]] = []
    for index, case_id in enumerate(cases):
        received = START + timedelta(days=index)
        classification = Classification.HARASSMENT if index < 5 else Classification.HATE_INCIDENT
        events.append(
            (
                like_example(
                    v1.ReportReceived,
                    case_id=case_id,
                    report_id=uuid.uuid4(),
                    received_at=received,
                    classification=classification,
                    further_report=False,
                ),
                received,
            )
        )
        level = RiskLevel.HIGH if index < 5 else RiskLevel.STANDARD
        if index < 6:
            events.append(
                (
                    like_example(
                        v1.RiskAssessed,
                        assessment_id=uuid.uuid4(),
                        case_id=case_id,
                        risk_level=level,
                        assessed_at=received + timedelta(minutes=1),
                    ),
                    received,
                )
            )
        if index < 5:
            hours = [1, 2, 3, 4, 30][index]
            responded = received + timedelta(hours=hours)
            events.append((first_response(case_id, responded, received), responded))
            closed = received + timedelta(days=10)
            events.append((status(case_id, CaseStatus.CLOSED, closed), closed))
    # A later response never replaces the first (5.2).
    events.append((first_response(cases[0], START + timedelta(hours=10), START), START))
    # A further report on a case is not a case received.
    events.append(
        (
            like_example(
                v1.ReportReceived,
                case_id=cases[0],
                report_id=uuid.uuid4(),
                received_at=START + timedelta(days=2),
                further_report=True,
            ),
            START,
        )
    )
    sixth = START + timedelta(days=5)
    events.append(
        (
            v1.ActionCompleted(
                action_id=uuid.uuid4(),
                case_id=cases[5],
                kind=ActionKind.VISIT_WITH_RISK_ASSESSMENT,
                completed_at=sixth + timedelta(hours=1),
                outcome="visited",
                first_response=True,
            ),
            sixth,
        )
    )
    events.append((status(cases[5], CaseStatus.CLOSED, sixth + timedelta(days=1)), sixth))
    events.append((status(cases[5], CaseStatus.REOPENED, sixth + timedelta(days=2)), sixth))
    for case_id in cases[:2]:
        answered = START + timedelta(days=20)
        events.append(
            (
                v1.SatisfactionRecorded(
                    survey_id=uuid.uuid4(),
                    case_id=case_id,
                    handling_score=4,
                    feels_safer=SaferFeeling.YES,
                    answered_at=answered,
                ),
                answered,
            )
        )
    return events


def first_response(case_id: uuid.UUID, at: datetime, received: datetime) -> BaseModel:
    return v1.FirstResponseRecorded(
        case_id=case_id,
        action_id=uuid.uuid4(),
        kind=ActionKind.VISIT_WITH_RISK_ASSESSMENT,
        responded_at=at,
        received_at=received,
    )


def status(case_id: uuid.UUID, new: CaseStatus, at: datetime) -> BaseModel:
    closed = new == CaseStatus.CLOSED
    return v1.CaseStatusChanged(
        case_id=case_id,
        status=new,
        previous_status=CaseStatus.IN_PROGRESS if closed else CaseStatus.CLOSED,
        closure_reason=ClosureReason.RESOLVED if closed else None,
        changed_by="manager-1",
        changed_at=at,
    )


async def send(bootstrap_servers: str, events: list[tuple[BaseModel, datetime]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        for payload, at in events:
            case_id: uuid.UUID = getattr(payload, "case_id")  # noqa: B009
            envelope = new_envelope(payload, case_id=case_id, occurred_at=at)
            await producer.send_and_wait(
                topic_of(envelope),
                envelope.model_dump_json().encode(),
                key=str(case_id).encode(),
                headers=[(EventHeaders.PRODUCER, envelope.producer.encode())],
            )
    finally:
        await producer.stop()


EXPECTED = {
    "first_response": {
        "cases_received": 7,
        "cases_responded": 5,  # the completed action flagged first_response is not one
        "median_seconds": 3 * 3600.0,
        "p90_seconds": pytest.approx((4 + (30 - 4) * 0.6) * 3600),
        "share_within_24_hours": pytest.approx(4 / 7),
        "share_within_target_by_risk_level": {"high": 0.8},
    },
    "overdue_actions": None,
    "by_classification": {"harassment": 5, "hate_incident": None},
    "by_channel": {"telephone": 7},
    "by_risk_level": {"high": 5, "not_assessed": None, "standard": None},
    "cases_closed_by_reason": {"resolved": 5},
    "satisfaction": {
        "responses": None,
        "mean_handling_score": None,
        "share_feeling_safer": None,
        "by_handling_score": {"4": None},
    },
    "tenant_satisfaction_measures": {
        "homes": 2000,
        "asb_cases": 7,
        "asb_cases_per_1000_homes": 3.5,
        "hate_incident_cases": None,
        "hate_incident_cases_per_1000_homes": None,
    },
}


def shown(report: dict[str, Any]) -> dict[str, Any]:
    return {key: report[key] for key in EXPECTED}


async def test_report_in_every_format_and_unchanged_by_a_rebuild(
    postgres_server_url: str, broker: Broker, issue_token: TokenFactory
) -> None:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = ReportingSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-reporting-{uuid.uuid4().hex[:8]}",
        homes_managed=2000,
    )
    async with (
        serving_service(definition(settings)) as urls,
        httpx.AsyncClient(
            base_url=urls.staff, headers=bearer(issue_token("reporting_reader"))
        ) as reporting,
    ):
        await send(broker.bootstrap_servers, month_events())

        async def report() -> dict[str, Any]:
            answer = await reporting.get("/v1/reports/monthly", params={"month": MONTH})
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        async def complete() -> dict[str, Any] | None:
            body = await report()
            return body if shown(body) == EXPECTED else None

        before = await eventually(complete, message="the month's events not all projected")

        csv_answer = await reporting.get(f"/v1/reports/monthly/{MONTH}.csv")
        assert csv_answer.status_code == 200
        assert csv_answer.headers["content-type"].startswith("text/csv")
        assert "2003-03,classification,harassment,5\r\n" in csv_answer.text
        assert "2003-03,classification,hate incident,fewer than 5\r\n" in csv_answer.text

        page = await reporting.get(f"/v1/reports/monthly/{MONTH}.html")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<svg role="img" aria-labelledby="chart-classification-title"' in page.text
        assert '<th scope="row">hate incident</th><td class="number">fewer than 5</td>' in (
            page.text
        )
        assert '<th scope="row">harassment</th><td class="number">5</td>' in page.text
        assert "<script" not in page.text
        assert "@media print" in page.text

        bad = await reporting.get("/v1/reports/monthly/2003-13.html")
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["path", "month"]

        rebuilt = await rebuild(settings)
        assert rebuilt.events >= len(month_events())
        after = await report()
        assert {**after, "published_at": None} == {**before, "published_at": None}
        # The live consumer writes into the rebuilt tables from now on.
        await send(broker.bootstrap_servers, month_events()[:1])

        async def counted_again() -> bool:
            return (await report())["first_response"]["cases_received"] == 8

        assert await eventually(counted_again, message="live consumer lost after the swap")


# --------------------------------------------------------------------------- the schedule


async def test_the_schedule_publishes_each_month_once(postgres_server_url: str) -> None:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = ReportingSettings(database_url=database_url)
    await migrate(settings, [MIGRATIONS])
    pool = await create_pool(settings)
    try:
        january = datetime(2010, 1, 4, 9, tzinfo=UTC)
        await pool.executemany(
            """INSERT INTO case_facts (case_id, reported_at, classification, channel, track,
                                       first_response_at) VALUES ($1, $2, 'harassment',
                                       'telephone', 'customer_case', $3)""",
            [(uuid.uuid4(), january, january + timedelta(hours=2)) for _ in range(6)]
            + [(uuid.uuid4(), january + timedelta(days=31), None) for _ in range(2)],
        )
        runtime = cast(Runtime, _Runtime(pool, settings))

        async def run_twice(today: date) -> int:
            # Two replicas at once, as on the day.
            fired = await asyncio.gather(
                publish_due_month(runtime, today=today), publish_due_month(runtime, today=today)
            )
            return sum(fired)

        assert await run_twice(date(2010, 2, 1)) == 1  # Monday: January, 6 cases
        assert await run_twice(date(2010, 2, 2)) == 0
        assert await run_twice(date(2010, 3, 1)) == 1  # Monday: February, 2 cases
        assert await run_twice(date(2010, 3, 1)) == 0
        published = await pool.fetch("SELECT topic, payload FROM outbox ORDER BY created_at, topic")
    finally:
        await pool.close()
    by_version = [(row["topic"], row["payload"]["payload"]["month"]) for row in published]
    # v1 cannot say "suppressed": February's 2 cases publish v2 alone.
    assert sorted(by_version) == [
        ("hhc.reporting.monthly-reports.v1", "2010-01-01"),
        ("hhc.reporting.monthly-reports.v2", "2010-01-01"),
        ("hhc.reporting.monthly-reports.v2", "2010-02-01"),
    ]


class _Runtime:
    """What the schedule reaches of the service's runtime: its pool and settings."""

    def __init__(self, pool: asyncpg.Pool, settings: ReportingSettings) -> None:
        self.pool = pool
        self.settings = settings
