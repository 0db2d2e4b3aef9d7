"""An audit of every look at personal data, and of every refused attempt.

Each service keeps its own ``audit_log``: append-only (a trigger refuses UPDATE, DELETE
and TRUNCATE), each record carrying the SHA-256 of itself and the record before, so a
changed or removed record breaks the chain (:func:`verify_chain`). Each record is also
published as ``audit.access-recorded`` on ``hhc.audit.access.v1``, without personal data
for the group's security monitoring.

A look is recorded in the transaction of what it did (:func:`append`, into
``audit_pending``), and the chainer adds it to the chain once that commits
(:func:`chain_pending`, woken by the commit; ``/v1/audit`` chains what waits before it
reads). So no request waits for another's to take its place in the chain: the chain's
lock is the chainer's alone (at 50 reports/s requests had spent about 70 ms each
waiting for it).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from opentelemetry import propagate, trace
from pydantic import BaseModel

from hhc_chassis.access import Caller, Permission, reaches
from hhc_chassis.auth import authorised, purpose_of
from hhc_chassis.case_access import load_scope
from hhc_chassis.clocks import durable_clock
from hhc_chassis.db import Write, write_together
from hhc_chassis.events import new_envelope
from hhc_chassis.metrics import QueryGauge
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import AccessRecorded

if TYPE_CHECKING:
    from hhc_chassis.service import Runtime

GENESIS_HASH = "0" * 64
_CHAIN_LOCK = "hhc.audit_log"

GRANTED = "granted"
REFUSED = "refused"
NOT_FOUND = "not-found"

REQUEST_ID_HEADER = "X-Request-ID"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    subject: str
    roles: tuple[str, ...]
    team: str | None
    case_id: UUID | None
    operation: str
    fields: tuple[str, ...]
    purpose: str | None
    outcome: str
    request_id: str | None
    trace_id: str | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    recorded_at: datetime
    entry: AuditEntry
    previous_hash: str
    record_hash: str


def record_hash(id: int, recorded_at: datetime, entry: AuditEntry, previous_hash: str) -> str:
    """SHA-256 over the record's every field and the previous record's hash."""
    content = {
        **asdict(entry),
        "case_id": str(entry.case_id) if entry.case_id else None,
        "roles": list(entry.roles),
        "fields": list(entry.fields),
        "id": id,
        "recorded_at": recorded_at.astimezone(UTC).isoformat(),
        "previous_hash": previous_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def verify_chain(records: Iterable[AuditRecord]) -> int | None:
    """The id of the first record whose hash or link is wrong, or None if all hold.
    ``records`` must be the whole log, in id order, from the first record."""
    previous = GENESIS_HASH
    expected_id = 1
    for record in records:
        if (
            record.id != expected_id
            or record.previous_hash != previous
            or record.record_hash
            != record_hash(record.id, record.recorded_at, record.entry, record.previous_hash)
        ):
            return record.id
        previous = record.record_hash
        expected_id += 1
    return None


async def append(connection: asyncpg.Connection, entry: AuditEntry) -> None:
    """Record a look in the caller's transaction, waiting for nothing: the chainer
    (:func:`chain_pending`) adds it to the chain, and publishes its event, once it has
    committed (woken at the commit)."""
    await write_together(connection, [appended(entry)])


async def append_all(connection: asyncpg.Connection, entries: Sequence[AuditEntry]) -> None:
    """:func:`append` for the looks of one request, in one round trip."""
    recorded_at, carrier = datetime.now(UTC), _trace_carrier()
    await connection.executemany(
        _APPEND, [_pending_row(entry, recorded_at, carrier) for entry in entries]
    )


def appended(entry: AuditEntry) -> Write:
    """The write of :func:`append`, to make with others (:func:`hhc_chassis.db.together`)."""
    return _APPEND, _pending_row(entry, datetime.now(UTC), _trace_carrier())


_APPEND = """INSERT INTO audit_pending (recorded_at, subject, roles, team, case_id, operation,
                                      fields, purpose, outcome, request_id, trace_id,
                                      trace_carrier)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb)"""


def _trace_carrier() -> str:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier)


def _pending_row(entry: AuditEntry, recorded_at: datetime, carrier: str) -> tuple[Any, ...]:
    return (
        recorded_at,
        entry.subject,
        list(entry.roles),
        entry.team,
        entry.case_id,
        entry.operation,
        list(entry.fields),
        entry.purpose,
        entry.outcome,
        entry.request_id,
        entry.trace_id,
        carrier,
    )


async def chain_pending(connection: asyncpg.Connection, service: str, batch_size: int = 500) -> int:
    """Add waiting records to the end of the chain, in the order they were written, and
    stage their ``audit.access-recorded`` events, in one transaction; how many. Replicas
    take turns (a transaction lock that only chainers take)."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _CHAIN_LOCK)
        # In the order they were written (DELETE ... RETURNING keeps none).
        pending = sorted(
            await connection.fetch(
                """DELETE FROM audit_pending
                   WHERE seq IN (SELECT seq FROM audit_pending ORDER BY seq LIMIT $1)
                   RETURNING *, trace_carrier::text AS carrier_text""",
                batch_size,
            ),
            key=lambda row: int(row["seq"]),
        )
        if not pending:
            return 0
        last = await connection.fetchrow(
            "SELECT id, record_hash FROM audit_log ORDER BY id DESC LIMIT 1"
        )
        records = _chained(
            [(row["recorded_at"], _entry_from_row(row)) for row in pending],
            after_id=last["id"] if last else 0,
            after_hash=last["record_hash"] if last else GENESIS_HASH,
        )
        await connection.executemany(
            """INSERT INTO audit_log (id, recorded_at, subject, roles, team, case_id,
                                      operation, fields, purpose, outcome, request_id,
                                      trace_id, previous_hash, record_hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)""",
            [
                (
                    record.id,
                    record.recorded_at,
                    record.entry.subject,
                    list(record.entry.roles),
                    record.entry.team,
                    record.entry.case_id,
                    record.entry.operation,
                    list(record.entry.fields),
                    record.entry.purpose,
                    record.entry.outcome,
                    record.entry.request_id,
                    record.entry.trace_id,
                    record.previous_hash,
                    record.record_hash,
                )
                for record in records
            ],
        )
        await enqueue(
            connection,
            [_event_of(record, service) for record in records],
            # Each event continues the trace of the request that made the look.
            # As text: what a jsonb column decodes to depends on the connection's codecs.
            trace_carriers=[json.loads(row["carrier_text"]) for row in pending],
        )
    return len(pending)


