"""Performance arithmetic for the monthly report (policy 5.2). Pure: no I/O."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    reports_received: int
    cases_responded: int
    median_seconds: float | None
    p90_seconds: float | None


def response_times(received: int, seconds_to_first_response: Sequence[float]) -> ResponseTimes:
    return ResponseTimes(
        reports_received=received,
        cases_responded=len(seconds_to_first_response),
        median_seconds=percentile(seconds_to_first_response, 0.5),
        p90_seconds=percentile(seconds_to_first_response, 0.9),
    )


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-11' -> [2026-11-01T00:00Z, 2026-12-01T00:00Z); ValueError when malformed."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def first_day(month: str) -> date:
    return month_bounds(month)[0].date()


FIRST_REPORTABLE_MONTH = date(2000, 1, 1)
"""Nothing the case system holds is older: a month before it is a mistake, not a question."""


def reportable_month(month: str, *, today: date) -> date:
    """The first day of ``month`` ('2026-11') if a monthly report may be asked of it: from
    January 2000 to the month after ``today``'s. ValueError, worded for the caller, when
    it is malformed or out of that range."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError("must be a month written YYYY-MM") from None
    latest = (
        date(today.year + 1, 1, 1) if today.month == 12 else date(today.year, today.month + 1, 1)
    )
    if first < FIRST_REPORTABLE_MONTH:
        raise ValueError(f"must not be before {FIRST_REPORTABLE_MONTH:%Y-%m}")
    if first > latest:
        raise ValueError(f"must not be after {latest:%Y-%m}, a month from now")
    return first
