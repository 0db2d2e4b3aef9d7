"""Reporting's projections. Every event lands on the timeline; some also update facts.

Only ids, types, times, classifications and scores are stored: personal data arriving
in an event's ``personal`` part is never read here (policy 3.5, 5).

Each event becomes a few writes (:func:`writes_for`, pure). Every write is idempotent
and independent of the order in which events arrive (the newest time wins where a
value can change, the earliest where it is a first), because topics are ordered only per
partition and the rebuild (``rebuild.py``) applies a batch's writes grouped by statement.
"""

from typing import Any

from hhc_chassis.consumer import Handler, Projection
from hhc_chassis.db import Write
from hhc_contracts import EVENT_TYPES, Envelope, Topic
from hhc_contracts.v1 import (
    ActionOverdue,
    CaseStatusChanged,
    CaseTrackChanged,
    EnforcementActionTaken,
    FirstResponseRecorded,
    ReferralMade,
    ReferralStatusChanged,
    ReferralUpdated,
    ReportReceived,
    RiskAssessed,
    SatisfactionRecorded,
)
from hhc_contracts.vocabulary import CaseStatus, ReferralStatus

"""One statement and its arguments."""

TIMELINE = """INSERT INTO case_events (event_id, case_id, event_type, producer, topic, occurred_at)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING"""

# Further reports join an existing case: they are not cases received.
REPORT_RECEIVED = """INSERT INTO case_facts (case_id, reported_at, channel, classification,
        track, track_at, perceived_motivation)
    VALUES ($1, $2, $3, $4, $5, $2, $6)
    ON CONFLICT (case_id) DO UPDATE SET reported_at = EXCLUDED.reported_at,
        channel = EXCLUDED.channel, classification = EXCLUDED.classification,
        perceived_motivation = EXCLUDED.perceived_motivation,
        track = CASE WHEN case_facts.track_at IS NULL OR case_facts.track_at < EXCLUDED.track_at
                     THEN EXCLUDED.track ELSE case_facts.track END,
        track_at = GREATEST(case_facts.track_at, EXCLUDED.track_at)"""

# 3.2.4, 3.2.5: a report confirmed or found valid later moves to the track it now has.
TRACK_CHANGED = """INSERT INTO case_facts (case_id, track, track_at) VALUES ($1, $2, $3)
    ON CONFLICT (case_id) DO UPDATE SET
        track = CASE WHEN case_facts.track_at IS NULL OR case_facts.track_at <= EXCLUDED.track_at
                     THEN EXCLUDED.track ELSE case_facts.track END,
        track_at = GREATEST(case_facts.track_at, EXCLUDED.track_at)"""

RISK_ASSESSED = """INSERT INTO case_facts (case_id, risk_level, risk_assessed_at)
    VALUES ($1, $2, $3)
    ON CONFLICT (case_id) DO UPDATE SET
        risk_level = CASE WHEN case_facts.risk_assessed_at IS NULL
                            OR case_facts.risk_assessed_at <= EXCLUDED.risk_assessed_at
                          THEN EXCLUDED.risk_level ELSE case_facts.risk_level END,
        risk_assessed_at = GREATEST(case_facts.risk_assessed_at, EXCLUDED.risk_assessed_at)"""

# 5.2: the first response is risk's to define, with the server's time; the earliest wins.
FIRST_RESPONSE = """INSERT INTO case_facts (case_id, first_response_at) VALUES ($1, $2)
    ON CONFLICT (case_id) DO UPDATE SET
        first_response_at = LEAST(case_facts.first_response_at, EXCLUDED.first_response_at)"""

# Closed sets the closure; reopened clears it; whichever happened last stands.
CLOSURE = """INSERT INTO case_facts (case_id, status_at, closed_at, closure_reason)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (case_id) DO UPDATE SET
        closed_at = CASE WHEN case_facts.status_at IS NULL
                           OR case_facts.status_at <= EXCLUDED.status_at
                         THEN EXCLUDED.closed_at ELSE case_facts.closed_at END,
        closure_reason = CASE WHEN case_facts.status_at IS NULL
                                OR case_facts.status_at <= EXCLUDED.status_at
                              THEN EXCLUDED.closure_reason ELSE case_facts.closure_reason END,
        status_at = GREATEST(case_facts.status_at, EXCLUDED.status_at)"""

OVERDUE = """INSERT INTO overdue_actions (action_id, case_id, detected_at) VALUES ($1, $2, $3)
    ON CONFLICT (action_id) DO UPDATE SET
        detected_at = LEAST(overdue_actions.detected_at, EXCLUDED.detected_at)"""

