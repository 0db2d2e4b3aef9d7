"""Calendar arithmetic for the monthly report (policy 5.2). Pure: no I/O."""

from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta


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


def previous_month(first: date) -> date:
    """The first day of the month before the one starting on ``first``."""
    return date(first.year - 1, 12, 1) if first.month == 1 else date(first.year, first.month - 1, 1)


def following_month(first: date) -> date:
    return date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)


def first_working_day(month: date, bank_holidays: Collection[date] = ()) -> date:
    """The month's first day that is Monday to Friday and not a bank holiday."""
    day = month.replace(day=1)
    while day.weekday() >= 5 or day in bank_holidays:
        day += timedelta(days=1)
    return day


def month_due(today: date, bank_holidays: Collection[date] = ()) -> date:
    """The month whose report is due by ``today`` (policy 5.2, monthly to the Executive
    Management Team): last month's from this month's first working day on; before it, the
    month before that (so a report missed last month is still caught up)."""
    this_month = today.replace(day=1)
    last_month = previous_month(this_month)
    if today >= first_working_day(this_month, bank_holidays):
        return last_month
    return previous_month(last_month)


def next_due_day(today: date, bank_holidays: Collection[date] = ()) -> date:
    """The next first working day of a month after ``today``'s due month was published."""
    this_month = today.replace(day=1)
    due_this_month = first_working_day(this_month, bank_holidays)
    if today < due_this_month:
        return due_this_month
    return first_working_day(following_month(this_month), bank_holidays)
