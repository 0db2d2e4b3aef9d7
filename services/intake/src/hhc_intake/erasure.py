"""Erasing a case's personal data (policy 3.5.2): on the survivor's request, by the data
protection officer, or when its retention period ends (:mod:`retention_schedule`); and
the legal holds that stop both.

One transaction does it all: the case's key is destroyed (every sealed copy of its
personal data, wherever it is, becomes unreadable), the erasure is recorded, every
personal value intake keeps in clear for the case is erased (:data:`INTAKE_ERASURES`,
then the outbox's, by :func:`hhc_chassis.disposal.dispose_of_case`, which records the
counts on the audit topic), and ``intake.case-erased`` tells every other service to do
the same. The case itself stays, with its reference, status, track, team, dates and
structured facts (categories, motivation, consent states), so reports and counts hold;
nothing left names or describes a person.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from hhc_chassis.disposal import Erasure, dispose_of_case
from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import BackgroundTask, Runtime
from hhc_chassis.work import poll_rounds
from hhc_contracts.v1 import CaseErased
from hhc_contracts.vocabulary import DisposalBasis
from hhc_intake.case_keys import destroy_case_key
from hhc_intake.lifecycle_store import NoSuchCase
from hhc_intake.retention_schedule import (
    RetentionFacts,
    RetentionKind,
    RetentionSchedule,
    disposal_due,
    retention_kind,
)
from hhc_intake.settings import IntakeSettings

log = logging.getLogger(__name__)

SERVICE = "intake"
RETENTION_SCHEDULE = "retention-schedule"
"""Who asked, for an erasure at the end of a retention period."""

_NO_ACCESS_NEEDS = (
    '{"preferred_contact_method": null, "safe_contact_method": null, '
    '"safe_contact_times": null, "language": null, "interpreter_needed": false, '
    '"british_sign_language": false, "accessible_formats": []}'
)

INTAKE_ERASURES: tuple[Erasure, ...] = (
    # The reports as given: every name, contact, address and word of the people in them.
    # What stays still reads as a report (its categories, motivation, vulnerabilities,
    # perpetrators' kinds, consent states), so the routes and the track rules still work.
    Erasure(
        "reports",
        f"""UPDATE reports SET body = body || jsonb_build_object(
               'reporter', coalesce(body -> 'reporter', '{{}}'::jsonb)
                           || '{{"name": null, "contact": null}}'::jsonb,
               'survivor', coalesce(body -> 'survivor', '{{}}'::jsonb)
                           || jsonb_build_object('name', NULL, 'phone', NULL, 'email', NULL,
                                                 'tenancy_reference', NULL,
                                                 'access', '{_NO_ACCESS_NEEDS}'::jsonb),
               'witnesses', '[]'::jsonb,
               'alleged_perpetrators',
                   (SELECT coalesce(jsonb_agg(p || '{{"description": null}}'::jsonb
                                              ORDER BY n), '[]'::jsonb)
                    FROM jsonb_array_elements(coalesce(body -> 'alleged_perpetrators',
                                                       '[]'::jsonb))
                         WITH ORDINALITY AS given (p, n)),
               'incident', coalesce(body -> 'incident', '{{}}'::jsonb)
                           || '{{"description": null, "location": null}}'::jsonb,
               'consent', coalesce(body -> 'consent', '{{}}'::jsonb)
                          || '{{"recorded_by": null}}'::jsonb)
           WHERE case_id = $1""",
    ),
    Erasure(
        "consent_recorders",
        "UPDATE consents SET recorded_by = NULL WHERE case_id = $1 AND recorded_by IS NOT NULL",
    ),
    # Staff's words about the case: why it closed, to whom it went, why its track changed.
    Erasure(
        "closure_details",
        """UPDATE cases SET closure_detail = NULL
           WHERE case_id = $1 AND closure_detail IS NOT NULL""",
    ),
    Erasure(
        "pending_closure_details",
        """UPDATE closure_requests SET detail = NULL
           WHERE case_id = $1 AND detail IS NOT NULL""",
    ),
    Erasure(
        "track_change_reasons",
        """UPDATE case_track_changes SET reason = NULL
           WHERE case_id = $1 AND reason IS NOT NULL""",
    ),
    # The survivor's own words in the satisfaction survey (5.1); the scores stay.
    Erasure(
        "survey_comments",
        """UPDATE satisfaction_answers a SET comments = NULL
           FROM satisfaction_surveys s
           WHERE s.survey_id = a.survey_id AND s.case_id = $1 AND a.comments IS NOT NULL""",
    ),
    # An offer not yet answered is withdrawn: nobody is to be mailed or sent a link for a
    # case whose contact details are gone. A mail server's answer may name the address.
    Erasure(
        "survey_offers",
        """UPDATE satisfaction_surveys
           SET next_attempt_at = 'infinity', last_error = NULL,
               expires_at = CASE WHEN answered_at IS NULL
                                 THEN least(coalesce(expires_at, now()), now())
                                 ELSE expires_at END
           WHERE case_id = $1 AND (answered_at IS NULL OR last_error IS NOT NULL)""",
    ),
)
"""Every personal value intake keeps in clear for a case. Kept: staff's account ids where
they say who did what (owner, closed_by, changed_by: the case's accountability), and the
status code's hash (not personal)."""


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    case_id: UUID
    basis: DisposalBasis
    reason: str
    requested_by: str
    erased_at: datetime


@dataclass(frozen=True, slots=True)
class Erased:
    record: ErasureRecord
    new: bool
    """False: the case was erased before; nothing was done again."""


@dataclass(frozen=True, slots=True)
class LegalHold:
    id: UUID
    case_id: UUID
    reason: str
    placed_by: str
    placed_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class UnderLegalHold(Exception):
    def __init__(self, holds: list[LegalHold]) -> None:
        super().__init__(f"{len(holds)} active legal hold(s)")
        self.holds = holds


class CaseErasedAlready(Exception):
    """Nothing is left to hold."""


def _record(row: asyncpg.Record) -> ErasureRecord:
    return ErasureRecord(
        case_id=row["case_id"],
        basis=DisposalBasis(row["basis"]),
        reason=row["reason"],
        requested_by=row["requested_by"],
        erased_at=row["erased_at"],
    )


def _hold(row: asyncpg.Record) -> LegalHold:
    return LegalHold(**{name: row[name] for name in LegalHold.__dataclass_fields__})


async def _lock_case(connection: asyncpg.Connection, case_id: UUID) -> None:
    """Erasures and holds of one case, one at a time: a hold placed while an erasure runs
    is seen by it, or waits for it and finds the case erased."""
    if not await connection.fetchval(
        "SELECT true FROM cases WHERE case_id = $1 FOR UPDATE", case_id
    ):
        raise NoSuchCase(case_id)


async def erasure_of(connection: asyncpg.Connection, case_id: UUID) -> ErasureRecord | None:
    row = await connection.fetchrow("SELECT * FROM case_erasures WHERE case_id = $1", case_id)
    return _record(row) if row else None


async def holds_of(
    connection: asyncpg.Connection, case_id: UUID, *, active_only: bool = False
) -> list[LegalHold]:
    rows = await connection.fetch(
        """SELECT * FROM legal_holds WHERE case_id = $1 AND (NOT $2 OR lifted_at IS NULL)
           ORDER BY placed_at, id""",
        case_id,
        active_only,
    )
    return [_hold(row) for row in rows]


async def erase_case(
    connection: asyncpg.Connection,
    case_id: UUID,
    *,
    basis: DisposalBasis,
    reason: str,
    requested_by: str,
    at: datetime,
) -> Erased:
    """Erase the case's personal data, in the caller's transaction; once only (a second
    request gets the first's record). Refused while a legal hold is active."""
    await _lock_case(connection, case_id)
    earlier = await erasure_of(connection, case_id)
    if earlier is not None:
        return Erased(earlier, new=False)
    holds = await holds_of(connection, case_id, active_only=True)
    if holds:
        raise UnderLegalHold(holds)
    await destroy_case_key(connection, case_id, basis, at=at)
    record = ErasureRecord(
        case_id=case_id, basis=basis, reason=reason, requested_by=requested_by, erased_at=at
    )
    await connection.execute(
        """INSERT INTO case_erasures (case_id, basis, reason, requested_by, erased_at)
           VALUES ($1, $2, $3, $4, $5)""",
        case_id,
        basis.value,
        reason,
        requested_by,
        at,
    )
    erased = new_envelope(
        CaseErased(case_id=case_id, basis=basis, erased_at=at), case_id=case_id, occurred_at=at
    )
    await enqueue(connection, [erased])
    counts = await dispose_of_case(
        connection,
        service=SERVICE,
        case_id=case_id,
        basis=basis,
        erasures=INTAKE_ERASURES,
        at=at,
        cause=erased,
    )
    log.info(
        "case erased",
        extra={"case_id": str(case_id), "basis": basis.value, "counts": counts},
    )
    return Erased(record, new=True)


async def place_hold(
    connection: asyncpg.Connection, case_id: UUID, *, reason: str, placed_by: str, at: datetime
) -> LegalHold:
    await _lock_case(connection, case_id)
    if await erasure_of(connection, case_id) is not None:
        raise CaseErasedAlready(case_id)
    row = await connection.fetchrow(
        """INSERT INTO legal_holds (id, case_id, reason, placed_by, placed_at)
           VALUES ($1, $2, $3, $4, $5) RETURNING *""",
        uuid.uuid4(),
        case_id,
        reason,
        placed_by,
        at,
    )
    return _hold(row)


async def lift_hold(
    connection: asyncpg.Connection, case_id: UUID, hold_id: UUID, *, lifted_by: str, at: datetime
) -> LegalHold | None:
    """Lift the hold; one lifted already stays as it was. None: no such hold of the case."""
    await _lock_case(connection, case_id)
    row = await connection.fetchrow(
        """UPDATE legal_holds SET lifted_by = coalesce(lifted_by, $3),
                                  lifted_at = coalesce(lifted_at, $4)
           WHERE id = $1 AND case_id = $2 RETURNING *""",
        hold_id,
        case_id,
        lifted_by,
        at,
    )
    return _hold(row) if row else None


# ----------------------------------------------------------------- retention schedule

_DUE = """
SELECT c.case_id, c.closed_at,
       coalesce(a.survivor_is_staff, false) AS survivor_is_staff,
       coalesce((SELECT bool_and(r.reporter_role = 'anonymous') FROM reports r
                 WHERE r.case_id = c.case_id), false) AS every_report_anonymous
FROM cases c
LEFT JOIN case_access a USING (case_id)
WHERE c.status = 'closed' AND c.closed_at <= $1::timestamptz
  AND NOT EXISTS (SELECT FROM case_erasures e WHERE e.case_id = c.case_id)
  AND NOT EXISTS (SELECT FROM legal_holds h WHERE h.case_id = c.case_id AND h.lifted_at IS NULL)
  AND c.case_id <> ALL($5::uuid[])
  AND c.closed_at <= CASE
        WHEN coalesce(a.survivor_is_staff, false) THEN $2::timestamptz
        WHEN coalesce((SELECT bool_and(r.reporter_role = 'anonymous') FROM reports r
                       WHERE r.case_id = c.case_id), false) THEN $3::timestamptz
        ELSE $4::timestamptz END
ORDER BY c.closed_at
LIMIT $6
FOR UPDATE OF c SKIP LOCKED
"""
"""Closed cases past their period, unerased and not held, oldest first; a case another
replica is erasing is passed by. The CASE mirrors :func:`retention_kind`, so the batch
holds due cases only; each is checked against the pure rule all the same."""


async def dispose_due_cases(
    pool: asyncpg.Pool, settings: IntakeSettings, now: datetime, *, batch_size: int = 10
) -> int:
    """One pass of the retention schedule (3.5.2): erase every closed case past its
    retention period, as the data protection officer's erasure does, a small batch per
    transaction; how many were erased."""
    schedule = RetentionSchedule.from_settings(settings)
    before = schedule.closed_before(now)
    disposed = 0
    passed_by: list[UUID] = []
    while True:
        async with pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                _DUE,
                max(before.values()),
                before[RetentionKind.STAFF_CASE],
                before[RetentionKind.ANONYMOUS_CASE],
                before[RetentionKind.CLOSED_CASE],
                passed_by,
                batch_size,
            )
            if not rows:
                return disposed
            for row in rows:
                case_id = row["case_id"]
                facts = RetentionFacts(
                    closed_at=row["closed_at"],
                    survivor_is_staff=row["survivor_is_staff"],
                    every_report_anonymous=row["every_report_anonymous"],
                    under_legal_hold=False,
                    erased=False,
                )
                if not disposal_due(facts, schedule, now):
                    log.error("retention query and rule disagree", extra={"case_id": str(case_id)})
                    passed_by.append(case_id)
                    continue
                try:
                    # A savepoint: a hold placed since the query leaves the others to go.
                    async with connection.transaction():
                        erased = await erase_case(
                            connection,
                            case_id,
                            basis=DisposalBasis.RETENTION_SCHEDULE,
                            reason=f"retention period of a {facts_kind(facts).value} ended "
                            f"(3.5.2); closed {facts.closed_at:%Y-%m-%d}",
                            requested_by=RETENTION_SCHEDULE,
                            at=now,
                        )
                except UnderLegalHold:
                    passed_by.append(case_id)
                    continue
                disposed += int(erased.new)


def facts_kind(facts: RetentionFacts) -> RetentionKind:
    return retention_kind(
        survivor_is_staff=facts.survivor_is_staff,
        every_report_anonymous=facts.every_report_anonymous,
    )


def retention_schedule(settings: IntakeSettings) -> BackgroundTask:
    """The background task: a pass every RETENTION_CHECK_INTERVAL_SECONDS (at once again
    while a pass found cases). Replicas share the work (SKIP LOCKED)."""

    async def run_retention_schedule(runtime: Runtime) -> None:
        await poll_rounds(
            lambda: dispose_due_cases(runtime.pool, settings, datetime.now(UTC)),
            poll_seconds=settings.retention_check_interval_seconds,
            work="retention schedule",
        )

    return run_retention_schedule