AUDIT_CHAIN_POLL_SECONDS = 10.0
"""A NOTIFY wakes the chainer at each commit; this is for one missed while reconnecting."""
AUDIT_CHAIN_GATHER_SECONDS = 0.25
"""How long a woken chainer lets looks gather: one transaction (and one relay batch of
``audit.access-recorded``) for the looks of many requests, not one each. Reading the log
(``GET /v1/audit``) chains what waits first, so it never shows less."""

AUDIT_CHAIN_BATCH = 500
"""Most looks chained in one transaction."""


async def _chain_a_batch(runtime: Runtime) -> int:
    async with runtime.pool.acquire() as connection:
        chained = await chain_pending(
            connection, runtime.settings.service_name, batch_size=AUDIT_CHAIN_BATCH
        )
    # A batch short of full took all that waited: no second transaction to find nothing.
    return chained if chained == AUDIT_CHAIN_BATCH else 0


async def _only_the_poll(runtime: Runtime, ceiling: float) -> float:
    return ceiling


audit_chainer = durable_clock(
    name="audit chaining",
    channel="audit",
    fire_due=_chain_a_batch,
    seconds_until_next=_only_the_poll,
    poll_seconds=AUDIT_CHAIN_POLL_SECONDS,
    gather_seconds=AUDIT_CHAIN_GATHER_SECONDS,
)
"""Every service's background task that adds looks to the chain as they commit (woken
by each commit's NOTIFY); every replica runs it, and they take turns."""

