"""Transactional outbox and its relay (style.md, "Outbox and inbox, in their best known forms").

Writers call :func:`enqueue` inside the transaction that changes state. The relay
publishes committed rows, and what it promises:

- Order per key (case), not per service. Rows of one key go out in id order; a row
  that fails holds back only the later rows of its own key, while every other case's
  events keep flowing.
- Batches, not round trips. A batch is handed to the producer without awaiting each
  acknowledgement (the producer keeps order within a partition), then all are awaited
  and the published ones marked in one statement, which also reads the next batch.
- Parking. A row that can never be published as it is (too large, not authorised, a
  topic still unknown after ``relay_unknown_topic_grace_seconds``) is parked with its
  reason, counted in readiness and metrics, and released by an operator
  (``python -m hhc_chassis.outbox_cli retry-parked``). Later rows of its key wait for it.
- Personal data sealed. Each row's personal part is sealed with its case's key as it goes
  out, and the published row keeps the sealed value (:mod:`hhc_chassis.sealing`); a row
  whose key cannot be fetched waits like any row that failed to send.
- Leadership follows progress. One relay per service leads at a time (a session advisory
  lock), so replicas never reorder a case's events; a leader that cannot publish due
  rows for ``relay_stall_seconds`` gives the lock up so that a replica that can takes
  over.

Known limit: if the broker fails a send after later rows of the same key were already
accepted, those later rows stay published and the failed one follows them on retry.
Without idempotent producers (Tansu refuses them) no client can rule that out;
consumers see each event once (inbox) but, in that case only, not in order.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)
from opentelemetry import context as otel_context
from opentelemetry import propagate

from hhc_chassis.db import Write, close_quietly, write_together
from hhc_chassis.events import topic_of
from hhc_chassis.metrics import (
    outbox_backlog,
    outbox_oldest_unpublished,
    outbox_parked,
    outbox_parked_rows,
    outbox_published,
    personal_parts_withheld,
    relay_leader,
)
from hhc_chassis.sealing import (
    CaseKeys,
    KeysAtHand,
    case_to_seal,
    seal_document,
    seal_message,
)
from hhc_contracts import Envelope

log = logging.getLogger(__name__)

# Nothing about these changes by trying again.
_NEVER_PUBLISHABLE = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    InvalidTopicError,
)


class Sender(Protocol):
    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> "asyncio.Future[Any]":
        """Hand a record to the producer; the future resolves on acknowledgement."""

    async def topic_exists(self, topic: str, timeout: float) -> bool:  # noqa: ASYNC109
        """Whether the broker knows the topic."""


async def enqueue(
    connection: asyncpg.Connection,
    envelopes: Sequence[Envelope],
    trace_carriers: Sequence[Mapping[str, str]] | None = None,
) -> None:
    """Stage events for publication; call inside the transaction that made them true.
    Each event continues the current trace, or the one its ``trace_carriers`` entry names."""
    if envelopes:
        await write_together(connection, [staged(envelopes, trace_carriers)])


def staged(
    envelopes: Sequence[Envelope], trace_carriers: Sequence[Mapping[str, str]] | None = None
) -> Write:
    """The write of :func:`enqueue`, to make with others (:func:`hhc_chassis.db.together`)."""
    trace_carrier: dict[str, str] = {}
    propagate.inject(trace_carrier)
    carriers = trace_carriers or [trace_carrier] * len(envelopes)
    return (
        """INSERT INTO outbox (event_id, event_type, topic, message_key, payload, headers)
           SELECT event_id, event_type, topic, message_key, payload::jsonb, headers::jsonb
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                AS staged (event_id, event_type, topic, message_key, payload, headers)""",
        (
            [envelope.event_id for envelope in envelopes],
            [envelope.event_type for envelope in envelopes],
            [topic_of(envelope) for envelope in envelopes],
            [
                str(envelope.case_id) if envelope.case_id else envelope.event_type
                for envelope in envelopes
            ],
            [envelope.model_dump_json() for envelope in envelopes],
            [
                json.dumps({**carrier, **envelope.headers()})
                for envelope, carrier in zip(envelopes, carriers, strict=True)
            ],
        ),
    )


_DUE_ROWS = """SELECT id, topic, message_key, payload::text AS value, headers::text AS headers,
       attempts, EXTRACT(EPOCH FROM now() - first_failed_at)::float8 AS failing_for
