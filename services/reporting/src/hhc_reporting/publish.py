"""Publishing the monthly report: on the first working day of each month for the month
before (a durable schedule, once across replicas), or when a manager asks.

v2 (``reporting.monthly-report-published`` v2) is always published. v1 is published
beside it during the migration, but only when neither of its counts (reports_received,
cases_responded) is under the suppression threshold: v1's counts are required integers
and cannot say "suppressed", and publishing a small count would break the rule that
protects the people behind it (``measures.SUPPRESSION_THRESHOLD``). A v1 subscriber
therefore sees no report for a small month; v2 always says what it can.
"""

import logging
import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import asyncpg

from hhc_chassis.clocks import durable_clock
from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import BackgroundTask, Runtime
from hhc_contracts import v1, v2
from hhc_reporting.kpi import month_due, next_due_day
from hhc_reporting.report import monthly_report
from hhc_reporting.settings import ReportingSettings

log = logging.getLogger(__name__)


def v1_of(report: v2.MonthlyReportPublished) -> v1.MonthlyReportPublished | None:
    """The v1 form of the report, or None when a v1 count would be suppressed."""
    first = report.first_response
    if first.cases_received is None or first.cases_responded is None:
        return None
    return v1.MonthlyReportPublished(
        month=report.month,
        reports_received=first.cases_received,
        cases_responded=first.cases_responded,
        median_seconds_to_first_response=first.median_seconds,
        p90_seconds_to_first_response=first.p90_seconds,
        published_at=report.published_at,
    )


async def publish(connection: asyncpg.Connection, report: v2.MonthlyReportPublished) -> bool:
    """Stage the report's events in the caller's transaction; whether v1 went too."""
    correlation_id = uuid.uuid4()
    payloads: list[v1.MonthlyReportPublished | v2.MonthlyReportPublished] = [report]
    if (older := v1_of(report)) is not None:
        payloads.append(older)
    await enqueue(
        connection,
        [
            new_envelope(
                payload,
                case_id=None,
                occurred_at=report.published_at,
                correlation_id=correlation_id,
            )
            for payload in payloads
        ],
    )
    return older is not None


def settings_of(runtime: Runtime) -> ReportingSettings:
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    return settings


def local_today(settings: ReportingSettings, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(settings.report_timezone)).date()


async def publish_due_month(runtime: Runtime, *, today: date | None = None) -> int:
    """Publish the month now due, unless the schedule already did (1 if it published).

    The month's row is inserted first, in the transaction that stages the events: a
    second replica's insert waits for that transaction and then finds the row, so the
    month is published once whoever runs, restarts or runs late."""
    settings = settings_of(runtime)
    month = month_due(today or local_today(settings), settings.bank_holidays)
    published_at = datetime.now(UTC)
    async with runtime.pool.acquire() as connection, connection.transaction():
        claimed = await connection.fetchval(
            """INSERT INTO scheduled_publications (month, published_at, v1_published)
               VALUES ($1, $2, false) ON CONFLICT (month) DO NOTHING RETURNING month""",
            month,
            published_at,
        )
        if claimed is None:
            return 0
        report = await monthly_report(
            connection, month, homes=settings.homes_managed, published_at=published_at
        )
        with_v1 = await publish(connection, report)
        await connection.execute(
            "UPDATE scheduled_publications SET v1_published = $2 WHERE month = $1",
            month,
            with_v1,
        )
    log.info(
        "monthly report published on schedule",
        extra={"month": month.isoformat(), "v1_published": with_v1},
    )
    return 1


async def seconds_until_due(runtime: Runtime, ceiling: float) -> float:
    settings = settings_of(runtime)
    today = local_today(settings)
    published = await runtime.pool.fetchval(
        "SELECT true FROM scheduled_publications WHERE month = $1",
        month_due(today, settings.bank_holidays),
    )
    if not published:
        return 0.0
    zone = ZoneInfo(settings.report_timezone)
    next_due = datetime.combine(next_due_day(today, settings.bank_holidays), time(), tzinfo=zone)
    seconds = (next_due - datetime.now(UTC)).total_seconds()
    # A second late rather than early: waking just before midnight would find nothing due.
    return max(0.0, min(ceiling, seconds + 1))


def monthly_schedule(poll_seconds: float) -> BackgroundTask:
    """Publishes each month's report on the next month's first working day (Monday to
    Friday, not one of BANK_HOLIDAYS, in REPORT_TIMEZONE), for the month before. A month
    missed (every replica down that day) is published when one comes back, until the
    next month's first working day makes another month due; an older one is published
    by POST /v1/reports/monthly/publish."""
    return durable_clock(
        name="monthly report schedule",
        channel="monthly_reports",
        fire_due=publish_due_month,
        seconds_until_next=seconds_until_due,
        poll_seconds=poll_seconds,
    )
