"""Enforcement's durable clocks: reminders before hearings and before orders expire (and,
for whoever sets them, reviews and the ex parte target); each published once, whatever
restarts.

Reminders live in the ``reminders`` table, set in the transaction that records what they
are about (:func:`schedule_reminders`). Every replica runs :func:`reminder_scheduler`.
Claiming due reminders with FOR UPDATE SKIP LOCKED, and marking them in the transaction
that stages their ``enforcement.reminder-due`` events in the outbox, means one replica
publishes each reminder, exactly once.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from hhc_chassis.clocks import NEW_DEADLINE_GATHER_SECONDS, durable_clock
from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import BackgroundTask, Runtime
from hhc_contracts.v1 import EnforcementReminderDue
from hhc_contracts.vocabulary import ReminderSubject

CHANNEL = "reminders"
"""The NOTIFY channel (``<schema>_reminders``) migration 0003's trigger wakes us on."""


async def schedule_reminders(
    connection: asyncpg.Connection,
    *,
    enforcement_case_id: UUID,
    case_id: UUID,
    about: ReminderSubject,
    due: Sequence[datetime],
    event_at: datetime | None = None,
    hearing_id: UUID | None = None,
    order_id: UUID | None = None,
    decision_id: UUID | None = None,
) -> list[UUID]:
    """Set a reminder at each of ``due``; call inside the transaction that records what
    they are about. The scheduler is woken by the insert."""
    if not due:
        return []
    reminder_ids = [uuid.uuid4() for _ in due]
    await connection.executemany(
        """INSERT INTO reminders (reminder_id, enforcement_case_id, case_id, about, hearing_id,
                                  order_id, decision_id, event_at, due_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        [
            (
                reminder_id,
                enforcement_case_id,
                case_id,
                about.value,
                hearing_id,
                order_id,
                decision_id,
                event_at,
                due_at,
            )
            for reminder_id, due_at in zip(reminder_ids, due, strict=True)
        ],
    )
    return reminder_ids


async def report_due_reminders(pool: asyncpg.Pool, batch_size: int = 100) -> int:
    """Publish (through the outbox) up to ``batch_size`` reminders now due; how many."""
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            """SELECT reminder_id, enforcement_case_id, case_id, about, due_at FROM reminders
               WHERE reported_at IS NULL AND due_at <= now()
               ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
            batch_size,
        )
        if not rows:
            return 0
        detected_at = datetime.now(UTC)
        await connection.execute(
            "UPDATE reminders SET reported_at = $2 WHERE reminder_id = ANY($1::uuid[])",
            [row["reminder_id"] for row in rows],
            detected_at,
        )
        await enqueue(
            connection,
            [
                new_envelope(
                    EnforcementReminderDue(
                        reminder_id=row["reminder_id"],
                        enforcement_case_id=row["enforcement_case_id"],
                        case_id=row["case_id"],
                        about=ReminderSubject(row["about"]),
                        due_at=row["due_at"],
                        detected_at=detected_at,
                    ),
                    case_id=row["case_id"],
                    occurred_at=detected_at,
                    correlation_id=uuid.uuid4(),
                )
                for row in rows
            ],
        )
    return len(rows)


async def seconds_until_next_reminder(pool: asyncpg.Pool, ceiling: float) -> float:
    seconds = await pool.fetchval(
        """SELECT EXTRACT(EPOCH FROM min(due_at) - now())::float8 FROM reminders
           WHERE reported_at IS NULL"""
    )
    if seconds is None:
        return ceiling
    return max(0.0, min(ceiling, float(seconds)))


def reminder_scheduler(poll_seconds: float) -> BackgroundTask:
    """The background task that publishes enforcement.reminder-due the moment a reminder
    falls due (a durable clock: woken when a reminder is set, so none set while it sleeps
    is missed)."""

    async def fire_due(runtime: Runtime) -> int:
        return await report_due_reminders(runtime.pool)

    async def seconds_until_next(runtime: Runtime, ceiling: float) -> float:
        return await seconds_until_next_reminder(runtime.pool, ceiling)

    return durable_clock(
        name="reminder check",
        channel=CHANNEL,
        fire_due=fire_due,
        seconds_until_next=seconds_until_next,
        poll_seconds=poll_seconds,
        gather_seconds=NEW_DEADLINE_GATHER_SECONDS,
    )
