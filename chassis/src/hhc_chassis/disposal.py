"""Disposing of a case's personal data in one service (policy 3.5.2), the same way in each.

Intake destroys the case's key and announces it (``intake.case-erased``); every service
that keeps personal data in clear then runs its own erasures for the case in the
handler's transaction, clears the personal parts its outbox still holds for the case,
and records what it did on the audit topic (``audit.retention-disposed``: ids and
counts, no content).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import RecordsDisposed
from hhc_contracts.vocabulary import DisposalBasis


@dataclass(frozen=True, slots=True)
class Erasure:
    """One statement that erases or anonymises a kind of record of the case ($1)."""

    kind: str
    """What the count is of, e.g. 'action_notes' (no content, a name for operators)."""
    statement: str
    """UPDATE or DELETE ... WHERE <the case is> $1; its status gives the count."""


OUTBOX_PERSONAL_PARTS = Erasure(
    "outbox_personal_parts",
    # A row published with its part sealed holds nothing readable once the key is gone;
    # a row not yet published (or published before sealing) still holds it in clear.
    """UPDATE outbox
       SET payload = jsonb_set(payload, '{payload,personal}', '{}'::jsonb)
       WHERE message_key = ($1::uuid)::text
         AND payload->'payload'->'personal' IS NOT NULL
         AND payload->'payload'->'personal' <> '{}'::jsonb""",
)


def _count(status: str) -> int:
    # "UPDATE 3", "DELETE 2", "INSERT 0 1"
    return int(status.rsplit(" ", 1)[-1])


async def dispose_of_case(
    connection: asyncpg.Connection,
    *,
    service: str,
    case_id: UUID,
    basis: DisposalBasis,
    erasures: Sequence[Erasure],
    at: datetime,
    cause: Envelope | None = None,
) -> dict[str, int]:
    """Run the service's erasures and the outbox's for the case; record the counts."""
    counts: dict[str, int] = {}
    for erasure in (*erasures, OUTBOX_PERSONAL_PARTS):
        counts[erasure.kind] = _count(await connection.execute(erasure.statement, case_id))
    await enqueue(
        connection,
        [
            new_envelope(
                RecordsDisposed(
                    service=service, case_id=case_id, basis=basis, counts=counts, disposed_at=at
                ),
                case_id=case_id,
                occurred_at=at,
                cause=cause,
                producer=service,
            )
        ],
    )
    return counts
