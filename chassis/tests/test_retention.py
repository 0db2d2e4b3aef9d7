"""Published outbox rows, inbox rows and dead-letter rows are purged once past retention;
the rest stay."""

import uuid
from datetime import timedelta

import asyncpg

from hhc_chassis.db import create_pool, migrate
from hhc_chassis.retention import purge_expired
from hhc_devstack.pytest_plugin import Broker

from .support import settings_for


async def test_rows_past_retention_are_purged_and_recent_or_unpublished_ones_kept(
    database_url: str, broker: Broker
) -> None:
    settings = settings_for(database_url, broker.bootstrap_servers)
    await migrate(settings, [])
    pool: asyncpg.Pool = await create_pool(settings)
    try:
        async with pool.acquire() as connection:
            for label, published_ago, created_ago in (
                ("old-published", "8 days", "8 days"),
                ("recent-published", "6 days", "6 days"),
                ("old-unpublished", None, "30 days"),
            ):
                await connection.execute(
                    """INSERT INTO outbox (event_id, event_type, topic, message_key, payload,
                                           created_at, published_at)
                       VALUES ($1, 'test', 't', $2, '{}'::jsonb, now() - $3::text::interval,
                               now() - $4::text::interval)""",
                    uuid.uuid4(),
                    label,
                    created_ago,
                    published_ago,
                )
            for label, received_ago in (("old", "101 days"), ("recent", "99 days")):
                await connection.execute(
                    """INSERT INTO inbox (consumer, event_id, event_type, topic,
                                          kafka_partition, kafka_offset, received_at)
                       VALUES ($1, $2, 'test', 't', 0, 0, now() - $3::text::interval)""",
                    label,
                    uuid.uuid4(),
                    received_ago,
                )
            for label, dead_lettered_ago in (("old", "91 days"), ("recent", "89 days")):
                await connection.execute(
                    """INSERT INTO dead_letters (consumer, topic, kafka_partition, kafka_offset,
                                                 reason, reason_class, error_class, attempts,
                                                 dead_lettered_at)
                       VALUES ($1, 't', 0, $2, 'invalid-message: test', 'invalid-message',
                               'InvalidMessage', 1, now() - $3::text::interval)""",
                    label,
                    len(label),
                    dead_lettered_ago,
                )

        purged = await purge_expired(
            pool,
            outbox_retention=timedelta(days=7),
            inbox_retention=timedelta(days=100),
            dead_letter_retention=timedelta(days=90),
            batch_size=1,  # several batches
        )
        outbox = {row["message_key"] for row in await pool.fetch("SELECT message_key FROM outbox")}
        inbox = {row["consumer"] for row in await pool.fetch("SELECT consumer FROM inbox")}
        dead_letters = {
            row["consumer"] for row in await pool.fetch("SELECT consumer FROM dead_letters")
        }
    finally:
        await pool.close()
    assert (purged.outbox, purged.inbox, purged.dead_letters) == (1, 1, 1)
    assert outbox == {"recent-published", "old-unpublished"}
    assert inbox == {"recent"}
    assert dead_letters == {"recent"}
