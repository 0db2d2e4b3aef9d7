"""Reporting's HTTP API: case timelines and the monthly performance report.

Every route needs a token (policy 3.5.1). A timeline is about one case, so the caller
must reach that case and the look is audited; the monthly figures are aggregates.
"""

import uuid
from datetime import UTC, date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.events import new_envelope
from hhc_chassis.http import invalid
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts.v1 import MonthlyReportPublished
from hhc_reporting.kpi import month_bounds, reportable_month, response_times

router = APIRouter(tags=["reporting"])

TimelineReader = Annotated[Caller, Depends(authorised(Permission.READ_TIMELINE))]

MONTH = Query(
    pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
    examples=["2026-11"],
    description="From 2000-01 to a month from now",
)


async def reportable(month: Annotated[str, MONTH]) -> str:
    """The month asked for, if a report may be asked of it; else 422 naming ``month``
    (a year such as 0000 or 9999-12 would otherwise fail in date arithmetic, a 500)."""
    try:
        reportable_month(month, today=datetime.now(UTC).date())
    except ValueError as error:
        raise invalid("month", str(error), where="query") from None
    return month


Month = Annotated[str, Depends(reportable)]


class TimelineEntry(BaseModel):
    event_id: UUID
    event_type: str
    producer: str
    topic: str
    occurred_at: datetime


class Timeline(BaseModel):
    case_id: UUID
    events: list[TimelineEntry]


class MonthlyReport(BaseModel):
    month: date
    reports_received: int
    cases_responded: int
    median_seconds_to_first_response: float | None
    p90_seconds_to_first_response: float | None
    by_classification: dict[str, int]
    by_channel: dict[str, int]
    by_perceived_motivation: dict[str, int]


@router.get("/v1/cases/{case_id}/timeline", response_model=Timeline)
async def timeline(case_id: UUID, request: Request, caller: TimelineReader) -> Timeline:
    await audit.open_case_for(
        request, caller, Permission.READ_TIMELINE, case_id, fields=("timeline",)
    )
    rows = await runtime_of(request).pool.fetch(
        """SELECT event_id, event_type, producer, topic, occurred_at FROM case_events
           WHERE case_id = $1 ORDER BY occurred_at, recorded_at""",
        case_id,
    )
    if not rows:
        raise HTTPException(404, "no events seen for this case")
    return Timeline(case_id=case_id, events=[TimelineEntry(**dict(row)) for row in rows])


async def _monthly(request: Request, month: str) -> MonthlyReport:
    start, end = month_bounds(month)
    async with runtime_of(request).pool.acquire() as connection:
        facts = await connection.fetch(
            """SELECT classification, channel, perceived_motivation,
                      EXTRACT(EPOCH FROM first_response_at - reported_at)::float8 AS seconds
               FROM case_facts WHERE reported_at >= $1 AND reported_at < $2""",
            start,
            end,
        )
    times = response_times(
        len(facts), [row["seconds"] for row in facts if row["seconds"] is not None]
    )

    def count(values: list[str]) -> dict[str, int]:
        counted: dict[str, int] = {}
        for value in values:
            counted[value] = counted.get(value, 0) + 1
        return dict(sorted(counted.items()))

    return MonthlyReport(
        month=start.date(),
        reports_received=times.reports_received,
        cases_responded=times.cases_responded,
        median_seconds_to_first_response=times.median_seconds,
        p90_seconds_to_first_response=times.p90_seconds,
        by_classification=count([row["classification"] for row in facts]),
        by_channel=count([row["channel"] for row in facts]),
        by_perceived_motivation=count(
            [m for row in facts for m in (row["perceived_motivation"] or [])]
        ),
    )


# Aggregates name no case and no person: checked, not audited.
@router.get(
    "/v1/reports/monthly",
    response_model=MonthlyReport,
    dependencies=[Depends(authorised(Permission.READ_AGGREGATES))],
)
async def monthly_report(request: Request, month: Month) -> MonthlyReport:
    """Counts and time from report received to first response (policy 5.2)."""
    return await _monthly(request, month)


@router.post(
    "/v1/reports/monthly/publish",
    response_model=MonthlyReport,
    status_code=202,
    dependencies=[Depends(authorised(Permission.PUBLISH_MONTHLY_REPORT))],
)
async def publish_monthly_report(request: Request, month: Month) -> MonthlyReport:
    """Publish the month's figures as reporting.monthly-report-published."""
    report = await _monthly(request, month)
    published_at = datetime.now(UTC)
    event = MonthlyReportPublished(
        month=report.month,
        reports_received=report.reports_received,
        cases_responded=report.cases_responded,
        median_seconds_to_first_response=report.median_seconds_to_first_response,
        p90_seconds_to_first_response=report.p90_seconds_to_first_response,
        published_at=published_at,
    )
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        await enqueue(
            connection,
            [
                new_envelope(
                    event, case_id=None, occurred_at=published_at, correlation_id=uuid.uuid4()
                )
            ],
        )
    return report