audit_waiting = QueryGauge(
    name="hhc.audit.oldest_unchained_age",
    description="How long the oldest look not yet in the audit chain (nor in "
    "audit.access-recorded) has waited; 0 when none. Growing: no replica's chainer works",
    query="""SELECT coalesce(EXTRACT(EPOCH FROM now() - min(recorded_at)), 0) AS value
             FROM audit_pending""",
    unit="s",
)
"""Read by every service (a stuck chainer is otherwise silent: the looks are kept, but no
one sees them in the chain or on the topic)."""


def _chained(
    looks: Sequence[tuple[datetime, AuditEntry]], *, after_id: int, after_hash: str
) -> list[AuditRecord]:
    """The looks as the chain's next records (pure)."""
    records: list[AuditRecord] = []
    previous_id, previous_hash = after_id, after_hash
    for recorded_at, entry in looks:
        previous_id += 1
        digest = record_hash(previous_id, recorded_at, entry, previous_hash)
        records.append(AuditRecord(previous_id, recorded_at, entry, previous_hash, digest))
        previous_hash = digest
    return records


def _event_of(record: AuditRecord, service: str) -> Envelope:
    entry = record.entry
    event = AccessRecorded(
        audit_id=record.id,
        service=service,
        subject=entry.subject,
        roles=list(entry.roles),
        team=entry.team,
        case_id=entry.case_id,
        operation=entry.operation,
        fields=list(entry.fields),
        outcome=entry.outcome,
        recorded_at=record.recorded_at,
        request_id=entry.request_id,
        trace_id=entry.trace_id,
        record_hash=record.record_hash,
    )
    return new_envelope(
        event, case_id=entry.case_id, occurred_at=record.recorded_at, producer=service
    )


def _entry_from_row(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
        subject=row["subject"],
        roles=tuple(row["roles"]),
        team=row["team"],
        case_id=row["case_id"],
        operation=row["operation"],
        fields=tuple(row["fields"]),
        purpose=row["purpose"],
        outcome=row["outcome"],
        request_id=row["request_id"],
        trace_id=row["trace_id"],
    )


def _record_from_row(row: asyncpg.Record) -> AuditRecord:
    entry = _entry_from_row(row)
    return AuditRecord(
        row["id"], row["recorded_at"], entry, row["previous_hash"], row["record_hash"]
    )


async def read_log(
    connection: asyncpg.Connection, *, case_id: UUID | None = None, limit: int | None = None
) -> list[AuditRecord]:
    rows = await connection.fetch(
        """SELECT * FROM audit_log WHERE $1::uuid IS NULL OR case_id = $1
           ORDER BY id LIMIT $2""",
        case_id,
        limit,
    )
    return [_record_from_row(row) for row in rows]


