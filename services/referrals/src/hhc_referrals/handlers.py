"""Referrals' handlers: the lifecycle decides (pure), one transaction stores and emits.

Nothing here sends anything: a referral that may go is made *ready*, and the delivery
worker (or a member of staff, by telephone) carries it out.
"""

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from hhc_chassis.consumer import Handler, Selective
from hhc_chassis.db import Write, write_together
from hhc_chassis.disposal import dispose_of_case
from hhc_chassis.outbox import enqueue, staged
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ActionRequired,
    CaseErased,
    ConsentChanged,
    ReferralStatusChanged,
    ReferralUpdated,
    ReferralWithheld,
    ReportReceived,
    RiskAssessed,
)
from hhc_contracts.vocabulary import (
    ConsentState,
    DeliveryChannel,
    Executor,
    Partner,
    PartnerKind,
    ReferralBasis,
    ReferralStatus,
)
from hhc_referrals.catalogue import PartnerCatalogue
from hhc_referrals.lifecycle import (
    NOT_YET_SENT,
    OPEN_STATUSES,
    Step,
    consent_for,
    joins_open_referral,
    open_referral,
    seek_consent_by,
)
from hhc_referrals.sharing import case_details, has_value
from hhc_referrals.store import (
    ERASURES,
    CaseConsent,
    envelope_of,
    load_consent,
    move,
    store_consent,
    store_details,
)


def is_for_referrals(action: ActionRequired) -> bool:
    """A referral to a partner. An executor the vocabulary does not know is not this
    service: doing its action here would be a step nobody asked for. Left open, risk
    escalates it when overdue."""
    return action.carried_out_by is Executor.REFERRALS and action.partner is not None


