"""How long a closed case's personal data is kept (policy 3.5.2: records are "disposed of
securely in line with data retention schedules"). Pure: no database, no clock.

A case is kept while it is open, and for its period after closure. The period follows
what the case is: a staff survivor's case follows the HR records schedule (4.3); a case
every report of which was anonymous names nobody who reported, and is kept for less; any
other case for the housing group's period for closed case files. A case under an active
legal hold is never due, whatever its age.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hhc_intake.settings import IntakeSettings


class RetentionKind(StrEnum):
    CLOSED_CASE = "closed_case"
    ANONYMOUS_CASE = "anonymous_case"
    STAFF_CASE = "staff_case"


@dataclass(frozen=True, slots=True)
class RetentionSchedule:
    closed_case: timedelta
    anonymous_case: timedelta
    staff_case: timedelta

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> "RetentionSchedule":
        return cls(
            closed_case=settings.retention_closed_case,
            anonymous_case=settings.retention_anonymous_case,
            staff_case=settings.retention_staff_case,
        )

    def period(self, kind: RetentionKind) -> timedelta:
        match kind:
            case RetentionKind.STAFF_CASE:
                return self.staff_case
            case RetentionKind.ANONYMOUS_CASE:
                return self.anonymous_case
            case _:
                return self.closed_case

    def closed_before(self, now: datetime) -> dict[RetentionKind, datetime]:
        """For each kind, the closure time before which a case of that kind is due."""
        return {kind: now - self.period(kind) for kind in RetentionKind}


@dataclass(frozen=True, slots=True)
class RetentionFacts:
    """What decides a case's disposal; no personal data."""

    closed_at: datetime | None
    """None while the case is not closed (open, in progress, reopened)."""
    survivor_is_staff: bool
    every_report_anonymous: bool
    under_legal_hold: bool
    erased: bool


def retention_kind(*, survivor_is_staff: bool, every_report_anonymous: bool) -> RetentionKind:
    """Staff first: an anonymous report about a member of staff is still an HR record."""
    if survivor_is_staff:
        return RetentionKind.STAFF_CASE
    if every_report_anonymous:
        return RetentionKind.ANONYMOUS_CASE
    return RetentionKind.CLOSED_CASE


def disposal_due(facts: RetentionFacts, schedule: RetentionSchedule, now: datetime) -> bool:
    """Whether the case's personal data is to be disposed of now (3.5.2)."""
    if facts.closed_at is None or facts.under_legal_hold or facts.erased:
        return False
    kind = retention_kind(
        survivor_is_staff=facts.survivor_is_staff,
        every_report_anonymous=facts.every_report_anonymous,
    )
    return facts.closed_at <= now - schedule.period(kind)