def request_id_of(request: Request) -> str:
    """The caller's X-Request-ID (if sane), else one made here; kept on the request."""
    existing: str | None = getattr(request.state, "request_id", None)
    if existing:
        return existing
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = given if 0 < len(given) <= 100 and given.isprintable() else uuid.uuid4().hex
    request.state.request_id = request_id
    return request_id


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _operation(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def entry_for(
    request: Request,
    caller: Caller,
    *,
    case_id: UUID | None,
    fields: Sequence[str],
    outcome: str,
) -> AuditEntry:
    purpose = purpose_of(request)
    return AuditEntry(
        subject=caller.subject,
        roles=tuple(sorted(caller.roles)),
        team=caller.team,
        case_id=case_id,
        operation=_operation(request),
        fields=tuple(fields),
        purpose=purpose,
        outcome=outcome,
        request_id=request_id_of(request),
        trace_id=_trace_id(),
    )


async def record(
    request: Request,
    caller: Caller,
    *,
    case_id: UUID | None,
    fields: Sequence[str],
    outcome: str,
) -> None:
    """Audit one look in a transaction of its own (it stays recorded if the request fails)."""
    runtime = request.app.state.runtime
    entry = entry_for(request, caller, case_id=case_id, fields=fields, outcome=outcome)
    async with runtime.pool.acquire() as connection:
        await append(connection, entry)


async def record_all(
    request: Request,
    caller: Caller,
    looks: Sequence[tuple[UUID | None, str]],
    *,
    fields: Sequence[str],
) -> None:
    """:func:`record` for many looks of one request: (case, outcome) each."""
    runtime = request.app.state.runtime
    entries = [
        entry_for(request, caller, case_id=case_id, fields=fields, outcome=outcome)
        for case_id, outcome in looks
    ]
    async with runtime.pool.acquire() as connection:
        await append_all(connection, entries)


async def record_refusal(request: Request, caller: Caller, permission: Permission) -> None:
    await record(request, caller, case_id=None, fields=(), outcome=REFUSED)


async def open_case_for(
    request: Request,
    caller: Caller,
    permission: Permission,
    case_id: UUID,
    *,
    fields: Sequence[str],
) -> None:
    """Let the caller at this case, or answer 404; audited either way.

    A case the caller may not reach gets the same 404 as one that does not exist, so the
    answer reveals nothing about it (OWASP API1, object-level authorisation). The case's
    scope is read and the look recorded on one connection, in one transaction."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as connection, connection.transaction():
        scope = await load_scope(connection, case_id)
        if scope is None:
            outcome = NOT_FOUND
        elif reaches(caller, permission, scope):
            outcome = GRANTED
        else:
            outcome = REFUSED
        entry = entry_for(request, caller, case_id=case_id, fields=fields, outcome=outcome)
        await append(connection, entry)
    if outcome != GRANTED:
        raise HTTPException(404, "no such case")


async def not_found(
    request: Request, caller: Caller, *, what: str, fields: Sequence[str]
) -> NoReturn:
    """404 for something that does not exist, the look audited (with no case)."""
    await record(request, caller, case_id=None, fields=fields, outcome=NOT_FOUND)
    raise HTTPException(404, f"no such {what}")


async def open_case_of(
    request: Request,
    caller: Caller,
    permission: Permission,
    *,
    what: str,
    case_id: UUID | None,
    fields: Sequence[str],
) -> UUID:
    """Let the caller at the case of something of it (a referral, a decision, ...), whose
    ``case_id`` the service looked up (None: there is no such thing); else 404, audited
    either way, the same for a thing that does not exist and one whose case they may not
    reach (:func:`open_case_for`)."""
    if case_id is None:
        await not_found(request, caller, what=what, fields=fields)
    await open_case_for(request, caller, permission, case_id, fields=fields)
    return case_id


class AuditRecordOut(BaseModel):
    id: int
    recorded_at: datetime
    subject: str
    roles: list[str]
    team: str | None
    case_id: UUID | None
    operation: str
    fields: list[str]
    purpose: str | None
    outcome: str
    request_id: str | None
    trace_id: str | None
    previous_hash: str
    record_hash: str


class AuditLogOut(BaseModel):
    service: str
    chain_intact: bool
    """The whole log's chain was checked, not only the records shown."""
    first_broken_id: int | None
    records: list[AuditRecordOut]


def _out(record: AuditRecord) -> AuditRecordOut:
    entry = asdict(record.entry)
    return AuditRecordOut(
        id=record.id,
        recorded_at=record.recorded_at,
        previous_hash=record.previous_hash,
        record_hash=record.record_hash,
        **{**entry, "roles": list(record.entry.roles), "fields": list(record.entry.fields)},
    )


audit_router = APIRouter(tags=["audit"])


@audit_router.get(
    "/v1/audit",
    response_model=AuditLogOut,
    summary="This service's audit of looks at personal data (auditors, data protection officer)",
)
async def get_audit(
    request: Request,
    caller: Annotated[Caller, Depends(authorised(Permission.READ_AUDIT))],
    case_id: Annotated[UUID | None, Query(description="Only the records about this case")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Any:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as connection:
        # Every look committed so far is in the chain before it is read.
        while await chain_pending(connection, runtime.settings.service_name):
            pass
        whole = await read_log(connection)
    broken = verify_chain(whole)
    shown = [r for r in whole if case_id is None or r.entry.case_id == case_id][-limit:]
    return AuditLogOut(
        service=runtime.settings.service_name,
        chain_intact=broken is None,
        first_broken_id=broken,
        records=[_out(r) for r in shown],
    )