def handlers(
    catalogue: PartnerCatalogue, *, seek_consent_after: timedelta, deadline_scale: float
) -> dict[str, Handler]:
    async def on_action_required(
        connection: asyncpg.Connection, envelope: Envelope, action: ActionRequired
    ) -> None:
        if not is_for_referrals(action) or action.partner is None:
            return
        now = datetime.now(UTC)
        entry = catalogue.get(action.partner)
        # The one not yet sent first (there is at most one), else the newest sent.
        open_one = await connection.fetchrow(
            """SELECT * FROM referrals WHERE case_id = $1 AND partner = $2
                   AND status = ANY($3::text[])
               ORDER BY status = ANY($4::text[]) DESC, decided_at DESC LIMIT 1 FOR UPDATE""",
            action.case_id,
            action.partner.value,
            [status.value for status in OPEN_STATUSES],
            [status.value for status in NOT_YET_SENT],
        )
        if open_one is not None and joins_open_referral(
            ReferralStatus(open_one["status"]),
            entry.kind if entry else None,
            immediate_danger=action.immediate_danger,
        ):
            await _join_open_referral(connection, open_one, action, now, envelope)
            return
        consent = await load_consent(connection, action.case_id) or CaseConsent(
            action.consent_to_share, {}, None
        )
        kind = entry.kind if entry else None
        opening = open_referral(
            consent=consent_for(kind, consent.consent_to_share, consent.by_partner_kind)
            if kind
            else consent.consent_to_share,
            immediate_danger=action.immediate_danger,
            may_share_without_consent=bool(entry and entry.lawful_basis_without_consent),
        )
        referral_id = uuid.uuid4()
        seek_by = (
            seek_consent_by(now, seek_consent_after, deadline_scale)
            if opening.status is ReferralStatus.PENDING_CONSENT and not opening.override_proposed
            else None
        )
        opened: list[Write] = [
            (
                """INSERT INTO referrals (referral_id, case_id, action_id, partner,
                                         partner_kind, channel, status, basis,
                                         withheld_reason, immediate_danger, override_proposed,
                                         seek_consent_by, decided_at, next_attempt_at,
                                         last_error, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14,
                           $13)""",
                (
                    referral_id,
                    action.case_id,
                    action.action_id,
                    action.partner.value,
                    kind.value if kind else None,
                    entry.channel.value if entry else None,
                    opening.status.value,
                    opening.basis.value if opening.basis else None,
                    opening.reason,
                    action.immediate_danger,
                    opening.override_proposed,
                    seek_by,
                    now,
                    None if entry else "partner-not-in-catalogue",
                ),
            ),
            (
                """INSERT INTO referral_actions (action_id, referral_id, linked_at)
                   VALUES ($1, $2, $3)""",
                (action.action_id, referral_id, now),
            ),
        ]
        if opening.status is ReferralStatus.READY:
            # Nothing is sent yet: the delivery worker sends it, or, by telephone, a named
            # member of staff calls. Say it waits, for whoever watches the case (the
            # action's clock runs meanwhile).
            telephone = entry is not None and entry.channel is DeliveryChannel.TELEPHONE
            awaiting = ReferralStatusChanged(
                referral_id=referral_id,
                case_id=action.case_id,
                action_id=action.action_id,
                partner=action.partner,
                status=ReferralStatus.READY,
                previous_status=ReferralStatus.READY,
                note="awaiting-call" if telephone else "awaiting-delivery",
                changed_at=now,
            )
            opened.append(staged([envelope_of(awaiting, envelope)]))
        if opening.status is ReferralStatus.PENDING_CONSENT:
            withheld = ReferralWithheld(
                referral_id=referral_id,
                case_id=action.case_id,
                action_id=action.action_id,
                partner=action.partner,
                reason=opening.reason or "awaiting consent (3.5.2)",
                withheld_at=now,
                seek_consent_by=seek_by,
                override_proposed=opening.override_proposed,
            )
            opened.append(staged([envelope_of(withheld, envelope)]))
        # The referral, the action it answers and what is said of it, in one round trip.
        await write_together(connection, opened)

    async def on_report_received(
        connection: asyncpg.Connection, envelope: Envelope, report: ReportReceived
    ) -> None:
        """Keep what the sharing rules may need, and the case's consent as intake has it
        after this report (a report silent on consent leaves it as it was)."""
        # A further report adds what it says; what it leaves out stays as it was.
        details = {name: value for name, value in case_details(report).items() if has_value(value)}
        await store_details(connection, report.case_id, details, report.received_at)
        await _apply_consent(
            connection,
            report.case_id,
            CaseConsent(
                report.consent_to_share, report.consent_by_partner_kind, report.consent_given_by
            ),
            at=report.received_at,
            cause=envelope,
        )
        await _keep_incident(connection, report)

    async def on_consent_changed(
        connection: asyncpg.Connection, envelope: Envelope, change: ConsentChanged
    ) -> None:
        """Consent can change at any time (3.5.2): given, it releases what waited for it;
        withdrawn, it stops what was not yet sent."""
        await _apply_consent(
            connection,
            change.case_id,
            CaseConsent(change.consent_to_share, change.by_partner_kind, change.given_by),
            at=change.changed_at,
            cause=envelope,
        )

    async def _apply_consent(
        connection: asyncpg.Connection,
        case_id: UUID,
        consent: CaseConsent,
        *,
        at: datetime,
        cause: Envelope,
    ) -> None:
        await store_consent(connection, case_id, consent, at)
        referrals = await connection.fetch(
            """SELECT * FROM referrals WHERE case_id = $1 AND status = ANY($2::text[])
               ORDER BY decided_at FOR UPDATE""",
            case_id,
            [status.value for status in OPEN_STATUSES],
        )
        for referral in referrals:
            kind = PartnerKind(referral["partner_kind"]) if referral["partner_kind"] else None
            state = (
                consent_for(kind, consent.consent_to_share, consent.by_partner_kind)
                if kind
                else consent.consent_to_share
            )
            status = ReferralStatus(referral["status"])
            given_for_this = state is ConsentState.GIVEN
            if status is ReferralStatus.PENDING_CONSENT and given_for_this:
                await move(
                    connection,
                    referral,
                    Step.CONSENT_GIVEN,
                    at=at,
                    cause=cause,
                    columns={
                        "basis": ReferralBasis.CONSENT.value,
                        "withheld_reason": None,
                        "seek_consent_by": None,
                        "next_attempt_at": at,
                    },
                )
            elif (
                state is ConsentState.REFUSED
                and status is ReferralStatus.READY
                # An override was made knowing consent was refused (3.5.2).
                and referral["basis"] == ReferralBasis.CONSENT.value
            ):
                await move(connection, referral, Step.CONSENT_WITHDRAWN, at=at, cause=cause)
            elif (
                state is ConsentState.REFUSED
                and status not in NOT_YET_SENT
                and referral["basis"] == ReferralBasis.CONSENT.value
                and referral["withdrawal_noted_at"] is None
            ):
                # What was sent cannot be recalled: say so, once.
                await _note_not_recalled(connection, referral, at, cause)

    return {
        "risk.action-required": Selective(on_action_required, concerns=is_for_referrals),
        "intake.report-received": on_report_received,
        "intake.consent-changed": on_consent_changed,
        "risk.risk-assessed": on_risk_assessed,
        "intake.case-erased": on_case_erased,
    }


