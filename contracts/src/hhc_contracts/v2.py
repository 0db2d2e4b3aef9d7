"""Version 2 payloads, published side by side with their v1 during migration (style.md,
"Schema evolution").

The monthly report's v2 carries every breakdown of the month (policy 5.1, 5.2) and
suppresses small counts: a count under ``suppression_threshold`` is published as null,
and so is any share, median or rate worked out from fewer cases than that, because
v1's required integers could not say "suppressed".
"""

from datetime import date

from pydantic import AwareDatetime, Field

from hhc_contracts.v1 import Payload

Counts = dict[str, int | None]
"""Value to count; null where the count is under the threshold."""


class FirstResponseTimes(Payload):
    """Time from a case's first report to its first response (5.2)."""

    cases_received: int | None
    cases_responded: int | None
    median_seconds: float | None
    p90_seconds: float | None
    share_within_24_hours: float | None = Field(description="0..1 of the cases received.")
    share_within_target_by_risk_level: dict[str, float | None] = Field(
        default_factory=dict,
        description="0..1 of each risk level's cases answered within the policy's target.",
    )


class SatisfactionScores(Payload):
    """The survivors' answers to the closure survey (5.1); scores only."""

    responses: int | None
    mean_handling_score: float | None = Field(description="1 very dissatisfied .. 5 very.")
    share_feeling_safer: float | None = Field(description="0..1 of the responses.")
    by_handling_score: Counts = Field(default_factory=dict)


class TenantSatisfactionMeasures(Payload):
    """The Regulator of Social Housing's measures this system can serve (NM02-style:
    anti-social behaviour cases, and those that are hate incidents, per 1,000 homes)."""

    homes: int | None = Field(description="Homes the landlord owns, from configuration.")
    asb_cases: int | None
    asb_cases_per_1000_homes: float | None
    hate_incident_cases: int | None
    hate_incident_cases_per_1000_homes: float | None


class MonthlyReportPublished(Payload):
    """reporting.monthly-report-published v2: the month's report for the Executive
    Management Team (policy 5.2), every breakdown included."""

    month: date = Field(description="First day of the month reported on.")
    suppression_threshold: int = Field(
        default=5, description="Counts under this are null; so is anything worked out from them."
    )
    first_response: FirstResponseTimes
    overdue_actions: int | None
    by_classification: Counts
    by_track: Counts
    by_channel: Counts
    by_perceived_motivation: Counts
    by_risk_level: Counts
    referrals_by_partner_and_outcome: dict[str, Counts]
    enforcement_steps_taken: Counts
    cases_closed_by_reason: Counts
    satisfaction: SatisfactionScores
    tenant_satisfaction_measures: TenantSatisfactionMeasures
    published_at: AwareDatetime
