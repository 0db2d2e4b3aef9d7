"""Tables that stay small: published outbox rows (which hold personal data until then),
inbox rows and dead-letter rows are deleted once past retention, in small batches that
never block writers."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Purged:
    outbox: int
    inbox: int
    dead_letters: int


async def _purge(
    pool: asyncpg.Pool, select_expired: str, table: str, retention: timedelta, batch_size: int
) -> int:
    total = 0
    while True:
        # SKIP LOCKED: a row another replica is deleting is left to it.
        deleted: int = await pool.fetchval(
            f"""WITH expired AS ({select_expired} LIMIT $2 FOR UPDATE SKIP LOCKED),
                     gone AS (DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM expired)
                              RETURNING 1)
                SELECT count(*) FROM gone""",
            retention,
            batch_size,
        )
        total += deleted
        if deleted < batch_size:
            return total
        await asyncio.sleep(0)  # let other work in between batches


async def purge_expired(
    pool: asyncpg.Pool,
    *,
    outbox_retention: timedelta,
    inbox_retention: timedelta,
    dead_letter_retention: timedelta,
    batch_size: int = 1000,
) -> Purged:
    outbox = await _purge(
        pool,
        "SELECT ctid FROM outbox WHERE published_at < now() - $1::interval",
        "outbox",
        outbox_retention,
        batch_size,
    )
    inbox = await _purge(
        pool,
        "SELECT ctid FROM inbox WHERE received_at < now() - $1::interval",
        "inbox",
        inbox_retention,
        batch_size,
    )
    # A row whose message has left the dead-letter topic points at nothing to show or
    # replay (hhc_chassis.dead_letters).
    dead_letters = await _purge(
        pool,
        "SELECT ctid FROM dead_letters WHERE dead_lettered_at < now() - $1::interval",
        "dead_letters",
        dead_letter_retention,
        batch_size,
    )
    if outbox or inbox or dead_letters:
        log.info(
            "expired rows purged",
            extra={"outbox": outbox, "inbox": inbox, "dead_letters": dead_letters},
        )
    return Purged(outbox=outbox, inbox=inbox, dead_letters=dead_letters)
