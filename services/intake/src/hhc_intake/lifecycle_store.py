"""The case lifecycle's storage: load the case (locked), decide (:mod:`hhc_intake.lifecycle`),
store and stage the event, all in the caller's transaction."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.submission import ReportSubmitted
from hhc_contracts.v1 import (
    CaseOwnerAssigned,
    CaseStatusChanged,
    CaseStatusPersonalData,
    CaseTrackChanged,
    TrackChangePersonalData,
)
from hhc_contracts.vocabulary import CaseStatus, ClosureReason, RiskLevel, Track
from hhc_intake.domain import routing_facts
from hhc_intake.lifecycle import (
    Closure,
    ClosureRequest,
    check_agreement,
    decide_closure,
    next_status,
    refuse_if_closed,
    status_of,
    track_after,
)
from hhc_intake.risk_projection import newest_risk_level

INTAKE = "intake"
"""``changed_by`` of a change no member of staff made (a system's further report)."""


class NoSuchCase(Exception):
    pass


async def locked_case(connection: asyncpg.Connection, case_id: UUID) -> asyncpg.Record:
    case = await connection.fetchrow("SELECT * FROM cases WHERE case_id = $1 FOR UPDATE", case_id)
    if case is None:
        raise NoSuchCase(case_id)
    return case


async def status_changed(
    connection: asyncpg.Connection,
    case_id: UUID,
    *,
    status: CaseStatus,
    previous: CaseStatus,
    changed_by: str,
    changed_at: datetime,
    closure_reason: ClosureReason | None = None,
    agreed_by: str | None = None,
    detail: str | None = None,
    cause: Envelope | None = None,
) -> Envelope:
    """Set the case's status, keep the change in its history, and stage its event (the
    caller enqueues it, with whatever else the change caused)."""
    await connection.execute(
        "UPDATE cases SET status = $2 WHERE case_id = $1", case_id, status.value
    )
    await connection.execute(
        """INSERT INTO case_status_changes (case_id, status, previous_status, closure_reason,
                                            changed_by, agreed_by, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        case_id,
        status.value,
        previous.value,
        closure_reason.value if closure_reason else None,
        changed_by,
        agreed_by,
        changed_at,
    )
    event = CaseStatusChanged(
        case_id=case_id,
        status=status,
        previous_status=previous,
        closure_reason=closure_reason,
        changed_by=changed_by,
        agreed_by=agreed_by,
        risk_level=await newest_risk_level(connection, case_id),
        changed_at=changed_at,
        personal=CaseStatusPersonalData(reason_detail=detail),
    )
    return new_envelope(event, case_id=case_id, occurred_at=changed_at, cause=cause)


async def reopen(
    connection: asyncpg.Connection, case_id: UUID, *, changed_by: str, changed_at: datetime
) -> Envelope:
    """A closed case opens again; its closure stays in its history. Risk starts planning
    what is still needed afresh."""
    await _forget_closure(connection, case_id)
    return await status_changed(
        connection,
        case_id,
        status=CaseStatus.REOPENED,
        previous=CaseStatus.CLOSED,
        changed_by=changed_by,
        changed_at=changed_at,
    )


async def resume(
    connection: asyncpg.Connection, case_id: UUID, *, changed_by: str, changed_at: datetime
) -> Envelope:
    """A case awaiting closure is back in progress; the closure asked for lapses."""
    await connection.execute("DELETE FROM closure_requests WHERE case_id = $1", case_id)
    return await status_changed(
        connection,
        case_id,
        status=CaseStatus.IN_PROGRESS,
        previous=CaseStatus.AWAITING_CLOSURE,
        changed_by=changed_by,
        changed_at=changed_at,
    )


async def _forget_closure(connection: asyncpg.Connection, case_id: UUID) -> None:
    await connection.execute(
        """UPDATE cases SET closed_at = NULL, closed_by = NULL, closure_reason = NULL,
                            closure_agreed_by = NULL, closure_detail = NULL,
                            closure_contact_attempts = '{}'
           WHERE case_id = $1""",
        case_id,
    )
    await connection.execute("DELETE FROM closure_requests WHERE case_id = $1", case_id)


async def change_status(
    connection: asyncpg.Connection,
    case_id: UUID,
    wanted: CaseStatus,
    *,
    changed_by: str,
    changed_at: datetime,
) -> CaseStatusChanged | None:
    """Staff move the case along; None when it was there already."""
    case = await locked_case(connection, case_id)
    current = status_of(case["status"])
    status = next_status(current, wanted)
    if status is None:
        return None
    if current is CaseStatus.CLOSED:
        envelope = await reopen(connection, case_id, changed_by=changed_by, changed_at=changed_at)
    else:
        if current is CaseStatus.AWAITING_CLOSURE:
            # Back to work: the closure asked for is no longer waiting.
            await connection.execute("DELETE FROM closure_requests WHERE case_id = $1", case_id)
        envelope = await status_changed(
            connection,
            case_id,
            status=status,
            previous=current,
            changed_by=changed_by,
            changed_at=changed_at,
        )
    await enqueue(connection, [envelope])
    return CaseStatusChanged.model_validate(envelope.payload)


async def assign_owner(
    connection: asyncpg.Connection,
    case_id: UUID,
    owner: str,
    *,
    assigned_by: str,
    assigned_at: datetime,
) -> CaseOwnerAssigned | None:
    """The member of staff who owns the case now; None when they did already."""
    case = await locked_case(connection, case_id)
    refuse_if_closed(status_of(case["status"]), "owner")
    if case["owner"] == owner:
        return None
    await connection.execute("UPDATE cases SET owner = $2 WHERE case_id = $1", case_id, owner)
    event = CaseOwnerAssigned(
        case_id=case_id,
        owner=owner,
        previous_owner=case["owner"],
        team=case["team"],
        assigned_by=assigned_by,
        assigned_at=assigned_at,
    )
    await enqueue(connection, [new_envelope(event, case_id=case_id, occurred_at=assigned_at)])
    return event


@dataclass(frozen=True, slots=True)
class ClosureOutcome:
    closure: Closure
    risk_level: RiskLevel | None


async def request_closure(
    connection: asyncpg.Connection,
    case_id: UUID,
    request: ClosureRequest,
    *,
    caller_agrees: bool,
    at: datetime,
) -> ClosureOutcome:
    """Close the case, or (high risk, asked by someone who cannot agree it) keep the
    request and wait for a manager. A new request replaces one still waiting."""
    case = await locked_case(connection, case_id)
    current = status_of(case["status"])
    risk_level = await newest_risk_level(connection, case_id)
    closure = decide_closure(
        current,
        request,
        risk_level=risk_level,
        caller_agrees=caller_agrees,
        opened_at=case["opened_at"],
        now=at,
    )
    if closure.close:
        await _close(connection, case_id, current, request, agreed_by=closure.agreed_by, at=at)
        return ClosureOutcome(closure, risk_level)
    await connection.execute(
        """INSERT INTO closure_requests (case_id, reason, detail, contact_attempts, requested_by,
                                         requested_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (case_id) DO UPDATE SET
               reason = EXCLUDED.reason, detail = EXCLUDED.detail,
               contact_attempts = EXCLUDED.contact_attempts,
               requested_by = EXCLUDED.requested_by, requested_at = EXCLUDED.requested_at""",
        case_id,
        request.reason.value,
        request.detail,
        list(request.contact_attempts),
        request.requested_by,
        at,
    )
    if current is not CaseStatus.AWAITING_CLOSURE:
        envelope = await status_changed(
            connection,
            case_id,
            status=CaseStatus.AWAITING_CLOSURE,
            previous=current,
            changed_by=request.requested_by,
            changed_at=at,
        )
        await enqueue(connection, [envelope])
    return ClosureOutcome(closure, risk_level)


async def agree_closure(
    connection: asyncpg.Connection, case_id: UUID, *, agreeing: str, at: datetime
) -> ClosureRequest:
    """A manager agrees the closure waiting on the case, which closes it."""
    case = await locked_case(connection, case_id)
    row = await connection.fetchrow("SELECT * FROM closure_requests WHERE case_id = $1", case_id)
    pending = _request_of(row) if row is not None else None
    request = check_agreement(status_of(case["status"]), pending, agreeing=agreeing)
    await _close(
        connection, case_id, CaseStatus.AWAITING_CLOSURE, request, agreed_by=agreeing, at=at
    )
    return request


def _request_of(row: asyncpg.Record) -> ClosureRequest:
    return ClosureRequest(
        reason=ClosureReason(row["reason"]),
        detail=row["detail"],
        contact_attempts=tuple(row["contact_attempts"]),
        requested_by=row["requested_by"],
    )


async def pending_closure(connection: asyncpg.Connection, case_id: UUID) -> asyncpg.Record | None:
    return await connection.fetchrow("SELECT * FROM closure_requests WHERE case_id = $1", case_id)


async def _close(
    connection: asyncpg.Connection,
    case_id: UUID,
    previous: CaseStatus,
    request: ClosureRequest,
    *,
    agreed_by: str | None,
    at: datetime,
) -> None:
    await connection.execute(
        """UPDATE cases SET closed_at = $2, closed_by = $3, closure_reason = $4,
                            closure_agreed_by = $5, closure_detail = $6,
                            closure_contact_attempts = $7
           WHERE case_id = $1""",
        case_id,
        at,
        request.requested_by,
        request.reason.value,
        agreed_by,
        request.detail,
        list(request.contact_attempts),
    )
    await connection.execute("DELETE FROM closure_requests WHERE case_id = $1", case_id)
    envelope = await status_changed(
        connection,
        case_id,
        status=CaseStatus.CLOSED,
        previous=previous,
        changed_by=request.requested_by,
        changed_at=at,
        closure_reason=request.reason,
        agreed_by=agreed_by,
        detail=request.detail,
    )
    await enqueue(connection, [envelope])


async def change_track(
    connection: asyncpg.Connection,
    case_id: UUID,
    *,
    confirmed_by_survivor: bool,
    wanted: Track | None,
    reason: str | None,
    changed_by: str,
    changed_at: datetime,
) -> CaseTrackChanged:
    """The case's report turned out otherwise (3.2.4, 3.2.5): it takes the track its
    first report, counted as the survivor's own (or found valid), qualifies for."""
    case = await locked_case(connection, case_id)
    refuse_if_closed(status_of(case["status"]), "track")
    body = await connection.fetchval(
        """SELECT body FROM reports WHERE case_id = $1
           ORDER BY further_report, received_at LIMIT 1""",
        case_id,
    )
    first_report = ReportSubmitted.model_validate(body)
    previous = Track(case["track"])
    change = track_after(
        previous,
        routing_facts(first_report),
        confirmed_by_survivor=confirmed_by_survivor,
        wanted=wanted,
    )
    await connection.execute(
        "UPDATE cases SET track = $2, track_clauses = $3 WHERE case_id = $1",
        case_id,
        change.route.track.value,
        list(change.route.clauses),
    )
    await connection.execute(
        """INSERT INTO case_track_changes (case_id, track, previous_track, reporter_role,
                                           reason, changed_by, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        case_id,
        change.route.track.value,
        previous.value,
        change.reporter_role.value,
        reason,
        changed_by,
        changed_at,
    )
    event = CaseTrackChanged(
        case_id=case_id,
        track=change.route.track,
        previous_track=previous,
        track_clauses=list(change.route.clauses),
        reporter_role=change.reporter_role,
        changed_by=changed_by,
        changed_at=changed_at,
        personal=TrackChangePersonalData(reason=reason),
    )
    await enqueue(connection, [new_envelope(event, case_id=case_id, occurred_at=changed_at)])
    return event
