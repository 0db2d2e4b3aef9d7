"""Reporting's HTTP API: case timelines and the monthly performance report.

Every route needs a token (policy 3.5.1). A timeline is about one case, so the caller
must reach that case and the look is audited; the monthly report is aggregates, in JSON,
CSV and HTML, with small counts suppressed (measures.py).
"""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission
from hhc_chassis.auth import authorised
from hhc_chassis.http import invalid
from hhc_chassis.service import runtime_of
from hhc_contracts.v2 import MonthlyReportPublished
from hhc_reporting.kpi import first_day, reportable_month
from hhc_reporting.publish import publish, settings_of
from hhc_reporting.render import to_csv, to_html
from hhc_reporting.report import monthly_report

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


async def reportable_path(
    month: Annotated[str, Path(description="A month, YYYY-MM", examples=["2026-11"])],
) -> str:
    """As :func:`reportable`, for the month named in the path."""
    try:
        reportable_month(month, today=datetime.now(UTC).date())
    except ValueError as error:
        raise invalid("month", str(error), where="path") from None
    return month


PathMonth = Annotated[str, Depends(reportable_path)]


class TimelineEntry(BaseModel):
    event_id: UUID
    event_type: str
    producer: str
    topic: str
    occurred_at: datetime


class Timeline(BaseModel):
    case_id: UUID
    events: list[TimelineEntry]


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


async def _monthly(request: Request, month: str) -> MonthlyReportPublished:
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as connection:
        return await monthly_report(
            connection, first_day(month), homes=settings_of(runtime).homes_managed
        )


# Aggregates name no case and no person: checked, not audited.
@router.get(
    "/v1/reports/monthly",
    response_model=MonthlyReportPublished,
    dependencies=[Depends(authorised(Permission.READ_AGGREGATES))],
)
async def monthly_report_json(request: Request, month: Month) -> MonthlyReportPublished:
    """The month's report (policy 5.1, 5.2), the shape of reporting.monthly-report-published
    v2: a count under 5, and a figure worked out from fewer than 5 cases, is null."""
    return await _monthly(request, month)


@router.get(
    "/v1/reports/monthly/{month}.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
    dependencies=[Depends(authorised(Permission.READ_AGGREGATES))],
)
async def monthly_report_csv(request: Request, month: PathMonth) -> Response:
    """The month's report as CSV: month, section, item, value ("fewer than 5" where
    suppressed)."""
    report = await _monthly(request, month)
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="monthly-report-{month}.csv"'},
    )


@router.get(
    "/v1/reports/monthly/{month}.html",
    response_class=HTMLResponse,
    dependencies=[Depends(authorised(Permission.READ_AGGREGATES))],
)
async def monthly_report_html(request: Request, month: PathMonth) -> HTMLResponse:
    """The month's report as a page with charts (SVG drawn on the server, no JavaScript,
    a print stylesheet)."""
    return HTMLResponse(to_html(await _monthly(request, month)))


@router.post(
    "/v1/reports/monthly/publish",
    response_model=MonthlyReportPublished,
    status_code=202,
    dependencies=[Depends(authorised(Permission.PUBLISH_MONTHLY_REPORT))],
)
async def publish_monthly_report(request: Request, month: Month) -> MonthlyReportPublished:
    """Publish the month's report now (v2, and v1 when its counts may be published:
    publish.py), through the same code as the schedule.

    Every call publishes again: a manager asks for it after figures changed (late
    events, a rebuild), and subscribers keep the newest ``published_at`` of a month. It
    is not recorded as the schedule's publication, so a month published early by hand
    is still published, complete, on the next month's first working day."""
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as connection, connection.transaction():
        report = await monthly_report(
            connection, first_day(month), homes=settings_of(runtime).homes_managed
        )
        await publish(connection, report)
    return report