async def on_case_erased(
    connection: asyncpg.Connection, envelope: Envelope, erased: CaseErased
) -> None:
    """Intake erased the case (3.5.2): what referrals keeps of it in words goes, here and
    in the outbox, and the audit is told how much. Referrals of the case stay, and may
    still be made: a partner then gets the case's reference and what kind of case it is,
    to contact the landlord, and nothing personal (the report's part is gone)."""
    await dispose_of_case(
        connection,
        service="referrals",
        case_id=erased.case_id,
        basis=erased.basis,
        erasures=ERASURES,
        at=datetime.now(UTC),
        cause=envelope,
    )


# Rehousing evidence (3.3.2): each incident and each assessment of a case, with its date.


async def _keep_incident(connection: asyncpg.Connection, report: ReportReceived) -> None:
    await connection.execute(
        """INSERT INTO case_incidents (report_id, case_id, occurred_at, received_at, categories,
                                       description)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (report_id) DO NOTHING""",
        report.report_id,
        report.case_id,
        report.incident_occurred_at,
        report.received_at,
        [category.value for category in report.categories],
        report.personal.description,
    )


async def on_risk_assessed(
    connection: asyncpg.Connection, envelope: Envelope, assessment: RiskAssessed
) -> None:
    await connection.execute(
        """INSERT INTO case_assessments (assessment_id, case_id, risk_level, assessed_at)
           VALUES ($1, $2, $3, $4) ON CONFLICT (assessment_id) DO NOTHING""",
        assessment.assessment_id,
        assessment.case_id,
        assessment.risk_level.value,
        assessment.assessed_at,
    )


async def _join_open_referral(
    connection: asyncpg.Connection,
    referral: asyncpg.Record,
    action: ActionRequired,
    now: datetime,
    cause: Envelope,
) -> None:
    """A further action for a partner the case already has an open referral to: the
    referral answers it too (updated, not repeated)."""
    linked = await connection.fetchval(
        """INSERT INTO referral_actions (action_id, referral_id, linked_at) VALUES ($1, $2, $3)
           ON CONFLICT (action_id) DO NOTHING RETURNING true""",
        action.action_id,
        referral["referral_id"],
        now,
    )
    if not linked:
        return
    await connection.execute(
        "UPDATE referrals SET updated_at = $2 WHERE referral_id = $1", referral["referral_id"], now
    )
    updated = ReferralUpdated(
        referral_id=referral["referral_id"],
        case_id=action.case_id,
        action_id=action.action_id,
        partner=Partner(referral["partner"]),
        status=ReferralStatus(referral["status"]),
        updated_at=now,
    )
    await enqueue(connection, [envelope_of(updated, cause)])


async def _note_not_recalled(
    connection: asyncpg.Connection, referral: asyncpg.Record, at: datetime, cause: Envelope
) -> None:
    await connection.execute(
        "UPDATE referrals SET withdrawal_noted_at = $2, updated_at = $2 WHERE referral_id = $1",
        referral["referral_id"],
        at,
    )
    status = ReferralStatus(referral["status"])
    noted = ReferralStatusChanged(
        referral_id=referral["referral_id"],
        case_id=referral["case_id"],
        action_id=referral["action_id"],
        partner=Partner(referral["partner"]),
        status=status,
        previous_status=status,
        note="not-recalled",
        changed_at=at,
    )
    await enqueue(connection, [envelope_of(noted, cause)])
