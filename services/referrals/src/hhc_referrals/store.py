"""Referrals' records and the events that announce them. Every function runs inside the
caller's transaction, so a change and its event are stored together (outbox)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from hhc_chassis.disposal import Erasure
from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ExemptionDecided,
    ReferralConfirmationPersonalData,
    ReferralMade,
    ReferralStatusChanged,
    ReferralUpdated,
    ReferralWithheld,
    RehousingRequested,
)
from hhc_contracts.vocabulary import (
    ConsentGiver,
    ConsentState,
    DeliveryChannel,
    Partner,
    PartnerKind,
    ReferralBasis,
    ReferralStatus,
)
from hhc_referrals.lifecycle import Step, next_status
from hhc_referrals.sharing import PERSONAL_DETAIL_FIELDS

_PERSONAL_KEYS = "ARRAY[" + ", ".join(f"'{name}'" for name in PERSONAL_DETAIL_FIELDS) + "]"

_EVIDENCE_WITHOUT_WORDS = """jsonb_set(
    jsonb_set(evidence, '{incidents}', coalesce(
        (SELECT jsonb_agg(jsonb_set(incident, '{description}', 'null') ORDER BY n)
         FROM jsonb_array_elements(evidence->'incidents') WITH ORDINALITY AS i (incident, n)),
        '[]')),
    '{police_references}', coalesce(
        (SELECT jsonb_agg(jsonb_set(police, '{reference}', '""') ORDER BY n)
         FROM jsonb_array_elements(evidence->'police_references')
              WITH ORDINALITY AS p (police, n)),
        '[]'))"""

ERASURES = (
    # Policy 3.5.2: a case erased at intake (intake.case-erased) keeps nothing here that
    # names or describes a person: the survivor's details and account, what staff wrote
    # (reasons, notes, the actions a meeting agreed), whom they spoke to and the
    # references that lead to a person elsewhere (police incident numbers, partners' and
    # supporting agencies' references). Rows stay, anonymised: ids, partners, statuses,
    # times, bases and who of staff did what are the record of what was shared (3.5.2)
    # and what the monthly report counts. Each statement changes only what is still there.
    Erasure(
        "case_details",
        f"""UPDATE case_details SET details = details - {_PERSONAL_KEYS}::text[]
            WHERE case_id = $1 AND details ?| {_PERSONAL_KEYS}::text[]""",
    ),
    Erasure(
        "incident_descriptions",
        """UPDATE case_incidents SET description = NULL
           WHERE case_id = $1 AND description IS NOT NULL""",
    ),
    Erasure(
        "referral_confirmations",
        """UPDATE referrals
           SET spoke_to = NULL, incident_number = NULL, partner_reference = NULL,
               override_reason = NULL
           WHERE case_id = $1
             AND (spoke_to IS NOT NULL OR incident_number IS NOT NULL
                  OR partner_reference IS NOT NULL OR override_reason IS NOT NULL)""",
    ),
    Erasure(
        "consent_override_reasons",
        "UPDATE consent_overrides SET reason = '' WHERE case_id = $1 AND reason <> ''",
    ),
    Erasure(
        "rehousing_requests",
        f"""UPDATE rehousing_requests SET notes = NULL, evidence = {_EVIDENCE_WITHOUT_WORDS}
            WHERE case_id = $1
              AND (notes IS NOT NULL
                   OR jsonb_path_exists(evidence,
                                        '$.incidents[*].description ? (@ != null)')
                   OR jsonb_path_exists(evidence,
                                        '$.police_references[*].reference ? (@ != "")'))""",
    ),
    Erasure(
        "exemption_requests",
        """UPDATE exemption_requests
           SET reason = '', support_reference = NULL, decision_reason = NULL
           WHERE case_id = $1
             AND (reason <> '' OR support_reference IS NOT NULL OR decision_reason IS NOT NULL)""",
    ),
    Erasure(
        "meeting_actions_agreed",
        """UPDATE multi_agency_meetings SET actions_agreed = '{}'
           WHERE case_id = $1 AND actions_agreed <> '{}'""",
    ),
)
"""What referrals erases of a case (policy 3.5.2); each statement takes the case id ($1)."""


@dataclass(frozen=True, slots=True)
class CaseConsent:
    consent_to_share: ConsentState
    by_partner_kind: Mapping[PartnerKind, ConsentState]
    given_by: ConsentGiver | None


async def load_consent(connection: asyncpg.Connection, case_id: UUID) -> CaseConsent | None:
    row = await connection.fetchrow("SELECT * FROM case_consent WHERE case_id = $1", case_id)
    if row is None:
        return None
    return CaseConsent(
        consent_to_share=ConsentState(row["consent_to_share"]),
        by_partner_kind={
            PartnerKind(kind): ConsentState(state) for kind, state in row["by_partner_kind"].items()
        },
        given_by=ConsentGiver(row["given_by"]) if row["given_by"] else None,
    )


async def store_consent(
    connection: asyncpg.Connection, case_id: UUID, consent: CaseConsent, recorded_at: datetime
) -> None:
    await connection.execute(
        """INSERT INTO case_consent (case_id, consent_to_share, by_partner_kind, given_by,
                                     recorded_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (case_id) DO UPDATE
               SET consent_to_share = EXCLUDED.consent_to_share,
                   by_partner_kind = EXCLUDED.by_partner_kind,
                   given_by = EXCLUDED.given_by, recorded_at = EXCLUDED.recorded_at""",
        case_id,
        consent.consent_to_share.value,
        {kind.value: state.value for kind, state in consent.by_partner_kind.items()},
        consent.given_by.value if consent.given_by else None,
        recorded_at,
    )


async def store_details(
    connection: asyncpg.Connection,
    case_id: UUID,
    details: Mapping[str, object],
    received_at: datetime,
) -> None:
    """Keep the newest details of the case, for the sharing rules."""
    await connection.execute(
        """INSERT INTO case_details (case_id, details, received_at)
           VALUES ($1, $2, $3)
           ON CONFLICT (case_id) DO UPDATE
               SET details = case_details.details || EXCLUDED.details,
                   received_at = EXCLUDED.received_at""",
        case_id,
        dict(details),
        received_at,
    )


async def load_details(connection: asyncpg.Connection, case_id: UUID) -> dict[str, object] | None:
    details = await connection.fetchval(
        "SELECT details FROM case_details WHERE case_id = $1", case_id
    )
    return None if details is None else dict(details)


async def covered_actions(connection: asyncpg.Connection, referral_id: UUID) -> list[UUID]:
    return [
        row["action_id"]
        for row in await connection.fetch(
            "SELECT action_id FROM referral_actions WHERE referral_id = $1 ORDER BY linked_at",
            referral_id,
        )
    ]


class StepNotAllowed(Exception):
    def __init__(self, status: ReferralStatus, step: Step) -> None:
        super().__init__(f"a referral that is {status.value} cannot be {step.value}")
        self.status = status
        self.step = step


async def move(
    connection: asyncpg.Connection,
    referral: asyncpg.Record,
    step: Step,
    *,
    at: datetime,
    cause: Envelope | None,
    note: str | None = None,
    columns: Mapping[str, object] | None = None,
    announce: bool = True,
) -> ReferralStatus:
    """Apply ``step`` to ``referral`` (a row read FOR UPDATE), store the new status and
    any ``columns``, and announce the change (unless it is announced otherwise)."""
    previous = ReferralStatus(referral["status"])
    status = next_status(previous, step)
    if status is None:
        raise StepNotAllowed(previous, step)
    values = {"status": status.value, "updated_at": at, **(columns or {})}
    assignments = ", ".join(f"{name} = ${index + 2}" for index, name in enumerate(values))
    await connection.execute(
        f"UPDATE referrals SET {assignments} WHERE referral_id = $1",
        referral["referral_id"],
        *values.values(),
    )
    if announce and status is not previous:
        await enqueue(
            connection,
            [
                envelope_of(
                    ReferralStatusChanged(
                        referral_id=referral["referral_id"],
                        case_id=referral["case_id"],
                        action_id=referral["action_id"],
                        partner=Partner(referral["partner"]),
                        status=status,
                        previous_status=previous,
                        note=note,
                        changed_at=at,
                    ),
                    cause,
                )
            ],
        )
    return status


async def mark_sent(
    connection: asyncpg.Connection,
    referral: asyncpg.Record,
    step: Step,
    *,
    at: datetime,
    channel: DeliveryChannel,
    shared_fields: Sequence[str],
    shared_by: str,
    acknowledge_by: datetime | None,
    detail: str,
    confirmation: ReferralConfirmationPersonalData | None = None,
    confirmed_by: str | None = None,
    called_at: datetime | None = None,
    cause: Envelope | None = None,
) -> None:
    """The deed: the partner has it. Record what was shared, when and by whom, and only
    now publish referral-made, answering every action the referral covers."""
    columns: dict[str, object] = {
        "sent_at": at,
        "channel": channel.value,
        "shared_fields": list(shared_fields),
        "shared_by": shared_by,
        "acknowledge_by": acknowledge_by,
        "delivery_detail": detail,
        "next_attempt_at": None,
        "last_error": None,
    }
    if confirmed_by is not None:
        columns |= {
            "confirmed_by": confirmed_by,
            "called_at": called_at,
            "spoke_to": confirmation.spoke_to if confirmation else None,
            "incident_number": confirmation.incident_number if confirmation else None,
        }
    await move(connection, referral, step, at=at, cause=cause, columns=columns, announce=False)
    actions = await covered_actions(connection, referral["referral_id"])
    override_by = await connection.fetchval(
        """SELECT overridden_by FROM consent_overrides WHERE referral_id = $1
           ORDER BY overridden_at DESC LIMIT 1""",
        referral["referral_id"],
    )
    made = ReferralMade(
        referral_id=referral["referral_id"],
        case_id=referral["case_id"],
        action_id=referral["action_id"],
        partner=Partner(referral["partner"]),
        basis=ReferralBasis(referral["basis"]),
        made_at=at,
        channel=channel,
        shared_fields=list(shared_fields),
        covers_action_ids=[action for action in actions if action != referral["action_id"]],
        confirmed_by=confirmed_by,
        override_by=override_by,
        personal=confirmation or ReferralConfirmationPersonalData(),
    )
    await enqueue(connection, [envelope_of(made, cause)])


def envelope_of(
    payload: ReferralMade
    | ReferralWithheld
    | ReferralStatusChanged
    | ReferralUpdated
    | RehousingRequested
    | ExemptionDecided,
    cause: Envelope | None,
) -> Envelope:
    """A referrals event, caused by ``cause`` (None: by staff or by the delivery worker)."""
    match payload:
        case ReferralMade():
            at = payload.made_at
        case ReferralWithheld():
            at = payload.withheld_at
        case ReferralStatusChanged():
            at = payload.changed_at
        case ReferralUpdated():
            at = payload.updated_at
        case RehousingRequested():
            at = payload.requested_at
        case ExemptionDecided():
            at = payload.decided_at
    return new_envelope(payload, case_id=payload.case_id, occurred_at=at, cause=cause)
