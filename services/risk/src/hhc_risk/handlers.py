"""Risk's event handlers: load, decide (pure: assessment, playbook), store and emit in one
transaction (casework)."""

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg

from hhc_chassis.consumer import Handler
from hhc_chassis.db import Write, write_together
from hhc_chassis.disposal import dispose_of_case
from hhc_chassis.outbox import enqueue, staged
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    CaseErased,
    CaseStatusChanged,
    CaseTrackChanged,
    ConsentChanged,
    EnforcementActionTaken,
    EnforcementValidityRecorded,
    ReferralMade,
    ReferralStatusChanged,
    ReferralUpdated,
    ReferralWithheld,
    RehousingRequested,
    ReportReceived,
)
from hhc_contracts.vocabulary import (
    ActionKind,
    CaseStatus,
    Classification,
    ConsentState,
    IncidentCategory,
    Partner,
    PerceivedMotivation,
    PerpetratorKind,
    ReferralStatus,
    Track,
)
from hhc_risk.casework import (
    ERASURES,
    actions_required,
    assessment_of,
    complete_action,
    load_open_actions,
    require_actions,
    restart_case_clocks,
    review_required,
    stop_case_clocks,
)
from hhc_risk.playbook import (
    CaseFacts,
    first_assessment,
    not_yet_planned,
    plan_actions,
    report_answers,
)

log = logging.getLogger(__name__)


class ClockChange(StrEnum):
    STOP = "stop"
    RESTART = "restart"


def clock_change(status: CaseStatus, *, closed_here: bool) -> ClockChange | None:
    """What a case's new status does to its clocks. Closed stops them; any other status
    of a case closed here (reopened, or moved on from closed by a status this vocabulary
    does not know) starts them again; otherwise nothing changes."""
    if status is CaseStatus.CLOSED:
        return ClockChange.STOP
    if closed_here:
        return ClockChange.RESTART
    return None


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


def facts_to_json(facts: CaseFacts) -> dict[str, Any]:
    """The facts as stored with the case; sets as sorted lists of their values."""
    stored: dict[str, Any] = {}
    for name in CaseFacts.__slots__:
        value = getattr(facts, name)
        if isinstance(value, frozenset):
            stored[name] = sorted(str(item) for item in value)
        elif isinstance(value, bool):
            stored[name] = value
        else:
            stored[name] = str(value)
    return stored