FROM outbox row
WHERE published_at IS NULL AND parked_at IS NULL AND next_attempt_at <= now() {excluding}
  AND NOT EXISTS (
      SELECT FROM outbox earlier
      WHERE earlier.message_key = row.message_key AND earlier.id < row.id
        AND earlier.published_at IS NULL
        AND (earlier.parked_at IS NOT NULL OR earlier.next_attempt_at > now()))
ORDER BY id LIMIT {limit}"""
"""The rows that may go now: each key's rows in id order, none behind a row of its key that
is parked or backing off. ``excluding``: a further condition (rows being marked, which the
statement's own snapshot still shows unpublished)."""

_MARK_PUBLISHED = """UPDATE outbox
SET published_at = now(), payload = coalesce(sent.value::jsonb, payload)
FROM unnest($1::bigint[], $2::text[]) AS sent (id, value)
WHERE outbox.id = sent.id"""
"""The row keeps the value as published: sealed, never the clear original."""


_CUSTOM_PLANS = "SET plan_cache_mode = force_custom_plan"
"""The relay's statements join a pass's ids (an array) with ``outbox``. A generic plan, which
a prepared statement settles on after five runs, is made for an array of unknown length and
for the table as it then was: made while the table was small, it read the whole table at
every pass until the next ANALYZE, and the table keeps its published rows for
``OUTBOX_RETENTION``. Planned for each pass's own ids, the mark reads only their rows; a
plan costs a fraction of a millisecond, once per pass."""


def _marked(published: Sequence[tuple[int, str | None]]) -> tuple[list[int], list[str | None]]:
    return [row_id for row_id, _ in published], [value for _, value in published]


@dataclass(slots=True)
class BatchOutcome:
    """What one pass of the relay did."""

    published: int = 0
    failed: int = 0
    parked: int = 0
    full: bool = False
    wait_seconds: float = 0.0
    pending: bool = False
    """Rows remain unpublished (due now, backing off, or behind a failed row)."""


@dataclass(slots=True)
class _Failure:
    row: asyncpg.Record
    error: BaseException
    park: bool = False


class OutboxRelay:
    def __init__(
        self,
        *,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        sender: Sender,
        schema: str,
        batch_size: int = 200,
        idle_poll_seconds: float = 2.0,
        max_backoff_seconds: float = 30.0,
        stall_seconds: float = 30.0,
        unknown_topic_grace_seconds: float = 300.0,
        send_timeout_seconds: float = 15.0,
        observe_every_seconds: float = 10.0,
        case_keys: CaseKeys | None = None,
    ) -> None:
        self._connect = connect
        self.case_keys = case_keys
        self._sender = sender
        self._channel = f"{schema}_outbox"
        self._lock_key = f"hhc-outbox-relay:{schema}"
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._stall_seconds = stall_seconds
        self._unknown_topic_grace_seconds = unknown_topic_grace_seconds
        self._send_timeout_seconds = send_timeout_seconds
        self._observe_every_seconds = observe_every_seconds
        self._observed_at: float | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.is_leader = False
        self.handovers = 0
        self._next_rows: list[asyncpg.Record] | None = None
        """Due rows read with the last batch's mark, to publish next."""
        self._rows_may_wait = True
        """Whether a row may be waiting for a later time (backing off, or written to be
        due later): until the relay has seen that none is, it asks when the next is due."""

    def stop(self) -> None:
        """Finish the batch in hand, then return from :meth:`run`."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        self._set_leader(False)
        while not self._stopping.is_set():
            try:
                connection = await self._connect()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                failures += 1
                log.warning("outbox relay cannot reach the database: %s", type(error).__name__)
                await self._pause(min(self._max_backoff_seconds, 0.5 * 2**failures))
                continue
            handed_over = False
            try:
                failures = 0
                handed_over = await self._lead(connection)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("outbox relay lost its connection: %s", type(error).__name__)
                await self._pause(1.0)
            finally:
                self._set_leader(False)
                await close_quietly(connection)
            if handed_over:
                # Leave the lock to a replica that can publish, then stand by again.
                await self._pause(self._stall_seconds)

    async def _lead(self, connection: asyncpg.Connection) -> bool:
        """Publish while leading; True when leadership was given up for want of progress."""
        await connection.execute(_CUSTOM_PLANS)
        while not await connection.fetchval(
            "SELECT pg_try_advisory_lock(hashtext($1))", self._lock_key
        ):
            # Standing by, every replica still reports the outbox: whichever one Prometheus
            # asks, the backlog it reports is current.
            await self._observe(connection)
            if await self._pause(self._idle_poll_seconds):
                return False
        self._set_leader(True)
        self._rows_may_wait = True  # what the previous leader left is not known here
        self._next_rows = None
        log.info("outbox relay leads", extra={"channel": self._channel})
        await connection.add_listener(self._channel, self._on_notify)
        stalled_since: float | None = None
        while not self._stopping.is_set():
            self._wake.clear()
            outcome = await self.publish_due(connection)
            await self._observe(connection)
            if outcome.published or not outcome.pending:
                stalled_since = None
            elif outcome.failed:
                stalled_since = stalled_since or time.monotonic()
            if stalled_since is not None and time.monotonic() - stalled_since >= (
                self._stall_seconds
            ):
                self.handovers += 1
                log.error(
                    "outbox relay cannot publish, giving up leadership",
                    extra={"channel": self._channel, "stalled_seconds": self._stall_seconds},
                )
                return True
            if outcome.wait_seconds > 0:
                await self._pause(outcome.wait_seconds)
        return False

    def _set_leader(self, leading: bool) -> None:
        self.is_leader = leading
        relay_leader.set({"channel": self._channel}, 1.0 if leading else 0.0)

    async def _observe(self, connection: asyncpg.Connection) -> None:
        """Every ``observe_every_seconds``: the outbox's backlog, oldest unpublished row and
        parked rows, for the gauges to report (a scrape never queries)."""
        now = time.monotonic()
        if self._observed_at is not None and now - self._observed_at < (
            self._observe_every_seconds
        ):
            return
        self._observed_at = now
        state = await outbox_state(connection)
        channel = {"channel": self._channel}
        outbox_backlog.set(channel, state.unpublished)
        outbox_parked_rows.set(channel, state.parked)
        outbox_oldest_unpublished.set(channel, state.oldest_unpublished_seconds or 0.0)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _pause(self, seconds: float) -> bool:
        """Sleep until woken or the time is up; True when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()
        return self._stopping.is_set()

    async def publish_due(self, connection: asyncpg.Connection) -> BatchOutcome:
        """Publish one batch of due rows, keeping each key's order."""
        rows, self._next_rows = self._next_rows, None
        if rows is None:
            rows = await connection.fetch(
                _DUE_ROWS.format(excluding="", limit="$1"), self._batch_size
            )
        outcome = BatchOutcome(full=len(rows) == self._batch_size)
        if rows:
            published, failures = await self._send_all(rows)
            if published and not failures:
                # Marked, and the next batch read, in one round trip: the rows written
                # while this batch was out go next without waiting for their NOTIFY.
                self._next_rows = await connection.fetch(
                    f"WITH marked AS ({_MARK_PUBLISHED}) "
                    + _DUE_ROWS.format(excluding="AND row.id <> ALL($1::bigint[])", limit="$3"),
                    *_marked(published),
                    self._batch_size,
                )
            elif published:
                await connection.execute(_MARK_PUBLISHED, *_marked(published))
            if published:
                outbox_published.add(len(published), {"channel": self._channel})
            for failure in failures:
                await self._record_failure(connection, failure)
            outcome.published = len(published)
            outcome.failed = len(failures)
            outcome.parked = sum(failure.park for failure in failures)
        if self._next_rows or (outcome.full and outcome.published):
            return outcome  # more may be due now
        self._next_rows = None  # none was due when marked: the next NOTIFY says when
        if outcome.failed:
            self._rows_may_wait = True
        elif not self._rows_may_wait:
            # Everything due went out and nothing waits for a later time: no query, and the
            # next batch comes with a writer's NOTIFY or the idle poll.
            outcome.wait_seconds = self._idle_poll_seconds
            return outcome
        # When the next row can go: the earliest due time among each key's first unpublished
        # row (rows behind it wait for it; rows behind a parked one wait for an operator).
        next_due = await connection.fetchval(
            """SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - now())::float8
               FROM outbox row
               WHERE published_at IS NULL AND parked_at IS NULL
                 AND NOT EXISTS (
                     SELECT FROM outbox earlier
                     WHERE earlier.message_key = row.message_key AND earlier.id < row.id
                       AND earlier.published_at IS NULL)"""
        )
        # NULL when nothing waits (GREATEST would turn that into 0: a busy loop).
        outcome.pending = self._rows_may_wait = next_due is not None
        outcome.wait_seconds = (
            self._idle_poll_seconds
            if next_due is None
            else min(self._idle_poll_seconds, max(float(next_due), 0.01 if outcome.failed else 0))
        )
        return outcome

    async def _send_all(
        self, rows: Sequence[asyncpg.Record]
    ) -> tuple[list[tuple[int, str | None]], list[_Failure]]:
        """(id, value as sent if sealing changed it) of the rows the broker acknowledged,
        and the failures."""
        blocked_keys: set[str] = set()
        unknown_topics: set[str] = set()
        failures: list[_Failure] = []
        in_flight: list[tuple[asyncpg.Record, str | None, asyncio.Future[Any]]] = []
        documents = [_parsed(row["value"]) for row in rows]
        keys = self.case_keys
        if keys is not None:
            # The batch's keys in one go, not one round trip after another as rows go out.
            keys = await KeysAtHand.fetch(
                keys,
                {
                    case
                    for document in documents
                    if document is not None and (case := case_to_seal(document)) is not None
                },
            )
        for row, document in zip(rows, documents, strict=True):
            if row["message_key"] in blocked_keys:
                continue  # behind a row of its own key that failed in this batch
            try:
                if row["topic"] in unknown_topics or not await self._sender.topic_exists(
                    row["topic"], timeout=min(self._send_timeout_seconds, 3.0)
                ):
                    unknown_topics.add(row["topic"])
                    raise UnknownTopicOrPartitionError(f"unknown topic {row['topic']}")
                sealed = (
                    await seal_message(row["value"], keys)
                    if document is None
                    else await seal_document(document, row["value"], keys)
                )
                if sealed.withheld:
                    personal_parts_withheld.add(1, {"channel": self._channel})
                in_flight.append(
                    (
                        row,
                        sealed.value if sealed.changed else None,
                        await self._hand_over(row, sealed.value),
                    )
                )
            except Exception as error:
                failures.append(_Failure(row, error))
                blocked_keys.add(row["message_key"])
        if in_flight:
            # One wait for the whole batch: a task per row (gather of wait_for) costs a
            # turn of the event loop each, and intake's loop is busy with requests.
            await asyncio.wait(
                [future for _, _, future in in_flight], timeout=self._send_timeout_seconds
            )
        published: list[tuple[int, str | None]] = []
        for row, value, future in in_flight:
            if not future.done():
                future.cancel()  # not acknowledged in time: sent again later, as a failure
                failures.append(_Failure(row, TimeoutError("no acknowledgement in time")))
            elif future.cancelled():
                failures.append(_Failure(row, asyncio.CancelledError()))
            elif (refused := future.exception()) is not None:
                failures.append(_Failure(row, refused))
            else:
                published.append((row["id"], value))
        for failure in failures:
            failure.park = self._never_publishable(failure)
        return published, failures

    async def _hand_over(self, row: asyncpg.Record, value: str) -> "asyncio.Future[Any]":
        headers: dict[str, str] = json.loads(row["headers"])
        # Continue the trace of the transaction that wrote the row, not the relay's own.
        token = otel_context.attach(propagate.extract(headers))
        try:
            # Not wait_for: its task per row would wait a turn of the loop each.
            async with asyncio.timeout(self._send_timeout_seconds):
                return await self._sender.send(
                    row["topic"], row["message_key"].encode(), value.encode(), headers
                )
        finally:
            otel_context.detach(token)

    def _never_publishable(self, failure: _Failure) -> bool:
        if isinstance(failure.error, _NEVER_PUBLISHABLE):
            return True
        if isinstance(failure.error, UnknownTopicOrPartitionError):
            failing_for = failure.row["failing_for"]
            return failing_for is not None and failing_for >= self._unknown_topic_grace_seconds
        return False

    async def _record_failure(self, connection: asyncpg.Connection, failure: _Failure) -> None:
        error = failure.error
        reason = f"{type(error).__name__}: {error}"[:500]
        extra = {"outbox_id": failure.row["id"], "error_class": type(error).__name__}
        if failure.park:
            log.error("outbox row parked: it cannot be published as it is", extra=extra)
            outbox_parked.add(1, {"channel": self._channel})
            await connection.execute(
                """UPDATE outbox SET attempts = attempts + 1, last_error = $2, parked_at = now(),
                          first_failed_at = coalesce(first_failed_at, now())
                   WHERE id = $1""",
                failure.row["id"],
                reason,
            )
            return
        log.warning("outbox publish failed, backing off", extra=extra)
        await connection.execute(
            """UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                      first_failed_at = coalesce(first_failed_at, now()),
                      next_attempt_at = now() + make_interval(
                          secs => LEAST($3::float8, 0.2 * power(2, attempts)))
               WHERE id = $1""",
            failure.row["id"],
            reason,
            self._max_backoff_seconds,
        )


@dataclass(frozen=True, slots=True)
class OutboxState:
    unpublished: int
    parked: int
    oldest_unpublished_seconds: float | None


async def outbox_state(connection: asyncpg.Connection | asyncpg.Pool) -> OutboxState:
    row = await connection.fetchrow(
        """SELECT count(*) AS unpublished,
                  count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked,
                  EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS oldest
           FROM outbox WHERE published_at IS NULL"""
    )
    assert row is not None
    return OutboxState(row["unpublished"], row["parked"], row["oldest"])


async def release_parked(
    connection: asyncpg.Connection, schema: str, ids: Sequence[int] = ()
) -> int:
    """Put parked rows (all, or those ``ids``) back in line; the relay is woken."""
    released = await connection.fetch(
        """UPDATE outbox SET parked_at = NULL, next_attempt_at = now(), first_failed_at = NULL
           WHERE parked_at IS NOT NULL AND (cardinality($1::bigint[]) = 0 OR id = ANY($1))
           RETURNING id""",
        list(ids),
    )
    await connection.execute("SELECT pg_notify($1, '')", f"{schema}_outbox")
    return len(released)


def _parsed(value: str) -> dict[str, Any] | None:
    """A row's value parsed, or None to leave a broken one to fail as it is sent."""
    try:
        document = json.loads(value)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
