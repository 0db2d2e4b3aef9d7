"""Risk's event handlers: load, decide (pure, in playbook), store and emit in one transaction."""

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ActionCompleted,
    ActionRequired,
    EnforcementActionTaken,
    ReferralMade,
    ReferralWithheld,
    ReportReceived,
    RiskAssessed,
    SafeguardingAlertRaised,
)
from hhc_contracts.vocabulary import ActionKind, RiskLevel
from hhc_risk.playbook import CaseFacts, first_risk_level, plan_actions

REVIEW_INTERVAL = {RiskLevel.HIGH: timedelta(days=14), RiskLevel.MEDIUM: timedelta(days=28)}


def facts_of(report: ReportReceived) -> CaseFacts:
    return CaseFacts(
        survivor_is_customer=report.survivor_is_customer,
        immediate_danger=report.immediate_danger,
        classification=report.classification,
        track=report.track,
        categories=frozenset(report.categories),
        perpetrator_kinds=frozenset(report.perpetrator_kinds),
        vulnerable_adult=report.vulnerable_adult,
        children_in_household=report.children_in_household,
        female_staff_requested=report.female_staff_requested,
        capacity_concern=report.capacity_concern,
    )


async def on_report_received(
    connection: asyncpg.Connection, envelope: Envelope, report: ReportReceived
) -> None:
    facts = facts_of(report)
    # Deadlines run from when the report was received (3.3.1: visit within 24 hours).
    reported_at = report.received_at
    assessed_at = datetime.now(UTC)
    level, reasons = first_risk_level(facts)
    review_interval = REVIEW_INTERVAL.get(level)
    assessment = RiskAssessed(
        assessment_id=uuid.uuid4(),
        case_id=report.case_id,
        risk_level=level,
        basis="report",
        reasons=reasons,
        assessed_at=assessed_at,
        review_due_at=assessed_at + review_interval if review_interval else None,
    )
    await connection.execute(
        """INSERT INTO cases (case_id, survivor_is_customer, immediate_danger, consent_to_share,
                              reported_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (case_id) DO UPDATE SET immediate_danger = cases.immediate_danger
                                                OR EXCLUDED.immediate_danger,
                                               consent_to_share = EXCLUDED.consent_to_share""",
        report.case_id,
        report.survivor_is_customer,
        report.immediate_danger,
        report.consent_to_share.value,
        reported_at,
    )
    await connection.execute(
        """INSERT INTO assessments (assessment_id, case_id, risk_level, basis, reasons,
                                    assessed_at, review_due_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        assessment.assessment_id,
        assessment.case_id,
        level.value,
        assessment.basis,
        assessment.reasons,
        assessment.assessed_at,
        assessment.review_due_at,
    )
    outgoing = [
        new_envelope(assessment, case_id=report.case_id, occurred_at=assessed_at, cause=envelope)
    ]
    for planned in plan_actions(facts):
        action = ActionRequired(
            action_id=uuid.uuid4(),
            case_id=report.case_id,
            kind=planned.kind,
            applies_to=planned.applies_to,
            clause=planned.clause,
            carried_out_by=planned.carried_out_by,
            partner=planned.partner,
            required_at=reported_at,
            due_at=planned.due_at(reported_at),
            immediate_danger=report.immediate_danger,
            consent_to_share=report.consent_to_share,
        )
        await connection.execute(
            """INSERT INTO actions (action_id, case_id, kind, applies_to, clause, carried_out_by,
                                    partner, required_at, due_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            action.action_id,
            action.case_id,
            action.kind.value,
            action.applies_to.value,
            action.clause,
            action.carried_out_by.value,
            action.partner.value if action.partner else None,
            action.required_at,
            action.due_at,
        )
        outgoing.append(
            new_envelope(action, case_id=report.case_id, occurred_at=assessed_at, cause=envelope)
        )
        if planned.kind is ActionKind.SAFEGUARDING_ALERT and planned.partner is not None:
            alert = SafeguardingAlertRaised(
                alert_id=uuid.uuid4(),
                case_id=report.case_id,
                partner=planned.partner,
                raised_at=assessed_at,
            )
            outgoing.append(
                new_envelope(alert, case_id=report.case_id, occurred_at=assessed_at, cause=envelope)
            )
    await enqueue(connection, outgoing)


async def _complete_by_partner_outcome(
    connection: asyncpg.Connection,
    cause: Envelope,
    *,
    action_id: UUID | None,
    outcome: str,
    completed_at: datetime,
) -> None:
    """Referrals and enforcement report back; their actions are then done.

    Such automatic completions are not a response to the survivor by staff, so they do
    not count as the first response of policy 5.2.
    """
    if action_id is None:
        return
    row = await connection.fetchrow(
        """UPDATE actions SET state = 'completed', completed_at = $2, outcome = $3
           WHERE action_id = $1 AND state = 'open' RETURNING case_id, kind""",
        action_id,
        completed_at,
        outcome,
    )
    if row is None:
        return
    completed = ActionCompleted(
        action_id=action_id,
        case_id=row["case_id"],
        kind=row["kind"],
        completed_at=completed_at,
        outcome=outcome,
        first_response=False,
    )
    await enqueue(
        connection,
        [new_envelope(completed, case_id=row["case_id"], occurred_at=completed_at, cause=cause)],
    )


async def on_referral_made(
    connection: asyncpg.Connection, envelope: Envelope, referral: ReferralMade
) -> None:
    await _complete_by_partner_outcome(
        connection,
        envelope,
        action_id=referral.action_id,
        outcome="referral_made",
        completed_at=referral.made_at,
    )


async def on_referral_withheld(
    connection: asyncpg.Connection, envelope: Envelope, referral: ReferralWithheld
) -> None:
    await _complete_by_partner_outcome(
        connection,
        envelope,
        action_id=referral.action_id,
        outcome="referral_withheld",
        completed_at=referral.withheld_at,
    )


async def on_enforcement_action_taken(
    connection: asyncpg.Connection, envelope: Envelope, taken: EnforcementActionTaken
) -> None:
    await _complete_by_partner_outcome(
        connection,
        envelope,
        action_id=taken.action_id,
        outcome=taken.action,
        completed_at=taken.taken_at,
    )
