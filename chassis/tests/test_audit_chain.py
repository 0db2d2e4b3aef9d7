"""Recording looks and chaining them, on a real PostgreSQL."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable
from types import SimpleNamespace

import asyncpg

from hhc_chassis.audit import (
    AuditEntry,
    append,
    audit_chainer,
    audit_waiting,
    chain_pending,
    read_log,
    verify_chain,
)
from hhc_chassis.db import create_pool, migrate
from hhc_contracts.envelope import EventHeaders
from hhc_devstack.pytest_plugin import Broker, eventually

from .support import TEST_MIGRATIONS, settings_for


def look(subject: str) -> AuditEntry:
    return AuditEntry(
        subject=subject,
        roles=("caseworker",),
        team="north",
        case_id=uuid.uuid4(),
        operation="GET /v1/cases/{case_id}",
        fields=("reports",),
        purpose=None,
        outcome="granted",
        request_id=uuid.uuid4().hex,
        trace_id=None,
    )


async def test_a_look_waits_for_no_other_and_each_joins_the_chain_once_committed(
    database_url: str, broker: Broker
) -> None:
    """Turns red if recording a look takes the chain's lock again (the second look would
    wait for the first's transaction), or if the chainer drops, doubles or misorders
    records, or publishes an event that does not match its record."""
    settings = settings_for(database_url, broker.bootstrap_servers)
    await migrate(settings, [TEST_MIGRATIONS])
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as first, first.transaction():
            await append(first, look("first"))
            async with pool.acquire() as second:
                await asyncio.wait_for(append(second, look("second")), timeout=5)
            async with pool.acquire() as chainer:
                # Only what has committed joins the chain.
                assert await chain_pending(chainer, "chassistest") == 1
        async with pool.acquire() as chainer:
            assert await chain_pending(chainer, "chassistest") == 1
            assert await chain_pending(chainer, "chassistest") == 0
            records = await read_log(chainer)
            events = await chainer.fetch(
                """SELECT payload -> 'payload' AS event FROM outbox
                   WHERE event_type = 'audit.access-recorded' ORDER BY id"""
            )
    finally:
        await pool.close()
    assert [record.entry.subject for record in records] == ["second", "first"]
    assert [record.id for record in records] == [1, 2]
    assert verify_chain(records) is None
    assert [
        (event["event"]["audit_id"], event["event"]["subject"], event["event"]["record_hash"])
        for event in events
    ] == [(record.id, record.entry.subject, record.record_hash) for record in records]


async def test_a_look_waiting_to_be_chained_shows_in_the_gauge_until_it_is(
    database_url: str, broker: Broker
) -> None:
    """A chainer that no longer works is otherwise silent: the looks wait, kept but
    unseen. Turns red if the gauge reads anything but the oldest waiting look's age."""
    settings = settings_for(database_url, broker.bootstrap_servers)
    await migrate(settings, [TEST_MIGRATIONS])
    pool = await create_pool(settings)
    runtime = SimpleNamespace(pool=pool)
    try:
        async with pool.acquire() as connection:
            await chain_pending(connection, "chassistest")
            await audit_waiting.read(runtime)  # type: ignore[arg-type]
            assert audit_waiting.current() == {(): 0.0}
            await append(connection, look("unchained"))
            await connection.execute(
                "UPDATE audit_pending SET recorded_at = recorded_at - interval '90 seconds'"
            )
            await audit_waiting.read(runtime)  # type: ignore[arg-type]
            assert 90 <= audit_waiting.current()[()] < 150
            assert await chain_pending(connection, "chassistest") == 1
            await audit_waiting.read(runtime)  # type: ignore[arg-type]
            assert audit_waiting.current() == {(): 0.0}
    finally:
        await pool.close()


async def test_looks_committed_close_together_are_chained_in_one_transaction(
    database_url: str, broker: Broker
) -> None:
    """Turns red if a woken chainer does not let looks gather (one chain transaction and
    one event batch per request: measured, a busy intake's every look cost one)."""
    settings = settings_for(database_url, broker.bootstrap_servers)
    await migrate(settings, [TEST_MIGRATIONS])
    pool = await create_pool(settings)
    chainer = asyncio.create_task(audit_chainer(SimpleNamespace(pool=pool, settings=settings)))  # type: ignore[arg-type]

    async def chained() -> int:
        return int(await pool.fetchval("SELECT count(*) FROM audit_log"))

    try:
        async with pool.acquire() as connection:
            await append(connection, look("first"))
        # Chained: the chainer is listening now.
        await eventually(lambda: _equals(chained(), 1), message="the first look was not chained")
        for n in range(5):
            async with pool.acquire() as connection:
                await append(connection, look(f"look {n}"))
            await asyncio.sleep(0.03)  # requests a little apart, as they come
        await eventually(lambda: _equals(chained(), 6), message="the looks were not chained")
        transactions = await pool.fetchval(
            """SELECT count(DISTINCT created_at) FROM outbox
               WHERE event_type = 'audit.access-recorded' AND payload -> 'payload' ->> 'subject'
                     LIKE 'look %'"""
        )
    finally:
        chainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await chainer
        await pool.close()
    assert transactions <= 2


async def _equals(count: Awaitable[int], expected: int) -> bool:
    return await count == expected


async def test_any_connection_chains_whatever_its_json_codecs(
    database_url: str, broker: Broker
) -> None:
    """Tests and tools chain on plain connections, which give jsonb as text: turns red if
    chaining reads a look's trace carrier through the connection's codec."""
    settings = settings_for(database_url, broker.bootstrap_servers)
    await migrate(settings, [TEST_MIGRATIONS])
    pool = await create_pool(settings)
    plain = await asyncpg.connect(
        settings.database_url, server_settings={"search_path": settings.schema_name}
    )
    try:
        async with pool.acquire() as connection:
            await chain_pending(connection, "chassistest")
            await append(connection, look("plainly chained"))
        assert await chain_pending(plain, "chassistest") == 1
        headers = await plain.fetchval(
            """SELECT headers::text FROM outbox WHERE event_type = 'audit.access-recorded'
               ORDER BY id DESC LIMIT 1"""
        )
    finally:
        await plain.close()
        await pool.close()
    assert json.loads(headers)[EventHeaders.EVENT_TYPE] == "audit.access-recorded"
