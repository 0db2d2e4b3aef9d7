"""Transactional outbox and its relay (style.md, "Outbox and inbox, in their best known forms").

Writers call :func:`enqueue` inside the transaction that changes state. The relay
publishes committed rows in id order, waits for the broker's acknowledgement, marks
them published, and backs off on failure with times computed by the database. One
relay per service leads at a time (a session advisory lock), so two replicas never
reorder one case's events; the others wait to take over.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from opentelemetry import context as otel_context
from opentelemetry import propagate

from hhc_chassis.events import topic_of
from hhc_contracts import Envelope

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]
"""publish(topic, key, value, headers): returns once the broker acknowledged."""


async def enqueue(connection: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
    """Stage events for publication; call inside the transaction that made them true."""
    if not envelopes:
        return
    trace_carrier: dict[str, str] = {}
    propagate.inject(trace_carrier)
    await connection.executemany(
        """INSERT INTO outbox (event_id, event_type, topic, message_key, payload, headers)
           VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb)""",
        [
            (
                envelope.event_id,
                envelope.event_type,
                topic_of(envelope),
                str(envelope.case_id) if envelope.case_id else envelope.event_type,
                envelope.model_dump_json(),
                json.dumps({**trace_carrier, **envelope.headers()}),
            )
            for envelope in envelopes
        ],
    )


class OutboxRelay:
    def __init__(
        self,
        *,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        publish: Publish,
        schema: str,
        batch_size: int = 200,
        idle_poll_seconds: float = 2.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self._connect = connect
        self._publish = publish
        self._channel = f"{schema}_outbox"
        self._lock_key = f"hhc-outbox-relay:{schema}"
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.is_leader = False

    def stop(self) -> None:
        """Finish the batch in hand, then return from :meth:`run`."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                connection = await self._connect()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                failures += 1
                log.warning("outbox relay cannot reach the database: %s", type(error).__name__)
                await self._pause(min(self._max_backoff_seconds, 0.5 * 2**failures))
                continue
            try:
                failures = 0
                await self._lead(connection)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("outbox relay lost its connection: %s", type(error).__name__)
                await self._pause(1.0)
            finally:
                self.is_leader = False
                await _close_quietly(connection)

    async def _lead(self, connection: asyncpg.Connection) -> None:
        while not await connection.fetchval(
            "SELECT pg_try_advisory_lock(hashtext($1))", self._lock_key
        ):
            if await self._pause(self._idle_poll_seconds):
                return
        self.is_leader = True
        await connection.add_listener(self._channel, self._on_notify)
        delay = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            delay = await self.publish_due(connection)
            if delay > 0:
                await self._pause(delay)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _pause(self, seconds: float) -> bool:
        """Sleep until woken or the time is up; True when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()
        return self._stopping.is_set()

    async def publish_due(self, connection: asyncpg.Connection) -> float:
        """Publish one batch in order; return how long to wait before the next (0: now)."""
        rows = await connection.fetch(
            """SELECT id, topic, message_key, payload::text AS value, headers::text AS headers,
                      attempts, GREATEST(0, EXTRACT(EPOCH FROM next_attempt_at - now())) AS wait
               FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1""",
            self._batch_size,
        )
        if not rows:
            return self._idle_poll_seconds
        published: list[int] = []
        wait = 0.0
        for row in rows:
            if row["wait"] > 0:
                # An earlier failure is backing off: later rows wait behind it to keep order.
                wait = float(row["wait"])
                break
            headers: dict[str, str] = json.loads(row["headers"])
            token = otel_context.attach(propagate.extract(headers))
            try:
                await self._publish(
                    row["topic"], row["message_key"].encode(), row["value"].encode(), headers
                )
            except Exception as error:
                log.warning(
                    "outbox publish failed, backing off",
                    extra={"outbox_id": row["id"], "error_class": type(error).__name__},
                )
                wait = await connection.fetchval(
                    """UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                              next_attempt_at = now() + make_interval(
                                  secs => LEAST($3::float8, 0.2 * power(2, attempts)))
                       WHERE id = $1
                       RETURNING EXTRACT(EPOCH FROM next_attempt_at - now())::float8""",
                    row["id"],
                    f"{type(error).__name__}: {error}"[:500],
                    self._max_backoff_seconds,
                )
                break
            finally:
                otel_context.detach(token)
            published.append(row["id"])
        if published:
            await connection.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", published
            )
        if wait == 0.0 and len(rows) < self._batch_size:
            return self._idle_poll_seconds
        return wait


async def _close_quietly(connection: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(connection.close(), timeout=2)
    except Exception:
        connection.terminate()
