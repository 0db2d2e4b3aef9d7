"""Consuming events: decode, de-duplicate, handle in one transaction, retry, dead-letter.

Delivery is at least once; the inbox makes the effect exactly once (design.md,
"failures"). The guarantees, and where each is kept:

- Nothing is lost unseen. Every record the broker hands over reaches :meth:`EventConsumer.
  decode_all` as bytes; it is handled, retried or dead-lettered, never skipped.
- Nothing is committed past an unhandled message. A partition's records are handled in
  order by one worker; :class:`PartitionedConsumer` commits, for each partition, the
  offset after the last record that worker finished, and only that partition's own.
- Partitions do not wait for each other's retries: a message being retried holds back
  only the later messages of its partition.
- What one fetch brings is handled in one database transaction (one inbox insert for all
  of it), across its partitions, while they are paused. If any record is invalid or any
  handler fails, that transaction is undone and each partition is handled by a worker of
  its own, side by side: its records in one transaction, and if that fails too, one at a
  time, each with its own retries. (A handler that is slow without failing, within the
  statement timeout, holds back the partitions fetched with it for that long.)
- Retries are bounded: a handler error ``retry_max_attempts`` times, an infrastructure
  error (database or broker away) for ``retry_max_seconds``; then the message is
  dead-lettered (``transient-gave-up`` for the latter) and the partition moves on.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ValidationError

from hhc_chassis.db import Write
from hhc_chassis.errors import PermanentError, is_transient
from hhc_chassis.kafka import Publisher, consumer_for, decode_headers, later_ends
from hhc_chassis.metrics import (
    consumer_lag,
    handler_duration,
    messages_dead_lettered,
    messages_handled,
    messages_retried,
    unrecognised_values_seen,
    untrusted_events,
)
from hhc_chassis.sealing import CaseKeys, fetch_keys, opened_payload
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import (
    Envelope,
    EventHeaders,
    dead_letter_topic,
    model_for,
    unrecognised_values,
)
from hhc_contracts.trust import UNTRUSTED_EVENT, trust_problem

log = logging.getLogger(__name__)
tracer = trace.get_tracer("hhc_chassis.consumer")

Handler = Callable[[asyncpg.Connection, Envelope, Any], Awaitable[None]]
TrustCheck = Callable[[str, str | None, Envelope, Any], str | None]
"""Why an event must not be acted on (topic, producer header, envelope, payload), or None."""
"""handler(connection, envelope, payload): runs inside the consumer's transaction."""

Record: TypeAlias = ConsumerRecord[bytes, bytes]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Selective:
    """A handler for only some events of its type: ``concerns(payload)`` says which (from
    fields that are never sealed). The others are passed over before any transaction, as
    events of a type the consumer does not handle are: they would change nothing, so they
    need no inbox row, and a busy topic costs a service only the events it acts on."""

    handle: Handler
    concerns: Callable[[Any], bool]

    async def __call__(
        self, connection: asyncpg.Connection, envelope: Envelope, payload: Any
    ) -> None:
        await self.handle(connection, envelope, payload)


@dataclass(frozen=True, slots=True)
class Projection:
    """Writes of what an event says, each idempotent and never read by a handler in the
    same transaction: ``writes(envelope, payload)`` says what (pure). In a batch, all its
    messages' writes are made after the handlers have run, grouped by statement, one
    ``executemany`` each, each statement's in the order of the events: a round trip per
    batch instead of one per event. ``handler``: one to run for the event as well, first."""

    writes: Callable[[Envelope, Any], Sequence[Write]]
    handler: Handler | None = None

    async def __call__(
        self, connection: asyncpg.Connection, envelope: Envelope, payload: Any
    ) -> None:
        if (handler := _to_run(self.handler, payload)) is not None:
            await handler(connection, envelope, payload)
        for statement, arguments in self.writes(envelope, payload):
            await connection.execute(statement, *arguments)


def _to_run(handler: Handler | None, payload: Any) -> Handler | None:
    """The handler, unless it is a selective one the payload does not concern (a projection's
    handler runs beside writes that concern every event of its type)."""
    if isinstance(handler, Selective) and not handler.concerns(payload):
        return None
    return handler


