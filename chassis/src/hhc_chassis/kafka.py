"""Kafka clients, configured once for every service: aiokafka with nothing in between.

No framework parses a message before our code sees it: values reach the consumer as
bytes and header values are decoded leniently, so a message another system got wrong
is dead-lettered by us rather than skipped by a parser (the class of faststream bug
#2618 named in design.md). Idempotent producers stay off: Tansu, the embedded broker,
refuses them, and the inbox makes redelivery harmless on Apache Kafka too.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import RecordMetadata
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from hhc_chassis.settings import ServiceSettings

log = logging.getLogger(__name__)
tracer = trace.get_tracer("hhc_chassis.kafka")

RawHeaders = Sequence[tuple[str, bytes]]

# Room left for the record's own overhead when deciding whether a value fits a request.
_RECORD_OVERHEAD_BYTES = 16 * 1024


def decode_headers(raw: RawHeaders | None) -> dict[str, str]:
    """Header values as text; bytes that are not UTF-8 are replaced, never refused."""
    return {name: value.decode("utf-8", errors="replace") for name, value in raw or ()}


def connection_options(settings: ServiceSettings) -> dict[str, Any]:
    """How every client of the service reaches the brokers: the bootstrap servers and,
    in production, TLS (mutual, for a KafkaUser with tls authentication) or SASL over TLS.
    Every aiokafka client the services make takes these."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.endswith("SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_ca_file,
            certfile=settings.kafka_ssl_cert_file,
            keyfile=settings.kafka_ssl_key_file,
        )
    if settings.kafka_security_protocol.startswith("SASL_"):
        assert settings.kafka_sasl_password is not None  # the settings' validator
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
        }
    return options


async def end_offsets(
    partitions: Sequence[TopicPartition], *, wait_seconds: float = 10, **client_options: Any
) -> dict[TopicPartition, int]:
    """Each partition's end offset now (its high watermark), as a fetch answers it, read by
    a client of its own: no group, nothing committed, no other reader's position moved.

    Not ``AIOKafkaConsumer.end_offsets`` alone: Tansu answers a request for the latest
    offset with the partition's last record batch's base offset plus one, so where that
    batch holds several records the partition ends later than it says (a consumer group
    started "at the end" read the batch's tail again; a reader that stopped there missed
    it). A fetch from that offset answers with the true high watermark, on Apache Kafka as
    on Tansu. ``client_options``: how to reach the brokers (:func:`connection_options`)."""
    reader = AIOKafkaConsumer(enable_auto_commit=False, fetch_max_wait_ms=10, **client_options)
    await reader.start()
    try:
        listed = await reader.end_offsets(list(partitions))
        reader.assign(list(partitions))
        for partition, end in listed.items():
            reader.seek(partition, end)
        deadline = time.monotonic() + wait_seconds
        while any(reader.highwater(partition) is None for partition in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError("no fetch answered with the partitions' high watermarks")
            await reader.getmany(timeout_ms=100, max_records=1)
        return later_ends(listed, reader)
    finally:
        await reader.stop()


def later_ends(
    listed: Mapping[TopicPartition, int], client: AIOKafkaConsumer
) -> dict[TopicPartition, int]:
    """Each partition's end: the later of the broker's answer to a request for the latest
    offset (``listed``) and the high watermark of ``client``'s last fetch of it (the true
    end on Tansu, whose answer can fall inside the last record batch)."""
    return {
        partition: max(end, client.highwater(partition) or 0) for partition, end in listed.items()
    }


def consumer_for(settings: ServiceSettings, topics: Sequence[str]) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        **connection_options(settings),
        client_id=f"hhc-{settings.service_name}",
        group_id=settings.group_id,
        # Offsets are committed by us, per partition, only after handling.
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        fetch_min_bytes=settings.consumer_fetch_min_bytes,
        # Members must rejoin a rebalance within this, or are left out of it: a member that
        # died without leaving must not hold the group's partitions for long. Rejoining
        # waits for the batch in hand (at most 0.6 x SHUTDOWN_GRACE_SECONDS).
        rebalance_timeout_ms=int(max(20.0, settings.shutdown_grace_seconds * 1.5) * 1000),
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_session_timeout_ms // 3,
    )


class Publisher:
    """One producer per process: the outbox relay and dead-lettering share it."""

    def __init__(self, settings: ServiceSettings, **overrides: Any) -> None:
        options: dict[str, Any] = {
            **connection_options(settings),
            "client_id": f"hhc-{settings.service_name}",
            "acks": "all",
            "enable_idempotence": False,
            "linger_ms": 2,
            "request_timeout_ms": int(settings.relay_send_timeout_seconds * 1000),
        }
        self._producer = AIOKafkaProducer(**{**options, **overrides})
        self.connected = asyncio.Event()
        self.max_request_size: int = self._producer._max_request_size

    async def connect(self, *, stopping: asyncio.Event | None = None) -> bool:
        """Start the producer, retrying with backoff until the broker answers.

        Returns False when ``stopping`` was set before it could connect.
        """
        failures = 0
        while stopping is None or not stopping.is_set():
            try:
                await self._producer.start()
            except (KafkaError, OSError) as error:
                failures += 1
                log.warning(
                    "broker not reachable, retrying",
                    extra={"error_class": type(error).__name__, "attempt": failures},
                )
                delay = min(10.0, 0.5 * 2**failures)
                if stopping is None:
                    await asyncio.sleep(delay)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), timeout=delay)
                continue
            self.connected.set()
            log.info("broker connected")
            return True
        return False

    async def close(self) -> None:
        if self.connected.is_set():
            self.connected.clear()
            await self._producer.stop()

    async def is_reachable(self, timeout: float = 2.0) -> bool:  # noqa: ASYNC109
        if not self.connected.is_set():
            return False
        try:
            async with asyncio.timeout(timeout):
                await self._producer.client.fetch_all_metadata()
        except Exception:
            return False
        return True

    def fits(self, value: bytes) -> bool:
        return len(value) + _RECORD_OVERHEAD_BYTES <= self.max_request_size

    async def topic_exists(self, topic: str, timeout: float) -> bool:  # noqa: ASYNC109
        """Whether the broker knows the topic, asking it for at most ``timeout`` seconds."""
        client = self._producer.client
        if client.cluster.partitions_for_topic(topic) is not None:
            return True
        try:
            async with asyncio.timeout(timeout):
                await client._wait_on_metadata(topic)
        except (TimeoutError, KafkaError):
            return False
        return True

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> "asyncio.Future[Any]":
        """Hand a record to the producer under a ``<topic> publish`` span continuing the
        current trace; the returned future resolves when the broker acknowledged it.
        Raises at once for what can never be sent (too large, unknown topic)."""
        await self.connected.wait()
        with tracer.start_as_current_span(
            f"{topic} publish",
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic},
        ):
            carrier = dict(headers)
            propagate.inject(carrier)
            future: asyncio.Future[Any] = await self._producer.send(
                topic,
                value,
                key=key,
                headers=[(name, text.encode()) for name, text in carrier.items()],
            )
            return future

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> RecordMetadata:
        """Send and wait for the broker's acknowledgement; where the record now is."""
        metadata: RecordMetadata = await (await self.send(topic, key, value, headers))
        return metadata
