"""Reporting's KPI arithmetic (policy 5.2: time taken to respond to requests for support,
reported monthly to the Executive Management Team)."""

import calendar
from datetime import UTC, date, datetime

import pytest

from hhc_reporting.kpi import (
    ResponseTimes,
    first_day,
    month_bounds,
    percentile,
    reportable_month,
    response_times,
)


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.9, 1.0], ids=lambda f: f"p{int(f * 100)}")
def test_percentile_of_nothing_is_none(fraction: float) -> None:
    assert percentile([], fraction) is None


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        pytest.param([42.0], 0.0, 42.0, id="single-p0"),
        pytest.param([42.0], 0.5, 42.0, id="single-median"),
        pytest.param([42.0], 0.9, 42.0, id="single-p90"),
        pytest.param([1, 2, 3], 0.5, 2.0, id="odd-median-middle-value"),
        pytest.param([1, 2, 3, 4], 0.5, 2.5, id="even-median-mean-of-middle"),
        pytest.param([4, 1, 3, 2], 0.5, 2.5, id="unsorted-input"),
        pytest.param([0, 100], 0.25, 25.0, id="interpolate-quarter"),
        # position (5-1)*0.4 = 1.6 -> 20 + (35-20)*0.6 = 29
        pytest.param([15, 20, 35, 40, 50], 0.4, 29.0, id="interpolate-p40"),
        # position (5-1)*0.9 = 3.6 -> 40 + (50-40)*0.6 = 46
        pytest.param([10, 20, 30, 40, 50], 0.9, 46.0, id="p90-five-values"),
        # position 9*0.9 = 8.1 -> 9 + (10-9)*0.1 = 9.1
        pytest.param(list(range(1, 11)), 0.9, 9.1, id="p90-one-to-ten"),
        # position 2*0.9 = 1.8 -> 120 + (3600-120)*0.8 = 2904
        pytest.param([3600, 60, 120], 0.9, 2904.0, id="p90-seconds-skewed"),
        pytest.param([5, 5, 5, 5], 0.9, 5.0, id="all-equal"),
        pytest.param([7, 3, 9], 0.0, 3.0, id="p0-is-min"),
        pytest.param([7, 3, 9], 1.0, 9.0, id="p100-is-max"),
    ],
)
def test_percentile(values: list[float], fraction: float, expected: float) -> None:
    assert percentile(values, fraction) == pytest.approx(expected)


def test_percentile_does_not_reorder_its_input() -> None:
    values = [3.0, 1.0, 2.0]
    percentile(values, 0.5)
    assert values == [3.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("received", "seconds", "expected"),
    [
        pytest.param(5, [], ResponseTimes(5, 0, None, None), id="none-responded"),
        pytest.param(10, [100.0], ResponseTimes(10, 1, 100.0, 100.0), id="one-responded"),
        # median 20; p90 position 1.8 -> 20 + 10*0.8 = 28
        pytest.param(3, [30.0, 10.0, 20.0], ResponseTimes(3, 3, 20.0, 28.0), id="three"),
        # median 2.5; p90 position 2.7 -> 3 + 1*0.7 = 3.7
        pytest.param(6, [1.0, 2.0, 3.0, 4.0], ResponseTimes(6, 4, 2.5, 3.7), id="four-of-six"),
        pytest.param(0, [], ResponseTimes(0, 0, None, None), id="empty-month"),
    ],
)
def test_response_times(received: int, seconds: list[float], expected: ResponseTimes) -> None:
    got = response_times(received, seconds)
    assert got.reports_received == expected.reports_received
    assert got.cases_responded == expected.cases_responded
    assert got.median_seconds == pytest.approx(expected.median_seconds)
    assert got.p90_seconds == pytest.approx(expected.p90_seconds)


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
