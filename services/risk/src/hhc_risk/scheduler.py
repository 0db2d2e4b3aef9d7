"""Overdue clocks: deadlines live in the database; each passes once, whatever restarts.

Every replica runs this loop. Claiming due actions with FOR UPDATE SKIP LOCKED and
marking them in the same transaction as the outbox row means one replica reports
each overdue action, exactly once.
"""

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime

import asyncpg

from hhc_chassis.db import connect
from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import BackgroundTask, Runtime
from hhc_contracts.v1 import ActionOverdue

log = logging.getLogger(__name__)


def escalated_to(clause: str) -> str:
    """Who hears of an overdue action: the case's manager; for the immediate-danger
    playbook (3.3.1), the on-call safeguarding lead as well, who may also override
    consent for emergency intervention when staff have not (3.5.2)."""
    if "3.3.1" in clause:
        return "manager,on_call_safeguarding_lead"
    return "manager"


async def report_overdue_actions(runtime: Runtime, batch_size: int = 100) -> int:
    async with runtime.pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            """SELECT action_id, case_id, kind, clause, due_at FROM actions
               WHERE state = 'open' AND overdue_reported_at IS NULL AND due_at <= now()
               ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
            batch_size,
        )
        if not rows:
            return 0
        detected_at = datetime.now(UTC)
        await connection.execute(
            "UPDATE actions SET overdue_reported_at = $2 WHERE action_id = ANY($1::uuid[])",
            [row["action_id"] for row in rows],
            detected_at,
        )
        await enqueue(
            connection,
            [
                new_envelope(
                    ActionOverdue(
                        action_id=row["action_id"],
                        case_id=row["case_id"],
                        kind=row["kind"],
                        due_at=row["due_at"],
                        detected_at=detected_at,
                        escalated_to=escalated_to(row["clause"]),
                    ),
                    case_id=row["case_id"],
                    occurred_at=detected_at,
                    correlation_id=uuid.uuid4(),
                )
                for row in rows
            ],
        )
    return len(rows)


async def seconds_until_next_deadline(runtime: Runtime, ceiling: float) -> float:
    seconds = await runtime.pool.fetchval(
        """SELECT EXTRACT(EPOCH FROM min(due_at) - now())::float8 FROM actions
           WHERE state = 'open' AND overdue_reported_at IS NULL"""
    )
    if seconds is None:
        return ceiling
    return max(0.0, min(ceiling, float(seconds)))


def overdue_scheduler(poll_seconds: float) -> BackgroundTask:
    """The background task that publishes action-overdue the moment a deadline passes.

    It sleeps until the nearest deadline, and is woken (NOTIFY) when a new deadline is
    set, so a deadline set while it sleeps is not missed.
    """

    async def run_overdue_scheduler(runtime: Runtime) -> None:
        new_deadline = asyncio.Event()
        listener: asyncpg.Connection | None = None
        try:
            while True:
                if listener is None or listener.is_closed():
                    listener = await _listen(runtime, new_deadline)
                try:
                    new_deadline.clear()
                    while await report_overdue_actions(runtime):
                        pass
                    delay = await seconds_until_next_deadline(runtime, poll_seconds)
                except Exception as error:
                    log.warning("overdue check failed", extra={"error_class": type(error).__name__})
                    delay = poll_seconds
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(new_deadline.wait(), timeout=delay)
        finally:
            if listener is not None:
                await listener.close()

    return run_overdue_scheduler


async def _listen(runtime: Runtime, new_deadline: asyncio.Event) -> asyncpg.Connection | None:
    try:
        connection = await connect(runtime.settings)
        await connection.add_listener(
            f"{runtime.settings.schema_name}_deadlines", lambda *_: new_deadline.set()
        )
        return connection
    except Exception as error:
        log.warning(
            "cannot listen for deadlines, polling", extra={"error_class": type(error).__name__}
        )
        return None