REFERRAL_MADE = """INSERT INTO referrals (referral_id, case_id, partner, made_at, status, status_at)
    VALUES ($1, $2, $3, $4, $5, $4)
    ON CONFLICT (referral_id) DO UPDATE SET partner = EXCLUDED.partner,
        made_at = LEAST(referrals.made_at, EXCLUDED.made_at),
        status = CASE WHEN referrals.status_at IS NULL OR referrals.status_at < EXCLUDED.status_at
                      THEN EXCLUDED.status ELSE referrals.status END,
        status_at = GREATEST(referrals.status_at, EXCLUDED.status_at)"""

REFERRAL_STATUS = """INSERT INTO referrals (referral_id, case_id, partner, status, status_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (referral_id) DO UPDATE SET
        status = CASE WHEN referrals.status_at IS NULL OR referrals.status_at <= EXCLUDED.status_at
                      THEN EXCLUDED.status ELSE referrals.status END,
        status_at = GREATEST(referrals.status_at, EXCLUDED.status_at)"""

ENFORCEMENT_STEP = """INSERT INTO enforcement_steps (event_id, case_id, step, taken_at)
    VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING"""

# 5.1: the scores alone; the free text stays with intake.
SATISFACTION = """INSERT INTO satisfaction_scores (survey_id, case_id, handling_score,
        feels_safer, answered_at)
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (survey_id) DO NOTHING"""


def _timeline(envelope: Envelope) -> Write:
    topic = EVENT_TYPES[(envelope.event_type, envelope.schema_version)].topic.value
    return TIMELINE, (
        envelope.event_id,
        envelope.case_id,
        envelope.event_type,
        envelope.producer,
        topic,
        envelope.occurred_at,
    )


def _facts(envelope: Envelope, payload: Any) -> list[Write]:
    match payload:
        case ReportReceived(further_report=False):
            return [
                (
                    REPORT_RECEIVED,
                    (
                        payload.case_id,
                        payload.received_at,
                        payload.channel.value,
                        payload.classification.value,
                        payload.track.value,
                        [motivation.value for motivation in payload.perceived_motivation],
                    ),
                )
            ]
        case CaseTrackChanged():
            return [(TRACK_CHANGED, (payload.case_id, payload.track.value, payload.changed_at))]
        case RiskAssessed():
            return [
                (RISK_ASSESSED, (payload.case_id, payload.risk_level.value, payload.assessed_at))
            ]
        case FirstResponseRecorded():
            return [(FIRST_RESPONSE, (payload.case_id, payload.responded_at))]
        case CaseStatusChanged(status=CaseStatus.CLOSED):
            reason = payload.closure_reason.value if payload.closure_reason else "not_given"
            return [(CLOSURE, (payload.case_id, payload.changed_at, payload.changed_at, reason))]
        case CaseStatusChanged(status=CaseStatus.REOPENED):
            return [(CLOSURE, (payload.case_id, payload.changed_at, None, None))]
        case ActionOverdue():
            return [(OVERDUE, (payload.action_id, payload.case_id, payload.detected_at))]
        case ReferralMade():
            return [
                (
                    REFERRAL_MADE,
                    (
                        payload.referral_id,
                        payload.case_id,
                        payload.partner.value,
                        payload.made_at,
                        # Made means handed over: referrals moves it to sent unannounced.
                        ReferralStatus.SENT.value,
                    ),
                )
            ]
        case ReferralStatusChanged() | ReferralUpdated():
            at = (
                payload.changed_at
                if isinstance(payload, ReferralStatusChanged)
                else payload.updated_at
            )
            return [
                (
                    REFERRAL_STATUS,
                    (
                        payload.referral_id,
                        payload.case_id,
                        payload.partner.value,
                        payload.status.value,
                        at,
                    ),
                )
            ]
        case EnforcementActionTaken():
            step = payload.step.value if payload.step is not None else payload.action
            return [
                (ENFORCEMENT_STEP, (envelope.event_id, payload.case_id, step, payload.taken_at))
            ]
        case SatisfactionRecorded():
            return [
                (
                    SATISFACTION,
                    (
                        payload.survey_id,
                        payload.case_id,
                        payload.handling_score,
                        payload.feels_safer.value,
                        payload.answered_at,
                    ),
                )
            ]
    return []


def writes_for(envelope: Envelope, payload: Any) -> list[Write]:
    """What one event changes in the projections."""
    return [_timeline(envelope), *_facts(envelope, payload)]


project = Projection(writes_for)


NOT_CONSUMED = frozenset({Topic.AUDIT_ACCESS, Topic.INTAKE_SUBMISSIONS})
"""The audit's events name who looked at which case: about staff, not about the work on
a case, and for the group's security monitoring, not for reporting. Submissions are what
other systems ask of intake: the case's own record starts with intake's report-received
(counting both would count a report twice, and anyone may write submissions)."""

TOPICS: list[str] = [topic.value for topic in Topic if topic not in NOT_CONSUMED]
HANDLERS: dict[str, Handler] = {
    spec.event_type: project for spec in EVENT_TYPES.values() if spec.topic not in NOT_CONSUMED
}
