"""Risk's event handlers: load, decide (pure: assessment, playbook), store and emit in one
transaction (casework)."""

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from hhc_chassis.consumer import Handler
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    EnforcementActionTaken,
    ReferralMade,
    ReferralWithheld,
    ReportReceived,
)
from hhc_risk.casework import complete_action, record_assessment, require_actions
from hhc_risk.playbook import CaseFacts, first_assessment, plan_actions, report_answers


def facts_of(report: ReportReceived) -> CaseFacts:
    return CaseFacts(
        survivor_is_customer=report.survivor_is_customer,
        immediate_danger=report.immediate_danger,
        classification=report.classification,
        track=report.track,
        categories=frozenset(report.categories),
        perpetrator_kinds=frozenset(report.perpetrator_kinds),
        perceived_motivation=frozenset(report.perceived_motivation),
        vulnerable_adult=report.vulnerable_adult,
        children_in_household=report.children_in_household,
        female_staff_requested=report.female_staff_requested,
        capacity_concern=report.capacity_concern,
        ongoing=report.ongoing,
    )


def reported_outcome(
    outcome: ReferralMade | ReferralWithheld | EnforcementActionTaken,
) -> tuple[UUID | None, str, datetime]:
    """The action a partner service reports on, what came of it, and when."""
    match outcome:
        case ReferralMade():
            return outcome.action_id, "referral_made", outcome.made_at
        case ReferralWithheld():
            return outcome.action_id, "referral_withheld", outcome.withheld_at
        case EnforcementActionTaken():
            return outcome.action_id, outcome.action, outcome.taken_at


def handlers(deadline_scale: float) -> dict[str, Handler]:
    """Risk's handlers; ``deadline_scale`` shortens every clock (drills and tests only)."""

    async def on_report_received(
        connection: asyncpg.Connection, envelope: Envelope, report: ReportReceived
    ) -> None:
        """Assess every report, the first and each further one, and plan what it needs."""
        facts = facts_of(report)
        await connection.execute(
            """INSERT INTO cases (case_id, survivor_is_customer, immediate_danger,
                                  consent_to_share, reported_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (case_id) DO UPDATE
                   SET immediate_danger = cases.immediate_danger OR EXCLUDED.immediate_danger,
                       consent_to_share = EXCLUDED.consent_to_share""",
            report.case_id,
            report.survivor_is_customer,
            report.immediate_danger,
            report.consent_to_share.value,
            report.received_at,
        )
        outgoing = await record_assessment(
            connection,
            case_id=report.case_id,
            assessment=first_assessment(facts),
            answers=report_answers(facts),
            basis="further_report" if report.further_report else "report",
            assessed_at=datetime.now(UTC),
            deadline_scale=deadline_scale,
            cause=envelope,
        )
        # Deadlines run from when the report was received (3.3.1: visit within 24 hours).
        outgoing += await require_actions(
            connection,
            case_id=report.case_id,
            planned=plan_actions(facts),
            required_at=report.received_at,
            deadline_scale=deadline_scale,
            immediate_danger=report.immediate_danger,
            consent=report.consent_to_share,
            cause=envelope,
        )
        await enqueue(connection, outgoing)

    async def on_partner_outcome(
        connection: asyncpg.Connection,
        envelope: Envelope,
        outcome: ReferralMade | ReferralWithheld | EnforcementActionTaken,
    ) -> None:
        """Referrals and enforcement report back on the actions they carry out."""
        action_id, what, at = reported_outcome(outcome)
        if action_id:
            await complete_action(
                connection,
                action_id=action_id,
                outcome=what,
                completed_at=at,
                by_staff=False,
                cause=envelope,
            )

    return {
        "intake.report-received": on_report_received,
        "referrals.referral-made": on_partner_outcome,
        "referrals.referral-withheld": on_partner_outcome,
        "enforcement.action-taken": on_partner_outcome,
    }
