"""Risk's event handlers: load, decide (pure: assessment, playbook), store and emit in one
transaction (casework)."""

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from hhc_chassis.consumer import Handler
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ConsentChanged,
    EnforcementActionTaken,
    ReferralMade,
    ReferralStatusChanged,
    ReferralUpdated,
    ReferralWithheld,
    ReportReceived,
)
from hhc_contracts.vocabulary import ReferralStatus
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


# A referral that reached its partner; a further action joining one of these is answered.
_REFERRAL_REACHED_PARTNER = frozenset(
    {ReferralStatus.SENT, ReferralStatus.ACKNOWLEDGED, ReferralStatus.ACCEPTED}
)

PartnerOutcome = ReferralMade | ReferralUpdated | ReferralStatusChanged | EnforcementActionTaken


def reported_outcome(outcome: PartnerOutcome) -> tuple[list[UUID], str, datetime] | None:
    """The actions a partner service's event answers, what came of them, and when; None
    when it answers none. A referral answers its action only once the partner has it
    (sent, or confirmed by the member of staff who telephoned): a decision is not a deed."""
    match outcome:
        case ReferralMade():
            actions = [outcome.action_id] if outcome.action_id else []
            return actions + outcome.covers_action_ids, "referral_made", outcome.made_at
        case ReferralUpdated() if outcome.status in _REFERRAL_REACHED_PARTNER:
            return [outcome.action_id], "referral_already_made", outcome.updated_at
        case ReferralStatusChanged() if outcome.status is ReferralStatus.WITHDRAWN:
            actions = [outcome.action_id] if outcome.action_id else []
            return actions, "consent_withdrawn", outcome.changed_at
        case EnforcementActionTaken():
            return (
                ([outcome.action_id] if outcome.action_id else []),
                outcome.action,
                (outcome.taken_at),
            )
        case _:
            return None


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
        connection: asyncpg.Connection, envelope: Envelope, outcome: PartnerOutcome
    ) -> None:
        """Referrals and enforcement report back on the actions they carry out."""
        reported = reported_outcome(outcome)
        if reported is None:
            return
        action_ids, what, at = reported
        for action_id in action_ids:
            await complete_action(
                connection,
                action_id=action_id,
                outcome=what,
                completed_at=at,
                by_staff=False,
                cause=envelope,
            )

    async def on_consent_changed(
        connection: asyncpg.Connection, envelope: Envelope, change: ConsentChanged
    ) -> None:
        """Consent applies to risk and referrals alike (3.5.2): the actions risk asks for
        from now on carry the survivor's latest word."""
        await connection.execute(
            "UPDATE cases SET consent_to_share = $2 WHERE case_id = $1",
            change.case_id,
            change.consent_to_share.value,
        )

    async def on_referral_withheld(
        connection: asyncpg.Connection, envelope: Envelope, withheld: ReferralWithheld
    ) -> None:
        """A referral waiting for consent keeps its action open, with a clock to seek
        consent again (3.5.2); one whose override is proposed keeps its own clock."""
        if withheld.action_id is None or withheld.seek_consent_by is None:
            return
        await connection.execute(
            """UPDATE actions SET due_at = $2, overdue_reported_at = NULL,
                                  outcome = 'awaiting_consent'
               WHERE action_id = $1 AND state = 'open'""",
            withheld.action_id,
            withheld.seek_consent_by,
        )

    return {
        "intake.report-received": on_report_received,
        "intake.consent-changed": on_consent_changed,
        "referrals.referral-made": on_partner_outcome,
        "referrals.referral-updated": on_partner_outcome,
        "referrals.referral-status-changed": on_partner_outcome,
        "referrals.referral-withheld": on_referral_withheld,
        "enforcement.action-taken": on_partner_outcome,
    }
