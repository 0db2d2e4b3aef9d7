"""The retention schedule's rule alone (hhc_intake.retention_schedule, policy 3.5.2): which
period a case is kept for after closure, and when its disposal is due."""

from datetime import UTC, datetime, timedelta

import pytest

from hhc_intake.retention_schedule import (
    RetentionFacts,
    RetentionKind,
    RetentionSchedule,
    disposal_due,
    retention_kind,
)
from hhc_intake.settings import IntakeSettings

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
SCHEDULE = RetentionSchedule(
    closed_case=timedelta(days=2192),
    anonymous_case=timedelta(days=731),
    staff_case=timedelta(days=2000),
)


def facts(closed_days_ago: float | None, **changes: bool) -> RetentionFacts:
    values = {
        "survivor_is_staff": False,
        "every_report_anonymous": False,
        "under_legal_hold": False,
        "erased": False,
        **changes,
    }
    return RetentionFacts(
        closed_at=None if closed_days_ago is None else NOW - timedelta(days=closed_days_ago),
        **values,
    )


@pytest.mark.parametrize(
    ("staff", "anonymous", "kind"),
    [
        (False, False, RetentionKind.CLOSED_CASE),
        (False, True, RetentionKind.ANONYMOUS_CASE),
        (True, False, RetentionKind.STAFF_CASE),
        # An anonymous report about a member of staff is still an HR record.
        (True, True, RetentionKind.STAFF_CASE),
    ],
)
def test_the_kind_of_case_chooses_its_period(staff: bool, anonymous: bool, kind: str) -> None:
    assert retention_kind(survivor_is_staff=staff, every_report_anonymous=anonymous) == kind


DUE = [
    pytest.param(facts(None), False, id="not closed"),
    pytest.param(facts(1), False, id="closed yesterday"),
    pytest.param(facts(2191), False, id="a day short of six years"),
    pytest.param(facts(2192), True, id="six years to the day"),
    pytest.param(facts(7 * 365), True, id="closed seven years ago"),
    pytest.param(facts(7 * 365, under_legal_hold=True), False, id="held"),
    pytest.param(facts(7 * 365, erased=True), False, id="erased already"),
    pytest.param(facts(800, every_report_anonymous=True), True, id="anonymous after 2 years"),
    pytest.param(facts(800), False, id="named after 2 years"),
    pytest.param(facts(2100, survivor_is_staff=True), True, id="staff: the HR period"),
    pytest.param(
        facts(800, survivor_is_staff=True, every_report_anonymous=True), False, id="staff first"
    ),
]


@pytest.mark.parametrize(("given", "due"), DUE)
def test_when_disposal_is_due(given: RetentionFacts, due: bool) -> None:
    assert disposal_due(given, SCHEDULE, NOW) is due


def test_each_kind_is_due_from_its_own_cutoff() -> None:
    before = SCHEDULE.closed_before(NOW)
    assert before == {
        RetentionKind.CLOSED_CASE: NOW - timedelta(days=2192),
        RetentionKind.ANONYMOUS_CASE: NOW - timedelta(days=731),
        RetentionKind.STAFF_CASE: NOW - timedelta(days=2000),
    }


def test_the_defaults_are_six_years_and_two_for_anonymous_cases() -> None:
    schedule = RetentionSchedule.from_settings(IntakeSettings())
    assert schedule.closed_case == schedule.staff_case == timedelta(days=2192)
    assert schedule.anonymous_case == timedelta(days=731)
