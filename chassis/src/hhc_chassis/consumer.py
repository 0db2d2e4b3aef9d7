"""Consuming events: decode, de-duplicate, handle in one transaction, retry, dead-letter.

Delivery is at least once; the inbox makes the effect exactly once. A partition's
messages are handled one at a time and the offset is committed only after a message
was handled or dead-lettered, so a later message never commits past an earlier one
that failed (design.md, "failures").
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from opentelemetry import trace
from pydantic import BaseModel, ValidationError

from hhc_chassis.errors import PermanentError, is_transient
from hhc_contracts import Envelope, EventHeaders, dead_letter_topic, model_for

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, Envelope, Any], Awaitable[None]]
"""handler(connection, envelope, payload): runs inside the consumer's transaction."""

RawPublish = Callable[[str, bytes | None, bytes, dict[str, str]], Awaitable[None]]


class InvalidMessage(Exception):
    """The message cannot be decoded or does not match its schema."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_seconds: float = 0.2
    max_delay_seconds: float = 30.0

    def delay(self, attempt: int) -> float:
        capped = min(self.max_delay_seconds, self.base_delay_seconds * 2.0 ** (attempt - 1))
        return capped * random.uniform(0.5, 1.0)


def _describe_validation_error(error: ValidationError) -> str:
    # include_input=False: the rejected values may be personal data.
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    )


def decode(value: bytes | None, handled_types: Mapping[str, Handler]) -> tuple[Envelope, Any]:
    """The envelope and typed payload, or InvalidMessage naming what is wrong."""
    if value is None:
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


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        pool: asyncpg.Pool,
        handlers: Mapping[str, Handler],
        publish_raw: RawPublish,
        retry: RetryPolicy,
    ) -> None:
        self.name = name
        self._pool = pool
        self._handlers = handlers
        self._publish_raw = publish_raw
        self._retry = retry

    async def consume(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Handle one record completely; returns only when the offset may be committed."""
        try:
            envelope, payload = decode(record.value, self._handlers)
        except InvalidMessage as error:
            await self._dead_letter(record, None, reason=str(error), error=error, attempts=1)
            return
        handler = self._handlers.get(envelope.event_type)
        if handler is None:
            return
        span = trace.get_current_span()
        span.set_attribute("hhc.event.type", envelope.event_type)
        span.set_attribute("hhc.event.id", str(envelope.event_id))
        if envelope.case_id:
            span.set_attribute("hhc.case.id", str(envelope.case_id))

        attempt = 0
        while True:
            attempt += 1
            try:
                await self._handle_once(record, envelope, payload, handler)
                return
            except PermanentError as error:
                await self._dead_letter(record, envelope, str(error), error, attempt)
                return
            except Exception as error:
                transient = is_transient(error)
                if not transient and attempt >= self._retry.max_attempts:
                    await self._dead_letter(
                        record,
                        envelope,
                        f"handler failed {attempt} times: {type(error).__name__}",
                        error,
                        attempt,
                    )
                    return
                delay = self._retry.delay(min(attempt, 20))
                log.warning(
                    "handling failed, will retry",
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
                await asyncio.sleep(delay)

    async def _handle_once(
        self,
        record: ConsumerRecord[bytes, bytes],
        envelope: Envelope,
        payload: Any,
        handler: Handler,
    ) -> None:
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
            await handler(connection, envelope, payload)

    async def _dead_letter(
        self,
        record: ConsumerRecord[bytes, bytes],
        envelope: Envelope | None,
        reason: str,
        error: BaseException,
        attempts: int,
    ) -> None:
        headers = {name: value.decode(errors="replace") for name, value in record.headers or ()}
        headers.update(
            {
                EventHeaders.DLQ_REASON: reason[:1000],
                EventHeaders.DLQ_ERROR_CLASS: type(error).__name__,
                EventHeaders.DLQ_ATTEMPTS: str(attempts),
                EventHeaders.DLQ_CONSUMER: self.name,
                EventHeaders.DLQ_ORIGINAL_TOPIC: record.topic,
                EventHeaders.DLQ_ORIGINAL_PARTITION: str(record.partition),
                EventHeaders.DLQ_ORIGINAL_OFFSET: str(record.offset),
            }
        )
        log.error(
            "message dead-lettered",
            extra={
                "consumer": self.name,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason[:1000],
            },
        )
        trace.get_current_span().set_attribute("hhc.dead_lettered", True)
        # Until the dead-letter topic has it, the message must not be committed past:
        # every failure here is retried.
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._publish_raw(
                    dead_letter_topic(record.topic), record.key, record.value or b"", headers
                )
                break
            except Exception as publish_error:
                log.warning(
                    "dead-letter publish failed, will retry",
                    extra={"consumer": self.name, "error_class": type(publish_error).__name__},
                )
                await asyncio.sleep(self._retry.delay(min(attempt, 20)))
        try:
            async with self._pool.acquire() as connection:
                await connection.execute(
                    """INSERT INTO dead_letters (consumer, topic, kafka_partition, kafka_offset,
                           event_id, event_type, reason, error_class, attempts)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                    self.name,
                    record.topic,
                    record.partition,
                    record.offset,
                    envelope.event_id if envelope else None,
                    envelope.event_type if envelope else None,
                    reason[:1000],
                    type(error).__name__,
                    attempts,
                )
        except Exception as record_error:
            # The message is safe on the dead-letter topic; only the operators' index of it
            # is missing, which the log line above stands in for.
            log.warning(
                "dead letter not recorded in the database",
                extra={"consumer": self.name, "error_class": type(record_error).__name__},
            )
