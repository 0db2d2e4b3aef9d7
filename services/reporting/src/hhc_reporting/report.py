"""The monthly report (policy 5.1, 5.2): SQL aggregates over the projections, then the
suppression rule (``measures.py``) applied to the figures in :func:`assemble` (pure).

The database does the counting: a month may hold tens of thousands of cases, and no case
row is ever loaded into Python, only a few hundred aggregate rows at most.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

import asyncpg

from hhc_contracts.v2 import (
    FirstResponseTimes,
    MonthlyReportPublished,
    SatisfactionScores,
    TenantSatisfactionMeasures,
)
from hhc_contracts.vocabulary import Classification, SaferFeeling
from hhc_reporting.kpi import following_month
from hhc_reporting.measures import (
    SUPPRESSION_THRESHOLD,
    WITHIN_24_HOURS,
    published_count,
    published_counts,
    published_rate_per_1000,
    published_share,
    published_statistic,
    target_seconds,
)

NOT_ASSESSED = "not_assessed"
"""The risk level of a case risk has not assessed yet."""

HATE_INCIDENTS = (Classification.HATE_INCIDENT.value, Classification.HATE_CRIME.value)
"""A hate crime is a hate incident that is also a crime (policy 3.1): both count as hate
incidents in the tenant satisfaction measures."""


@dataclass
class MonthFigures:
    """The month's raw figures, before suppression. Everything is a count but the
    first-response median and p90 (seconds) and the satisfaction score total."""

    cases_received: int = 0
    cases_responded: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None
    responded_within_24_hours: int = 0
    hate_incident_cases: int = 0
    cases_by_risk_level_with_target: dict[str, int] = field(default_factory=dict)
    within_target_by_risk_level: dict[str, int] = field(default_factory=dict)
    overdue_actions: int = 0
    by_classification: dict[str, int] = field(default_factory=dict)
    by_track: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_perceived_motivation: dict[str, int] = field(default_factory=dict)
    by_risk_level: dict[str, int] = field(default_factory=dict)
    referrals: dict[str, dict[str, int]] = field(default_factory=dict)
    enforcement_steps: dict[str, int] = field(default_factory=dict)
    closed_by_reason: dict[str, int] = field(default_factory=dict)
    satisfaction_by_score: dict[int, int] = field(default_factory=dict)
    feeling_safer: int = 0


def assemble(
    month: date, figures: MonthFigures, *, homes: int | None, published_at: datetime
) -> MonthlyReportPublished:
    """The report as published: every count under the threshold, and every share,
    median or rate worked out from fewer cases than that, is None."""
    responses = sum(figures.satisfaction_by_score.values())
    score_total = sum(score * count for score, count in figures.satisfaction_by_score.items())
    return MonthlyReportPublished(
        month=month,
        suppression_threshold=SUPPRESSION_THRESHOLD,
        first_response=FirstResponseTimes(
            cases_received=published_count(figures.cases_received),
            cases_responded=published_count(figures.cases_responded),
            median_seconds=published_statistic(figures.median_seconds, figures.cases_responded),
            p90_seconds=published_statistic(figures.p90_seconds, figures.cases_responded),
            share_within_24_hours=published_share(
                figures.responded_within_24_hours, figures.cases_received
            ),
            share_within_target_by_risk_level={
                level: published_share(figures.within_target_by_risk_level.get(level, 0), cases)
                for level, cases in sorted(figures.cases_by_risk_level_with_target.items())
            },
        ),
        overdue_actions=published_count(figures.overdue_actions),
        by_classification=published_counts(figures.by_classification),
        by_track=published_counts(figures.by_track),
        by_channel=published_counts(figures.by_channel),
        by_perceived_motivation=published_counts(figures.by_perceived_motivation),
        by_risk_level=published_counts(figures.by_risk_level),
        referrals_by_partner_and_outcome={
            partner: published_counts(outcomes)
            for partner, outcomes in sorted(figures.referrals.items())
        },
        enforcement_steps_taken=published_counts(figures.enforcement_steps),
        cases_closed_by_reason=published_counts(figures.closed_by_reason),
        satisfaction=SatisfactionScores(
            responses=published_count(responses),
            mean_handling_score=published_statistic(
                score_total / responses if responses else None, responses
            ),
            share_feeling_safer=published_share(figures.feeling_safer, responses),
            by_handling_score=published_counts(
                {str(score): count for score, count in figures.satisfaction_by_score.items()}
            ),
        ),
        tenant_satisfaction_measures=TenantSatisfactionMeasures(
            homes=homes,
            # Every case here is anti-social behaviour in the NM02 sense, hate incidents
            # included: harassment is one of its kinds.
            asb_cases=published_count(figures.cases_received),
            asb_cases_per_1000_homes=published_rate_per_1000(figures.cases_received, homes),
            hate_incident_cases=published_count(figures.hate_incident_cases),
            hate_incident_cases_per_1000_homes=published_rate_per_1000(
                figures.hate_incident_cases, homes
            ),
        ),
        published_at=published_at,
    )


CASES_RECEIVED = """
    WITH month_cases AS MATERIALIZED (
        SELECT coalesce(classification, 'unknown') AS classification,
               coalesce(track, 'unknown') AS track,
               coalesce(channel, 'unknown') AS channel,
               coalesce(risk_level, $3) AS risk_level,
               perceived_motivation,
               EXTRACT(EPOCH FROM first_response_at - reported_at)::float8 AS seconds
        FROM case_facts WHERE reported_at >= $1 AND reported_at < $2)
    SELECT 'all' AS dimension, NULL AS value, count(*) AS cases,
           count(seconds) AS responded,
           count(*) FILTER (WHERE seconds <= $4) AS within,
           count(*) FILTER (WHERE classification = ANY($5::text[])) AS hate_incidents,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY seconds) AS percentiles
    FROM month_cases
    UNION ALL
    SELECT CASE WHEN GROUPING(classification) = 0 THEN 'classification'
                WHEN GROUPING(track) = 0 THEN 'track'
                WHEN GROUPING(channel) = 0 THEN 'channel'
                ELSE 'risk_level' END,
           CASE WHEN GROUPING(classification) = 0 THEN classification
                WHEN GROUPING(track) = 0 THEN track
                WHEN GROUPING(channel) = 0 THEN channel
                ELSE risk_level END,
           count(*), NULL, NULL, NULL, NULL
    FROM month_cases
    GROUP BY GROUPING SETS ((classification), (track), (channel), (risk_level))
    UNION ALL
    SELECT 'perceived_motivation', motivation, count(*), NULL, NULL, NULL, NULL
    FROM month_cases, unnest(perceived_motivation) AS motivation
    GROUP BY motivation
    UNION ALL
    SELECT 'target', target.level, count(month_cases.risk_level), NULL,
           count(*) FILTER (WHERE month_cases.seconds <= target.seconds), NULL, NULL
    FROM unnest($6::text[], $7::float8[]) AS target(level, seconds)
    LEFT JOIN month_cases ON month_cases.risk_level = target.level
    GROUP BY target.level"""
"""Everything about the cases received in the month, from one read of them: the first
response (5.2), the breakdowns, and each risk level's cases within its target."""