def grouped(writes_of_events: Sequence[Sequence[Write]]) -> dict[str, list[tuple[Any, ...]]]:
    """Writes by statement, each statement's in the order of the events."""
    statements: dict[str, list[tuple[Any, ...]]] = {}
    for writes in writes_of_events:
        for statement, arguments in writes:
            statements.setdefault(statement, []).append(arguments)
    return statements


TRANSIENT_GAVE_UP = "transient-gave-up"
CASE_ERASED = "intake.case-erased"


class InvalidMessage(Exception):
    """The message cannot be decoded or does not match its schema."""


class Abandoned(Exception):
    """The partition was taken away or the service is stopping: leave the message unhandled
    (and uncommitted) for whoever consumes the partition next."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_seconds: float = 0.2
    max_delay_seconds: float = 30.0
    max_seconds: float = 600.0

    def delay(self, attempt: int) -> float:
        capped = min(self.max_delay_seconds, self.base_delay_seconds * 2.0 ** min(attempt - 1, 30))
        return capped * random.uniform(0.5, 1.0)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "RetryPolicy":
        return cls(
            max_attempts=settings.retry_max_attempts,
            base_delay_seconds=settings.retry_base_delay_seconds,
            max_delay_seconds=settings.retry_max_delay_seconds,
            max_seconds=settings.retry_max_seconds,
        )


def _describe_validation_error(error: ValidationError) -> str:
    # include_input=False: the rejected values may be personal data.
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    )


def decode(value: bytes | None, handled_types: Mapping[str, Handler]) -> tuple[Envelope, Any]:
    """The envelope and typed payload, or InvalidMessage naming what is wrong."""
    if not value:
        raise InvalidMessage("message has no value")
    try:
        envelope = Envelope.model_validate_json(value)
    except ValidationError as error:
        raise InvalidMessage(f"invalid envelope: {_describe_validation_error(error)}") from None
    if envelope.event_type not in handled_types:
        return envelope, None
    model: type[BaseModel] | None = model_for(envelope.event_type, envelope.schema_version)
    if model is None:
        raise InvalidMessage(
            f"unsupported schema version {envelope.schema_version} of {envelope.event_type}"
        )
    try:
        payload = model.model_validate(envelope.payload)
    except ValidationError as error:
        raise InvalidMessage(
            f"invalid {envelope.event_type} payload: {_describe_validation_error(error)}"
        ) from None
    return envelope, payload


@dataclass(slots=True)
class _Message:
    record: Record
    headers: dict[str, str]
    envelope: Envelope | None = None
    payload: Any = None
    handler: Handler | None = None
    invalid: InvalidMessage | None = None

    @contextlib.contextmanager
    def span(self) -> Iterator[None]:
        """A ``<topic> process`` span continuing the producer's trace from the headers."""
        record = self.record
        with tracer.start_as_current_span(
            f"{record.topic} process",
            context=propagate.extract(self.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        ) as span:
            if self.envelope is not None:
                span.set_attribute("hhc.event.type", self.envelope.event_type)
                span.set_attribute("hhc.event.id", str(self.envelope.event_id))
                if self.envelope.case_id:
                    span.set_attribute("hhc.case.id", str(self.envelope.case_id))
            yield


class EventConsumer:
    """Handles the records of one partition, in order; knows nothing of offsets."""

    def __init__(
        self,
        *,
        name: str,
        pool: asyncpg.Pool,
        handlers: Mapping[str, Handler],
        publisher: Publisher,
        retry: RetryPolicy,
        trust: TrustCheck = trust_problem,
        case_keys: CaseKeys | None = None,
        opens_personal_data: bool = False,
    ) -> None:
        self.name = name
        self._case_keys = case_keys
        self._opens_personal_data = opens_personal_data
        self._trust = trust
        self._pool = pool
        self._handlers = handlers
        self._publisher = publisher
        self._retry = retry

    def _decode(self, record: Record) -> _Message:
        message = _Message(record=record, headers=decode_headers(record.headers))
        try:
            message.envelope, message.payload = decode(record.value, self._handlers)
        except InvalidMessage as error:
            message.invalid = error
            return message
        message.handler = self._handlers.get(message.envelope.event_type)
        if message.handler is not None and (
            problem := self._trust(
                record.topic,
                message.headers.get(EventHeaders.PRODUCER),
                message.envelope,
                message.payload,
            )
        ):
            # Never acted on: a forged or misrouted event goes to the dead letters, counted.
            untrusted_events.add(1, self._attributes(message))
            message.invalid = InvalidMessage(f"{UNTRUSTED_EVENT}: {problem}")
            message.handler = None
            return message
        if isinstance(message.payload, BaseModel) and (
            fields := unrecognised_values(message.payload)
        ):
            # Handled with the rules' safe defaults; counted so that operators know this
            # consumer is older than its producer.
            unrecognised_values_seen.add(len(fields), self._attributes(message))
            log.warning(
                "event carries values this consumer does not know",
                extra={
                    "consumer": self.name,
                    "event_type": message.envelope.event_type,
                    "event_id": str(message.envelope.event_id),
                    "fields": fields,
                },
            )
        if isinstance(message.handler, Selective) and not message.handler.concerns(message.payload):
            message.handler = None
        return message

    def decode_all(self, records: Sequence[Record]) -> list["_Message"]:
        return [self._decode(record) for record in records]

    async def handle_at_once(self, messages: Sequence["_Message"]) -> bool:
        """Handle the messages (of several partitions) in one transaction, if that can be
        done: True when it was, False when nothing was done (one was invalid, or a handler
        failed and the transaction was undone) and each partition must be handled on its own,
        where a failure holds back only its own partition."""
        if any(message.invalid is not None for message in messages):
            return False
        to_handle = [message for message in messages if message.handler is not None]
        if not to_handle:
            return True
        if self._opens_personal_data and any(
            message.envelope is not None and message.envelope.sealed is not None
            for message in to_handle
        ):
            # Opening may mean fetching a case key from intake: each partition waits for
            # its own keys, rather than every partition for every key (measured: the
            # immediate-danger hop through referrals went from 0.1 s to 0.7 s at 50/s).
            return False
        return await self._tried_together(to_handle, "handling each partition on its own")

    async def _tried_together(self, to_handle: Sequence["_Message"], otherwise: str) -> bool:
        """Whether the messages were handled in one transaction; if not, it was undone."""
        try:
            await self._handle_together(to_handle)
        except Exception as error:
            log.info(
                f"batch failed, {otherwise}",
                extra={
                    "consumer": self.name,
                    "messages": len(to_handle),
                    "error_class": type(error).__name__,
                },
            )
            return False
        return True

    async def handle_decoded(
        self, messages: Sequence["_Message"], abandoned: Callable[[], bool] = lambda: False
    ) -> None:
        """Handle every message (of one partition, decoded by :meth:`decode_all`); returns
        only when all may be committed. Raises :class:`Abandoned` when ``abandoned()``
        turns true while a message waits to retry."""
        for message in messages:
            if message.invalid is not None:
                with message.span():
                    await self._dead_letter(message, str(message.invalid), message.invalid, 1)
        to_handle = [message for message in messages if message.handler is not None]
        if not to_handle:
            return
        await self._fetch_keys_ahead(to_handle)
        if len(to_handle) > 1 and await self._tried_together(
            to_handle, "handling its messages one at a time"
        ):
            return
        for message in to_handle:
            with message.span():
                await self._handle_alone(message, abandoned)

    async def _handle_together(self, messages: Sequence[_Message]) -> None:
        envelopes = [message.envelope for message in messages if message.envelope is not None]
        assert len(envelopes) == len(messages), "only decoded messages are handled"
        async with self._pool.acquire() as connection, connection.transaction():
            first_deliveries = set(
                await connection.fetchval(
                    """WITH arrived AS (
                           INSERT INTO inbox (consumer, event_id, event_type, topic,
                                              kafka_partition, kafka_offset)
                           SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[],
                                                    $5::int[], $6::bigint[])
                           ON CONFLICT DO NOTHING RETURNING event_id)
                       SELECT coalesce(array_agg(event_id), '{}') FROM arrived""",
                    self.name,
                    [envelope.event_id for envelope in envelopes],
                    [envelope.event_type for envelope in envelopes],
                    [message.record.topic for message in messages],
                    [message.record.partition for message in messages],
                    [message.record.offset for message in messages],
                )
            )
            projected: list[Sequence[Write]] = []
            for message in messages:
                assert message.envelope is not None
                assert message.handler is not None
                if message.envelope.event_id not in first_deliveries:
                    continue  # a duplicate, in this batch or delivered before
                first_deliveries.discard(message.envelope.event_id)
                with message.span():
                    if isinstance(message.handler, Projection):
                        await self._timed(message, connection, message.handler.handler)
                        projected.append(message.handler.writes(message.envelope, message.payload))
                    else:
                        await self._timed(message, connection, message.handler)
            for statement, arguments in grouped(projected).items():
                await connection.executemany(statement, arguments)
        for message in messages:
            messages_handled.add(1, self._attributes(message))

    async def _handle_alone(self, message: _Message, abandoned: Callable[[], bool]) -> None:
        assert message.envelope is not None
        assert message.handler is not None
        envelope = message.envelope
        attempt = 0
        first_failure: float | None = None
        while True:
            attempt += 1
            try:
                await self._handle_once(message)
                messages_handled.add(1, self._attributes(message))
                return
            except PermanentError as error:
                # The class only: an error's message, written for a developer, may name a
                # person, and dead letters are read by operators (policy 3.5.1).
                await self._dead_letter(
                    message, f"permanent-error: {type(error).__name__}", error, attempt
                )
                return
            except Exception as error:
                transient = is_transient(error)
                now = time.monotonic()
                first_failure = first_failure or now
                if transient and now - first_failure >= self._retry.max_seconds:
                    await self._dead_letter(
                        message,
                        f"{TRANSIENT_GAVE_UP}: still failing after {round(now - first_failure)}"
                        f" s and {attempt} attempts: {type(error).__name__}",
                        error,
                        attempt,
                    )
                    return
                if not transient and attempt >= self._retry.max_attempts:
                    await self._dead_letter(
                        message,
                        f"handler failed {attempt} times: {type(error).__name__}",
                        error,
                        attempt,
                    )
                    return
                delay = self._retry.delay(attempt)
                messages_retried.add(
                    1, {**self._attributes(message), "error_class": type(error).__name__}
                )
                log.warning(
                    "handling failed, will retry",
                    exc_info=not transient,
                    extra={
                        "consumer": self.name,
                        "event_id": str(envelope.event_id),
                        "event_type": envelope.event_type,
                        "attempt": attempt,
                        "transient": transient,
                        "error_class": type(error).__name__,
                        "retry_in_seconds": round(delay, 2),
                    },
                )
                await _sleep_unless(abandoned, delay)

    def _attributes(self, message: _Message) -> dict[str, str]:
        """Metric attributes of a message: its consumer, topic and event type (a type this
        consumer handles, or "other": what arrives is not to choose our label values)."""
        envelope = message.envelope
        return {
            "consumer": self.name,
            "topic": message.record.topic,
            "event_type": envelope.event_type
            if envelope is not None and envelope.event_type in self._handlers
            else "other",
        }

    async def _timed(
        self, message: _Message, connection: asyncpg.Connection, handler: Handler | None
    ) -> None:
        """Open the message's sealed part and run ``handler`` (None: only open it)."""
        assert message.envelope is not None
        started = time.perf_counter()
        outcome = "error"
        try:
            await self._open_sealed(message)
            if (to_run := _to_run(handler, message.payload)) is not None:
                await to_run(connection, message.envelope, message.payload)
            self._forget_key_if_erased(message)
            outcome = "ok"
        finally:
            handler_duration.record(
                time.perf_counter() - started, {**self._attributes(message), "outcome": outcome}
            )

    def _forget_key_if_erased(self, message: _Message) -> None:
        assert message.envelope is not None
        if message.envelope.event_type == CASE_ERASED and self._case_keys is not None:
            # The key is destroyed at intake; no copy of it stays here either.
            self._case_keys.forget(message.payload.case_id)

    async def _fetch_keys_ahead(self, messages: Sequence[_Message]) -> None:
        """Fetch the keys of the batch's cases at once, before any transaction opens: each
        is then opened from the key source's cache instead of a round trip per case, one
        after the other, inside the transaction. A key that cannot be fetched now fails
        later, where the message is handled and retried."""
        if not self._opens_personal_data or self._case_keys is None:
            return
        keys = self._case_keys
        case_ids = {
            message.envelope.case_id
            for message in messages
            if message.envelope is not None
            and message.envelope.sealed is not None
            and message.envelope.case_id is not None
        }
        await fetch_keys(keys, case_ids)  # kept by the source's cache

    async def _open_sealed(self, message: _Message) -> None:
        """Put the sealed personal part back into the payload, for a consumer whose work
        needs it. A key that cannot be fetched now fails the handling (retried as any
        connection failure); a destroyed key leaves the part empty: the data is gone."""
        envelope = message.envelope
        if not self._opens_personal_data or envelope is None or envelope.sealed is None:
            return
        if not isinstance(message.payload, BaseModel):
            return
        opened = await opened_payload(envelope, self._case_keys)
        if opened is not None:
            message.payload = type(message.payload).model_validate(opened)

    async def _handle_once(self, message: _Message) -> None:
        record, envelope = message.record, message.envelope
        assert envelope is not None
        async with self._pool.acquire() as connection, connection.transaction():
            first_delivery = await connection.fetchval(
                """INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition,
                                      kafka_offset)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT DO NOTHING RETURNING true""",
                self.name,
                envelope.event_id,
                envelope.event_type,
                record.topic,
                record.partition,
                record.offset,
            )
            if not first_delivery:
                log.info(
                    "duplicate delivery skipped",
                    extra={"consumer": self.name, "event_id": str(envelope.event_id)},
                )
                return
            await self._timed(message, connection, message.handler)

    async def _dead_letter(
        self, message: _Message, reason: str, error: BaseException, attempts: int
    ) -> None:
        record = message.record
        reason = reason[:1000]
        headers = {
            **message.headers,
            EventHeaders.DLQ_REASON: reason,
            EventHeaders.DLQ_ERROR_CLASS: type(error).__name__,
            EventHeaders.DLQ_ATTEMPTS: str(attempts),
            EventHeaders.DLQ_CONSUMER: self.name,
            EventHeaders.DLQ_ORIGINAL_TOPIC: record.topic,
            EventHeaders.DLQ_ORIGINAL_PARTITION: str(record.partition),
            EventHeaders.DLQ_ORIGINAL_OFFSET: str(record.offset),
        }
        value = record.value or b""
        if not self._publisher.fits(value):
            # It would be refused again, for ever; operators find it at its original offset.
            headers[EventHeaders.DLQ_VALUE_OMITTED] = f"too large ({len(value)} bytes)"
            value = b""
        log.error(
            "message dead-lettered",
            extra={
                "consumer": self.name,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason,
            },
        )
        trace.get_current_span().set_attribute("hhc.dead_lettered", True)
        messages_dead_lettered.add(
            1,
            {
                **self._attributes(message),
                "reason": _reason_class(reason, error),
                "error_class": type(error).__name__,
            },
        )
        # Until the dead-letter topic has it and the table points at it, the message must not
        # be committed past: every failure here is retried. The row comes first, so that a
        # redelivery after a crash finds the record already copied and copies it no more.
        row_id, already_at = await self._until_done(
            "dead letter not recorded in the database",
            lambda: self._record_dead_letter(message, reason, error, attempts),
        )
        if already_at is not None:
            return
        dead_letters = dead_letter_topic(record.topic)
        metadata = await self._until_done(
            "dead-letter publish failed",
            lambda: self._publisher.publish(dead_letters, record.key, value, headers),
        )
        await self._until_done(
            "dead letter's place not recorded in the database",
            lambda: self._pool.execute(
                """UPDATE dead_letters SET dlq_topic = $2, dlq_partition = $3, dlq_offset = $4
                   WHERE id = $1""",
                row_id,
                dead_letters,
                metadata.partition,
                metadata.offset,
            ),
        )

    async def _record_dead_letter(
        self, message: _Message, reason: str, error: BaseException, attempts: int
    ) -> tuple[int, int | None]:
        """The dead letter's row (new, or the one a redelivery finds) and its offset on the
        dead-letter topic if it is there already."""
        record, envelope = message.record, message.envelope
        row = await self._pool.fetchrow(
            """INSERT INTO dead_letters (consumer, topic, kafka_partition, kafka_offset,
                   message_key, event_id, event_type, reason, reason_class, error_class,
                   attempts)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (consumer, topic, kafka_partition, kafka_offset)
                   DO UPDATE SET attempts = dead_letters.attempts
               RETURNING id, dlq_offset""",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            record.key.decode(errors="replace") if record.key is not None else None,
            envelope.event_id if envelope else None,
            envelope.event_type if envelope else None,
            reason,
            _reason_class(reason, error),
            type(error).__name__,
            attempts,
        )
        assert row is not None
        return row["id"], row["dlq_offset"]

    async def _until_done(self, failure: str, step: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await step()
            except Exception as step_error:
                log.warning(
                    f"{failure}, will retry",
                    extra={"consumer": self.name, "error_class": type(step_error).__name__},
                )
                await asyncio.sleep(self._retry.delay(attempt))


def _reason_class(reason: str, error: BaseException) -> str:
    """Why a message was dead-lettered, from a fixed set (a metric label; the reason itself,
    with its field names and counts, is in the dead letter's headers)."""
    if isinstance(error, InvalidMessage):
        return UNTRUSTED_EVENT if reason.startswith(UNTRUSTED_EVENT) else "invalid-message"
    if isinstance(error, PermanentError):
        return "permanent-error"
    if reason.startswith(TRANSIENT_GAVE_UP):
        return TRANSIENT_GAVE_UP
    return "handler-failed"


async def _sleep_unless(abandoned: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if abandoned():
            raise Abandoned
        await asyncio.sleep(min(left, 0.2))
    if abandoned():
        raise Abandoned


@dataclass(slots=True)
class _Partition:
    """What the fetch loop knows of one assigned partition."""

    handled_up_to: int | None = None
    """The offset after the last record handled: what may be committed."""
    committed: int | None = None
    fetched_from: int | None = None
    """The first offset fetched since assignment: what is next to handle until one is."""
    handled_since_commit: int = 0
    worker: asyncio.Task[None] | None = None
    revoked: bool = False


class PartitionedConsumer:
    """One group member for all of a service's topics, with workers for its partitions.

    The fetch loop pauses the partitions of a fetch while a worker handles what it
    brought (all of them in one transaction when it can), so each partition is handled in
    order and never by two workers at once, while other partitions go on. Offsets are
    committed per partition, after handling, every ``consumer_commit_every`` messages or
    ``consumer_commit_interval_ms``, and when a partition is revoked or the service stops.
    """

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        topics: Sequence[str],
        events: EventConsumer,
        client_factory: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._events = events
        self._client_factory = client_factory or (lambda: consumer_for(settings, self._topics))
        self._client: AIOKafkaConsumer | None = None
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._stopping = asyncio.Event()
        self._last_commit = time.monotonic()
        self._lag_observed_at = 0.0

    def stop(self) -> None:
        """Finish the records in hand, commit, leave the group."""
        self._stopping.set()

    async def run(self) -> None:
        client = self._client_factory()
        self._client = client
        client.subscribe(self._topics, listener=_Rebalance(self))
        try:
            if not await self._start(client):
                return
            while not self._stopping.is_set():
                fetched = await client.getmany(timeout_ms=self._settings.consumer_fetch_wait_ms)
                ready = [(partition, records) for partition, records in fetched.items() if records]
                if ready:
                    self._dispatch(client, ready)
                await self._commit(due_only=True)
                await self._observe_lag(client)
        finally:
            consumer_lag.forget((("consumer", self._events.name),))
            await self._finish(client)

    async def _start(self, client: AIOKafkaConsumer) -> bool:
        failures = 0
        while not self._stopping.is_set():
            try:
                await client.start()
                return True
            except (KafkaError, OSError) as error:
                failures += 1
                log.warning(
                    "consumer cannot reach the broker, retrying",
                    extra={"error_class": type(error).__name__, "attempt": failures},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), timeout=min(10.0, 0.5 * 2**failures)
                    )
        return False

    def _dispatch(
        self, client: AIOKafkaConsumer, ready: Sequence[tuple[TopicPartition, list[Record]]]
    ) -> None:
        """Hand what one fetch brought to one task: its partitions are paused until it ends."""
        group: list[tuple[TopicPartition, _Partition, list[Record]]] = []
        for partition, records in ready:
            state = self._partitions.setdefault(partition, _Partition())
            if state.fetched_from is None:
                state.fetched_from = records[0].offset
            if state.worker is not None and not state.worker.done():
                # Cannot happen while paused; if it did, handing over would break the order.
                raise RuntimeError(f"{partition} fetched while its worker is busy")
            client.pause(partition)
            group.append((partition, state, records))
        if len(group) == 1:
            work = self._work(client, *group[0])
        else:
            work = self._work_together(client, group)
        worker = asyncio.create_task(work, name=f"consume {len(group)} partitions")
        for _, state, _ in group:
            state.worker = worker

    async def _work_together(
        self,
        client: AIOKafkaConsumer,
        group: Sequence[tuple[TopicPartition, _Partition, list[Record]]],
    ) -> None:
        """The records of several partitions in one transaction when every one can be
        handled at once (fewer transactions under load); otherwise each partition on its
        own, side by side, so that a message retrying holds back only its own partition."""
        decoded: list[list[_Message] | None] = [None] * len(group)
        together = False
        if sum(len(records) for _, _, records in group) <= self._settings.consumer_batch_size:
            decoded = [self._events.decode_all(records) for _, _, records in group]
            if not any(state.revoked for _, state, _ in group):
                try:
                    together = await self._events.handle_at_once(
                        [message for messages in decoded if messages for message in messages]
                    )
                except Exception as error:
                    # Not expected; whatever it did is redelivered to the inbox's care.
                    log.exception(
                        "batch of several partitions failed unexpectedly",
                        extra={"consumer": self._events.name, "error_class": type(error).__name__},
                    )
        if together:
            for partition, state, records in group:
                state.handled_up_to = records[-1].offset + 1
                state.handled_since_commit += len(records)
                if not state.revoked and partition in client.assignment():
                    client.resume(partition)
            return
        # A worker each: a partition done is resumed and may be fetched again (and handed a
        # new worker) while another of the fetch still retries.
        workers = []
        for (partition, state, records), messages in zip(group, decoded, strict=True):
            state.worker = asyncio.create_task(
                self._work(client, partition, state, records, messages),
                name=f"consume {partition}",
            )
            workers.append(state.worker)
        await asyncio.gather(*workers)

    async def _work(
        self,
        client: AIOKafkaConsumer,
        partition: TopicPartition,
        state: _Partition,
        records: list[Record],
        decoded: Sequence[_Message] | None = None,
    ) -> None:
        def abandoned() -> bool:
            return state.revoked

        batch_size = self._settings.consumer_batch_size
        # Decoded already (and found not to go with other partitions'): one batch.
        batches = (
            [records]
            if decoded is not None
            else [
                records[start : start + batch_size] for start in range(0, len(records), batch_size)
            ]
        )
        try:
            for batch in batches:
                if abandoned():
                    return
                await self._events.handle_decoded(
                    decoded if decoded is not None else self._events.decode_all(batch), abandoned
                )
                state.handled_up_to = batch[-1].offset + 1
                state.handled_since_commit += len(batch)
        except Abandoned:
            return
        except Exception as error:
            # Not expected: handle_decoded handles, retries or dead-letters everything. Rewind
            # to the first unhandled record rather than let anything commit past it.
            log.exception(
                "consumer failed unexpectedly, redelivering",
                extra={"consumer": self._events.name, "error_class": type(error).__name__},
            )
            if not abandoned():
                first_unhandled = state.handled_up_to
                if first_unhandled is None or first_unhandled < records[0].offset:
                    first_unhandled = records[0].offset
                client.seek(partition, first_unhandled)
                await asyncio.sleep(self._settings.retry_max_delay_seconds)
        finally:
            if not abandoned() and partition in client.assignment():
                client.resume(partition)

    async def _observe_lag(self, client: AIOKafkaConsumer) -> None:
        """Every ``metrics_refresh_seconds``: each assigned partition's end offset (one
        request) less the next offset to handle there, for ``hhc.consumer.lag``. The end is
        the later of the broker's answer and the high watermark of the consumer's own last
        fetch: Tansu answers with its last record batch's base offset plus one, inside a
        batch of several records (``hhc_chassis.kafka.end_offsets``)."""
        now = time.monotonic()
        if now - self._lag_observed_at < self._settings.metrics_refresh_seconds:
            return
        self._lag_observed_at = now
        assigned = list(client.assignment())
        try:
            async with asyncio.timeout(2):
                ends = later_ends(await client.end_offsets(assigned) if assigned else {}, client)
                lag: dict[Any, float] = {}
                for partition in assigned:
                    state = self._partitions.get(partition)
                    next_to_handle = (
                        state.handled_up_to if state and state.handled_up_to is not None else None
                    )
                    if next_to_handle is None and state and state.fetched_from is not None:
                        next_to_handle = state.fetched_from
                    if next_to_handle is None:
                        next_to_handle = await client.position(partition)
                    lag[(("topic", partition.topic), ("partition", str(partition.partition)))] = (
                        max(0, ends[partition] - next_to_handle)
                    )
        except (KafkaError, OSError, TimeoutError, KeyError) as error:
            log.info("consumer lag not measured", extra={"error_class": type(error).__name__})
            return
        consumer_lag.replace((("consumer", self._events.name),), lag)

    async def _commit(self, *, due_only: bool, only: set[TopicPartition] | None = None) -> None:
        client = self._client
        if client is None:
            return
        settings = self._settings
        interval_passed = (
            time.monotonic() - self._last_commit >= settings.consumer_commit_interval_ms / 1000
        )
        offsets = {
            partition: state.handled_up_to
            for partition, state in self._partitions.items()
            if state.handled_up_to is not None
            and state.handled_up_to != state.committed
            and (only is None or partition in only)
            and (
                not due_only
                or interval_passed
                or state.handled_since_commit >= settings.consumer_commit_every
            )
        }
        if not offsets:
            if interval_passed:
                self._last_commit = time.monotonic()
            return
        try:
            await client.commit(offsets)
        except (KafkaError, OSError) as error:
            # Kept for the next try; at worst the new owner of a partition redelivers what
            # was handled since the last commit, which the inbox absorbs.
            log.warning("offset commit failed", extra={"error_class": type(error).__name__})
            return
        self._last_commit = time.monotonic()
        for partition, offset in offsets.items():
            state = self._partitions[partition]
            state.committed = offset
            state.handled_since_commit = 0

    async def _wait_for_workers(self, partitions: Sequence[TopicPartition]) -> None:
        """Let workers finish the records in hand; those still busy when most of the grace
        period is gone (a message retrying) give it up, uncommitted, for the next owner."""
        workers = [
            state.worker
            for partition in partitions
            if (state := self._partitions.get(partition)) and state.worker
        ]
        if not workers:
            return
        try:
            await asyncio.wait(workers, timeout=self._settings.shutdown_grace_seconds * 0.6)
        finally:
            for worker in workers:
                worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    def on_assigned(self, partitions: set[TopicPartition]) -> None:
        log.info(
            "partitions assigned",
            extra={"consumer": self._events.name, "partitions": sorted(map(str, partitions))},
        )

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        """Before another member gets them: finish the batch in hand, commit what was handled."""
        log.info(
            "partitions revoked",
            extra={"consumer": self._events.name, "partitions": len(partitions)},
        )
        for partition in partitions:
            if state := self._partitions.get(partition):
                state.revoked = True  # workers stop at the end of their batch
        await self._wait_for_workers(list(partitions))
        await self._commit(due_only=False, only=partitions)
        for partition in partitions:
            self._partitions.pop(partition, None)

    async def _finish(self, client: AIOKafkaConsumer) -> None:
        try:
            await self._wait_for_workers(list(self._partitions))
            await self._commit(due_only=False)
        except Exception as error:
            log.warning("final commit failed", extra={"error_class": type(error).__name__})
        finally:
            for state in self._partitions.values():
                if state.worker is not None:
                    state.worker.cancel()  # never leave a worker holding a connection
            self._partitions.clear()
            with contextlib.suppress(Exception):
                await client.stop()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: PartitionedConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._consumer.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._consumer.on_assigned(set(assigned))
