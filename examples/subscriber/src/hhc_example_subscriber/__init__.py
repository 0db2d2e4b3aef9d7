"""An example subscriber: what a system outside the case system needs to read its events.

It reads ``hhc.intake.cases.v1``, parses each message with ``hhc_contracts``, acts on
the two event types it cares about (new cases and their status) and skips the rest:
event types and versions it does not know, fields it does not know (the models ignore
them), and messages it cannot trust or parse. What it prints names the case by id and
the event by its vocabulary, never anything from a payload's ``personal`` part.

Offsets are committed after a batch is handled, so a restart reads again what was not
finished: whatever it does with an event must be safe to do twice (the event id is
the key to de-duplicate on).

Connection settings are the case system's own (``KAFKA_BOOTSTRAP_SERVERS``,
``KAFKA_SECURITY_PROTOCOL`` SSL or SASL_SSL, ``KAFKA_SSL_CA_FILE``, ``KAFKA_SSL_CERT_FILE``,
``KAFKA_SSL_KEY_FILE``, ``KAFKA_SASL_MECHANISM``, ``KAFKA_SASL_USERNAME``,
``KAFKA_SASL_PASSWORD``), plus ``SUBSCRIBER_GROUP_ID``.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer
from aiokafka.helpers import create_ssl_context
from pydantic import BaseModel, ValidationError

from hhc_contracts import EVENT_TYPES, Envelope, EventHeaders, Topic
from hhc_contracts.trust import trust_problem
from hhc_contracts.v1 import CaseStatusChanged, ReportReceived

log = logging.getLogger("hhc_example_subscriber")

TOPIC = Topic.INTAKE_CASES.value
HANDLED = frozenset({("intake.report-received", 1), ("intake.case-status-changed", 1)})
"""(event type, version) this subscriber acts on; everything else on the topic is skipped."""


@dataclass(frozen=True, slots=True)
class Handled:
    event_id: UUID
    event_type: str
    case_id: UUID | None
    summary: str
    """From the payload's vocabulary only: nothing personal."""

    def line(self) -> str:
        return f"{self.event_type} case={self.case_id} {self.summary}"


def _summary(payload: BaseModel) -> str:
    # Enum values print as received, recognised or not (vocabulary.OpenEnum).
    if isinstance(payload, ReportReceived):
        return (
            f"classification={payload.classification} track={payload.track} "
            f"channel={payload.channel}"
        )
    if isinstance(payload, CaseStatusChanged):
        return f"status={payload.previous_status}->{payload.status}"
    return ""


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    return next((value.decode() for key, value in headers if key == name), None)


def handle(
    topic: str, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()
) -> Handled | None:
    """What one message means to this subscriber, or None when it is none of its business.

    Reasons for skipping are logged by kind, never with the message's content.
    """
    if value is None:
        return None
    try:
        envelope = Envelope.model_validate_json(value)
    except ValidationError:
        log.warning("skipped a message that is not an event envelope")
        return None
    key = (envelope.event_type, envelope.schema_version)
    if key not in HANDLED:
        return None  # not ours: another event type, or a version this copy does not know
    try:
        payload = EVENT_TYPES[key].model.model_validate(envelope.payload)
    except ValidationError as error:
        # Field names only: the error's text would quote the values.
        fields = sorted({".".join(map(str, detail["loc"])) for detail in error.errors()})
        log.warning(
            "skipped %s %s: invalid fields %s", envelope.event_type, envelope.event_id, fields
        )
        return None
    if problem := trust_problem(topic, _header(headers, EventHeaders.PRODUCER), envelope, payload):
        log.warning("skipped %s %s: %s", envelope.event_type, envelope.event_id, problem)
        return None
    return Handled(envelope.event_id, envelope.event_type, envelope.case_id, _summary(payload))


def connection_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """aiokafka's options from the case system's KAFKA_* settings."""
    protocol = environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    options: dict[str, Any] = {
        "bootstrap_servers": environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        "security_protocol": protocol,
    }
    if protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = create_ssl_context(
            cafile=environ.get("KAFKA_SSL_CA_FILE"),
            certfile=environ.get("KAFKA_SSL_CERT_FILE"),
            keyfile=environ.get("KAFKA_SSL_KEY_FILE"),
        )
    if protocol.startswith("SASL_"):
        options["sasl_mechanism"] = environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
        options["sasl_plain_username"] = environ["KAFKA_SASL_USERNAME"]
        options["sasl_plain_password"] = environ["KAFKA_SASL_PASSWORD"]
    return options


async def subscribe(
    options: Mapping[str, Any],
    group_id: str,
    on_handled: Callable[[Handled], None],
    stop: asyncio.Event,
) -> None:
    """Read the topic until ``stop`` is set, committing each batch once it is handled."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if handled := handle(record.topic, record.value, record.headers):
                        on_handled(handled)
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    group_id = os.environ.get("SUBSCRIBER_GROUP_ID", "example-subscriber")
    # Ctrl-C cancels the loop, and subscribe() leaves the group on its way out.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            subscribe(
                connection_options(os.environ),
                group_id,
                lambda handled: print(handled.line(), flush=True),
                asyncio.Event(),
            )
        )


__all__ = ["HANDLED", "TOPIC", "Handled", "connection_options", "handle", "main", "subscribe"]
