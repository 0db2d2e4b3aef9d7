"""The 5.2 measure's targets and the rule for what a published report may show. Pure.

Policy 5.2: "record the time taken to respond to requests for support and ... include
this in monthly reporting ... to the Executive Management Team". The response itself is
defined by risk (risk.first-response-recorded, with the server's time); here: the
targets a response is measured against, and the suppression of small numbers.
"""

from collections.abc import Mapping
from datetime import timedelta

from hhc_contracts.vocabulary import RiskLevel

SUPPRESSION_THRESHOLD = 5
"""A count under this could point at a person (a small team, one street, one month), so
it is never published; nor is a share, median, percentile or rate worked out from fewer
cases than this, which would give the small count away (issue 12, item 6)."""

WITHIN_24_HOURS = timedelta(hours=24)
"""The measure every case is counted against, whatever its risk: the policy's one
stated response time (3.3.1, "visiting the reportee within 24 hours")."""

RESPONSE_TARGETS: Mapping[RiskLevel, timedelta] = {
    # 3.3.1: someone in immediate danger or at risk of harm is visited (or emergency
    # services informed) within 24 hours.
    RiskLevel.HIGH: timedelta(hours=24),
    # MEDIUM and STANDARD: the policy gives no response time for them (3.3.2's secondary
    # actions "may follow" with none; 5.2 asks only that the time be recorded). No
    # target is invented for them: they are measured by the 24-hour share alone.
}
"""Response target by risk level, where the policy gives one."""


def published_count(count: int) -> int | None:
    """The count as published: None (suppressed) when under the threshold."""
    return count if count >= SUPPRESSION_THRESHOLD else None


def published_counts(counts: Mapping[str, int]) -> dict[str, int | None]:
    """Each count as published, keys sorted; a suppressed one stays listed (as None)
    so that the reader sees that there were some, fewer than the threshold."""
    return {key: published_count(counts[key]) for key in sorted(counts)}


def published_share(part: int, whole: int) -> float | None:
    """``part / whole`` (0..1), or None when ``whole`` is under the threshold."""
    if whole < SUPPRESSION_THRESHOLD:
        return None
    return part / whole


def published_statistic(value: float | None, cases: int) -> float | None:
    """A median, percentile or mean worked out from ``cases``: None under the threshold."""
    if cases < SUPPRESSION_THRESHOLD:
        return None
    return value


def published_rate_per_1000(count: int, homes: int | None) -> float | None:
    """Cases per 1,000 homes (the tenant satisfaction measures' NM02 form); None when the
    number of homes is not configured or the count is suppressed."""
    if homes is None or homes <= 0 or count < SUPPRESSION_THRESHOLD:
        return None
    return count * 1000 / homes


def target_seconds() -> tuple[list[str], list[float]]:
    """The target table as two parallel arrays (risk level, seconds), for SQL's unnest."""
    levels = sorted(RESPONSE_TARGETS, key=lambda level: level.value)
    return [level.value for level in levels], [
        RESPONSE_TARGETS[level].total_seconds() for level in levels
    ]