def facts_from_json(stored: dict[str, Any]) -> CaseFacts:
    return CaseFacts(
        survivor_is_customer=stored["survivor_is_customer"],
        immediate_danger=stored["immediate_danger"],
        classification=Classification(stored["classification"]),
        track=Track(stored["track"]),
        categories=frozenset(IncidentCategory(value) for value in stored["categories"]),
        perpetrator_kinds=frozenset(
            PerpetratorKind(value) for value in stored["perpetrator_kinds"]
        ),
        perceived_motivation=frozenset(
            PerceivedMotivation(value) for value in stored["perceived_motivation"]
        ),
        vulnerable_adult=stored["vulnerable_adult"],
        children_in_household=stored["children_in_household"],
        female_staff_requested=stored["female_staff_requested"],
        capacity_concern=stored["capacity_concern"],
        ongoing=stored["ongoing"],
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


RecordedElsewhere = RehousingRequested | EnforcementValidityRecorded


@dataclass(frozen=True, slots=True)
class LandlordActionDone:
    kind: ActionKind
    outcome: str
    at: datetime
    by: str


def landlord_action_done(record: RecordedElsewhere) -> LandlordActionDone:
    """The landlord's action another service's record shows done, by the named member of
    staff who recorded it there: the rehousing evidence, compiled into a request for
    rehousing (3.3.2, 3.4); the validity investigation of an anonymous report, its
    finding recorded either way (3.2.5)."""
    match record:
        case RehousingRequested():
            return LandlordActionDone(
                ActionKind.REHOUSING_EVIDENCE,
                "rehousing_requested",
                record.requested_at,
                record.requested_by,
            )
        case EnforcementValidityRecorded():
            return LandlordActionDone(
                ActionKind.VALIDITY_INVESTIGATION,
                "found_valid" if record.valid else "found_not_valid",
                record.recorded_at,
                record.recorded_by,
            )


async def on_case_erased(
    connection: asyncpg.Connection, envelope: Envelope, erased: CaseErased
) -> None:
    """Intake erased the case (3.5.2): what risk keeps of it in words goes, here and in
    the outbox, and the audit is told how much (risk's facts and clocks stay)."""
    await dispose_of_case(
        connection,
        service="risk",
        case_id=erased.case_id,
        basis=erased.basis,
        erasures=ERASURES,
        at=datetime.now(UTC),
        cause=envelope,
    )


def handlers(deadline_scale: float) -> dict[str, Handler]:
    """Risk's handlers; ``deadline_scale`` shortens every clock (drills and tests only)."""

    async def on_report_received(
        connection: asyncpg.Connection, envelope: Envelope, report: ReportReceived
    ) -> None:
        """Assess every report, the first and each further one, and plan what it needs."""
        facts = facts_of(report)
        # What the case has open is read first; then everything is written together (a
        # round trip each, not eight).
        open_now = await load_open_actions(connection, report.case_id)
        assessed = assessment_of(
            case_id=report.case_id,
            assessment=first_assessment(facts),
            answers=report_answers(facts),
            basis="further_report" if report.further_report else "report",
            assessed_at=datetime.now(UTC),
            deadline_scale=deadline_scale,
            cause=envelope,
        )
        review = review_required(assessed, open_now, cause=envelope)
        # Deadlines run from when the report was received (3.3.1: visit within 24 hours).
        plan = actions_required(
            review.open_after,
            case_id=report.case_id,
            planned=plan_actions(facts),
            required_at=report.received_at,
            deadline_scale=deadline_scale,
            immediate_danger=report.immediate_danger,
            consent=report.consent_to_share,
            cause=envelope,
        )
        case_row: Write = (
            """INSERT INTO cases (case_id, survivor_is_customer, immediate_danger,
                                  consent_to_share, reported_at, reference, reporter_role,
                                  facts)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (case_id) DO UPDATE
                   SET immediate_danger = cases.immediate_danger OR EXCLUDED.immediate_danger,
                       consent_to_share = EXCLUDED.consent_to_share,
                       reference = coalesce(cases.reference, EXCLUDED.reference),
                       reporter_role = coalesce(cases.reporter_role, EXCLUDED.reporter_role),
                       facts = EXCLUDED.facts""",
            (
                report.case_id,
                report.survivor_is_customer,
                report.immediate_danger,
                report.consent_to_share.value,
                report.received_at,
                report.reference,
                report.reporter_role.value,
                facts_to_json(facts),
            ),
        )
        outgoing = [assessed.event, *review.outgoing, *plan.outgoing]
        await write_together(
            connection,
            [case_row, *assessed.writes, *review.writes, *plan.writes, staged(outgoing)],
        )

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
                cause=envelope,
            )

    async def on_recorded_elsewhere(
        connection: asyncpg.Connection, envelope: Envelope, record: RecordedElsewhere
    ) -> None:
        """Referrals and enforcement record what the landlord's staff did there; the case's
        open action of that kind is done, at the time and by the person they recorded."""
        done = landlord_action_done(record)
        action_ids = await connection.fetch(
            "SELECT action_id FROM actions WHERE case_id = $1 AND kind = $2 AND state = 'open'",
            record.case_id,
            done.kind.value,
        )
        for row in action_ids:
            await complete_action(
                connection,
                action_id=row["action_id"],
                outcome=done.outcome,
                completed_at=done.at,
                completed_by=done.by,
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

    async def on_case_status_changed(
        connection: asyncpg.Connection, envelope: Envelope, change: CaseStatusChanged
    ) -> None:
        """Closing a case stops its clocks; reopening it starts them again (issue 12)."""
        closed = await connection.fetchval(
            "SELECT status = 'closed' FROM cases WHERE case_id = $1 FOR UPDATE", change.case_id
        )
        if closed is None:
            return  # a case risk never heard of has no clocks
        match clock_change(change.status, closed_here=closed):
            case ClockChange.STOP:
                outgoing = await stop_case_clocks(
                    connection, case_id=change.case_id, stopped_at=change.changed_at, cause=envelope
                )
            case ClockChange.RESTART:
                outgoing = await restart_case_clocks(
                    connection,
                    case_id=change.case_id,
                    restarted_at=change.changed_at,
                    cause=envelope,
                )
            case None:
                return
        await enqueue(connection, outgoing)

    async def on_case_track_changed(
        connection: asyncpg.Connection, envelope: Envelope, change: CaseTrackChanged
    ) -> None:
        """A report turned out otherwise (3.2.4, 3.2.5): plan the support the new track
        gets, less what the case already has open or done."""
        case = await connection.fetchrow(
            """SELECT facts, immediate_danger, consent_to_share FROM cases
               WHERE case_id = $1 FOR UPDATE""",
            change.case_id,
        )
        if case is None or case["facts"] is None:
            log.warning(
                "track changed for a case without its facts: nothing planned",
                extra={"case_id": str(change.case_id)},
            )
            return
        facts = replace(facts_from_json(case["facts"]), track=change.track)
        await connection.execute(
            "UPDATE cases SET facts = $2, reporter_role = $3 WHERE case_id = $1",
            change.case_id,
            facts_to_json(facts),
            change.reporter_role.value,
        )
        had = {
            (ActionKind(row["kind"]), Partner(row["partner"]) if row["partner"] else None)
            for row in await connection.fetch(
                """SELECT kind, partner FROM actions
                   WHERE case_id = $1 AND state IN ('open', 'completed')""",
                change.case_id,
            )
        }
        outgoing = await require_actions(
            connection,
            case_id=change.case_id,
            planned=not_yet_planned(plan_actions(facts), had),
            required_at=change.changed_at,
            deadline_scale=deadline_scale,
            immediate_danger=case["immediate_danger"],
            consent=ConsentState(case["consent_to_share"]),
            cause=envelope,
        )
        await enqueue(connection, outgoing)

    return {
        "intake.report-received": on_report_received,
        "intake.case-erased": on_case_erased,
        "intake.case-status-changed": on_case_status_changed,
        "intake.case-track-changed": on_case_track_changed,
        "intake.consent-changed": on_consent_changed,
        "referrals.referral-made": on_partner_outcome,
        "referrals.referral-updated": on_partner_outcome,
        "referrals.referral-status-changed": on_partner_outcome,
        "referrals.referral-withheld": on_referral_withheld,
        "referrals.rehousing-requested": on_recorded_elsewhere,
        "enforcement.action-taken": on_partner_outcome,
        "enforcement.validity-recorded": on_recorded_elsewhere,
    }
