"""Reporting's KPI arithmetic (policy 5.2: time taken to respond to requests for support,
reported monthly to the Executive Management Team)."""

import calendar
from datetime import UTC, date, datetime

import pytest

from hhc_reporting.kpi import first_day, month_bounds, reportable_month


@pytest.mark.parametrize(
    ("month", "start", "end"),
    [
        pytest.param(
            "2026-11",
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
            id="november",
        ),
        pytest.param(
            "2026-12",
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
            id="december-rolls-over-year",
        ),
        pytest.param(
            "1999-12",
            datetime(1999, 12, 1, tzinfo=UTC),
            datetime(2000, 1, 1, tzinfo=UTC),
            id="december-century",
        ),
        pytest.param(
            "2026-01",
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 2, 1, tzinfo=UTC),
            id="january",
        ),
        pytest.param(
            "2024-02",
            datetime(2024, 2, 1, tzinfo=UTC),
            datetime(2024, 3, 1, tzinfo=UTC),
            id="leap-february",
        ),
        pytest.param(
            "2025-02",
            datetime(2025, 2, 1, tzinfo=UTC),
            datetime(2025, 3, 1, tzinfo=UTC),
            id="february",
        ),
    ],
)
def test_month_bounds(month: str, start: datetime, end: datetime) -> None:
    got_start, got_end = month_bounds(month)
    assert (got_start, got_end) == (start, end)
    assert got_start.tzinfo is UTC
    assert got_end.tzinfo is UTC
    days_in_month = calendar.monthrange(start.year, start.month)[1]
    assert (got_end - got_start).days == days_in_month


@pytest.mark.parametrize(
    "month",
    [
        pytest.param("", id="empty"),
        pytest.param("2026", id="year-only"),
        pytest.param("2026-13", id="month-13"),
        pytest.param("2026-00", id="month-0"),
        pytest.param("2026/11", id="slash"),
        pytest.param("11-2026", id="month-first"),
        pytest.param("2026-11-01", id="full-date"),
        pytest.param("2026-11 ", id="trailing-space"),
        pytest.param("November 2026", id="words"),
        pytest.param("abcd-ef", id="letters"),
    ],
)
def test_month_bounds_rejects_malformed_month(month: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - strptime's messages vary
        month_bounds(month)


def test_first_day() -> None:
    assert first_day("2026-12") == date(2026, 12, 1)


TODAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("month", "today", "first"),
    [
        pytest.param("2000-01", TODAY, date(2000, 1, 1), id="earliest"),
        pytest.param("2026-11", TODAY, date(2026, 11, 1), id="this-month"),
        pytest.param("2026-12", TODAY, date(2026, 12, 1), id="next-month"),
        pytest.param("2027-01", date(2026, 12, 31), date(2027, 1, 1), id="next-month-new-year"),
    ],
)
def test_reportable_month(month: str, today: date, first: date) -> None:
    assert reportable_month(month, today=today) == first


@pytest.mark.parametrize(
    ("month", "today", "message"),
    [
        pytest.param("1999-12", TODAY, "must not be before 2000-01", id="before-2000"),
        pytest.param("0000-01", TODAY, "must be a month written YYYY-MM", id="year-0"),
        pytest.param("2027-01", TODAY, "must not be after 2026-12", id="two-months-ahead"),
        pytest.param("2027-02", date(2026, 12, 31), "must not be after 2027-01", id="new-year"),
        pytest.param("9999-12", TODAY, "must not be after 2026-12", id="year-9999"),
        pytest.param("2026-13", TODAY, "must be a month written YYYY-MM", id="month-13"),
    ],
)
def test_unreportable_month_names_the_range(month: str, today: date, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reportable_month(month, today=today)
