"""Referrals' handlers: the consent gate decides, one transaction stores and emits."""

import uuid
from datetime import UTC, datetime

import asyncpg

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import ActionRequired, ConsentChanged, ReferralMade, ReferralWithheld
from hhc_contracts.vocabulary import ConsentState, Executor, ReferralBasis
from hhc_referrals.consent import OVERRIDE_RECORDED_BY, Share, consent_gate


async def on_action_required(
    connection: asyncpg.Connection, envelope: Envelope, action: ActionRequired
) -> None:
    # An executor the vocabulary does not know is not this service: doing its action here
    # would be a step nobody asked for. Left open, risk escalates it when it is overdue.
    if action.carried_out_by is not Executor.REFERRALS or action.partner is None:
        return
    decision = consent_gate(
        partner=action.partner,
        consent=action.consent_to_share,
        immediate_danger=action.immediate_danger,
    )
    referral_id = uuid.uuid4()
    decided_at = datetime.now(UTC)
    event: ReferralMade | ReferralWithheld
    if isinstance(decision, Share):
        event = ReferralMade(
            referral_id=referral_id,
            case_id=action.case_id,
            action_id=action.action_id,
            partner=action.partner,
            basis=decision.basis,
            made_at=decided_at,
        )
    else:
        event = ReferralWithheld(
            referral_id=referral_id,
            case_id=action.case_id,
            action_id=action.action_id,
            partner=action.partner,
            reason=decision.reason,
            withheld_at=decided_at,
        )
    overridden = isinstance(decision, Share) and decision.override_reason is not None
    await connection.execute(
        """INSERT INTO referrals (referral_id, case_id, action_id, partner, status, basis,
                                  withheld_reason, override_by, override_reason, decided_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        referral_id,
        action.case_id,
        action.action_id,
        action.partner.value,
        "made" if isinstance(decision, Share) else "withheld",
        decision.basis.value if isinstance(decision, Share) else None,
        None if isinstance(decision, Share) else decision.reason,
        OVERRIDE_RECORDED_BY if overridden else None,
        decision.override_reason if isinstance(decision, Share) else None,
        decided_at,
    )
    await enqueue(
        connection,
        [new_envelope(event, case_id=action.case_id, occurred_at=decided_at, cause=envelope)],
    )


async def on_consent_changed(
    connection: asyncpg.Connection, envelope: Envelope, change: ConsentChanged
) -> None:
    """Consent given later releases the referrals withheld for want of it (3.5.2); an
    unknown consent state is not consent given."""
    if change.consent_to_share is not ConsentState.GIVEN:
        return
    withheld = await connection.fetch(
        """UPDATE referrals SET status = 'made', basis = $2, decided_at = $3,
                                withheld_reason = NULL
           WHERE case_id = $1 AND status = 'withheld'
           RETURNING referral_id, action_id, partner""",
        change.case_id,
        ReferralBasis.CONSENT.value,
        change.changed_at,
    )
    await enqueue(
        connection,
        [
            new_envelope(
                ReferralMade(
                    referral_id=row["referral_id"],
                    case_id=change.case_id,
                    action_id=row["action_id"],
                    partner=row["partner"],
                    basis=ReferralBasis.CONSENT,
                    made_at=change.changed_at,
                ),
                case_id=change.case_id,
                occurred_at=change.changed_at,
                cause=envelope,
            )
            for row in withheld
        ],
    )