OVERDUE = "SELECT count(*) FROM overdue_actions WHERE detected_at >= $1 AND detected_at < $2"

REFERRALS = """
    SELECT partner, coalesce(status, 'unknown') AS status, count(*) AS referrals
    FROM referrals WHERE made_at >= $1 AND made_at < $2
    GROUP BY partner, status"""

ENFORCEMENT = """
    SELECT step, count(*) AS steps FROM enforcement_steps
    WHERE taken_at >= $1 AND taken_at < $2 GROUP BY step"""

CLOSURES = """
    SELECT closure_reason, count(*) AS cases FROM case_facts
    WHERE closed_at >= $1 AND closed_at < $2 GROUP BY closure_reason"""

SATISFACTION = """
    SELECT handling_score, count(*) AS responses,
           count(*) FILTER (WHERE feels_safer = $3) AS feeling_safer
    FROM satisfaction_scores WHERE answered_at >= $1 AND answered_at < $2
    GROUP BY handling_score"""


async def month_figures(connection: asyncpg.Connection, month: date) -> MonthFigures:
    """The month's figures, read in one snapshot (a repeatable-read transaction), so that
    every breakdown adds up to the same cases."""
    start = datetime.combine(month, time(), tzinfo=UTC)
    end = datetime.combine(following_month(month), time(), tzinfo=UTC)
    if connection.is_in_transaction():
        # The caller's transaction (the schedule's, which stages the events) is the snapshot.
        return await _read_figures(connection, start, end)
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        return await _read_figures(connection, start, end)


async def _read_figures(
    connection: asyncpg.Connection, start: datetime, end: datetime
) -> MonthFigures:
    figures = MonthFigures()
    levels, seconds = target_seconds()
    breakdowns = {
        "classification": figures.by_classification,
        "track": figures.by_track,
        "channel": figures.by_channel,
        "risk_level": figures.by_risk_level,
        "perceived_motivation": figures.by_perceived_motivation,
    }
    for row in await connection.fetch(
        CASES_RECEIVED,
        start,
        end,
        NOT_ASSESSED,
        WITHIN_24_HOURS.total_seconds(),
        list(HATE_INCIDENTS),
        levels,
        seconds,
    ):
        if row["dimension"] == "all":
            figures.cases_received = row["cases"]
            figures.cases_responded = row["responded"]
            # NULL, not an array of NULLs, when no case of the month was responded to.
            figures.median_seconds, figures.p90_seconds = row["percentiles"] or (None, None)
            figures.responded_within_24_hours = row["within"]
            figures.hate_incident_cases = row["hate_incidents"]
        elif row["dimension"] == "target":
            figures.cases_by_risk_level_with_target[row["value"]] = row["cases"]
            figures.within_target_by_risk_level[row["value"]] = row["within"]
        else:
            breakdowns[row["dimension"]][row["value"]] = row["cases"]

    figures.overdue_actions = await connection.fetchval(OVERDUE, start, end)
    referrals: dict[str, dict[str, int]] = defaultdict(dict)
    for row in await connection.fetch(REFERRALS, start, end):
        referrals[row["partner"]][row["status"]] = row["referrals"]
    figures.referrals = dict(referrals)
    for row in await connection.fetch(ENFORCEMENT, start, end):
        figures.enforcement_steps[row["step"]] = row["steps"]
    for row in await connection.fetch(CLOSURES, start, end):
        figures.closed_by_reason[row["closure_reason"]] = row["cases"]
    for row in await connection.fetch(SATISFACTION, start, end, SaferFeeling.YES.value):
        figures.satisfaction_by_score[row["handling_score"]] = row["responses"]
        figures.feeling_safer += row["feeling_safer"]
    return figures


async def monthly_report(
    connection: asyncpg.Connection,
    month: date,
    *,
    homes: int | None,
    published_at: datetime | None = None,
) -> MonthlyReportPublished:
    figures = await month_figures(connection, month)
    return assemble(month, figures, homes=homes, published_at=published_at or datetime.now(UTC))
