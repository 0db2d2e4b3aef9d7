"""The example subscriber against the local broker, fed the contracts' own example messages."""

import asyncio
import json
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from hhc_example_subscriber import Handled, handle, subscribe

from hhc_contracts import EVENT_TYPES, Envelope, Topic
from hhc_contracts.examples import example_message
from hhc_devstack.pytest_plugin import Broker, eventually


def example(event_type: str, case_id: uuid.UUID) -> Envelope:
    """The golden example of an event, moved to a case of this test's own."""
    message = example_message(EVENT_TYPES[(event_type, 1)])
    payload = {**message.payload, "case_id": str(case_id)}
    return message.model_copy(
        update={"event_id": uuid.uuid4(), "case_id": case_id, "payload": payload}
    )


def personal_values(message: Envelope) -> list[str]:
    personal: dict[str, Any] = message.payload.get("personal") or {}
    return [value for value in personal.values() if isinstance(value, str) and value]


async def publish(
    bootstrap_servers: str, case_id: uuid.UUID, messages: list[tuple[bytes, dict[str, str]]]
) -> None:
    """In order on one partition, as intake keys a case's events by its id."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value, headers in messages:
            await producer.send_and_wait(
                Topic.INTAKE_CASES.value,
                value,
                key=str(case_id).encode(),
                headers=[(name, text.encode()) for name, text in headers.items()],
            )
    finally:
        await producer.stop()


async def test_subscriber_handles_its_events_and_skips_the_rest(broker: Broker) -> None:
    case_id = uuid.uuid4()
    received = example("intake.report-received", case_id)
    closed = example("intake.case-status-changed", case_id)
    not_handled = example("intake.consent-changed", case_id)
    # A newer producer's message: an unknown field in the envelope and the payload.
    newer = json.loads(received.model_dump_json())
    newer.update(event_id=str(uuid.uuid4()), delivered_by="a later version")
    newer["payload"]["survivor_pronouns"] = "they/them"
    unknown_type = {**newer, "event_id": str(uuid.uuid4()), "event_type": "intake.case-merged"}
    # An event claiming to come from a service that does not produce it.
    impostor = received.model_copy(update={"event_id": uuid.uuid4(), "producer": "reporting"})
    await publish(
        broker.bootstrap_servers,
        case_id,
        [
            (received.model_dump_json().encode(), received.headers()),
            (b"not json", {}),
            (json.dumps(unknown_type).encode(), {}),
            (not_handled.model_dump_json().encode(), not_handled.headers()),
            (json.dumps(newer).encode(), received.headers()),
            (impostor.model_dump_json().encode(), impostor.headers()),
            (closed.model_dump_json().encode(), closed.headers()),
        ],
    )

    lines: list[str] = []
    ours: list[Handled] = []

    def on_handled(handled: Handled) -> None:
        lines.append(handled.line())
        if handled.case_id == case_id:  # the topic is shared with the other tests
            ours.append(handled)

    stop = asyncio.Event()
    subscriber = asyncio.create_task(
        subscribe(
            {"bootstrap_servers": broker.bootstrap_servers},
            f"example-subscriber-{uuid.uuid4().hex[:8]}",
            on_handled,
            stop,
        )
    )

    async def all_three_handled() -> bool:
        return len(ours) >= 3

    try:
        await eventually(all_three_handled, message="the subscriber's events")
    finally:
        stop.set()
        await subscriber

    assert [(handled.event_id, handled.summary) for handled in ours] == [
        (received.event_id, "classification=hate_crime track=customer_case channel=telephone"),
        (
            uuid.UUID(newer["event_id"]),
            "classification=hate_crime track=customer_case channel=telephone",
        ),
        (closed.event_id, "status=awaiting_closure->closed"),
    ]
    printed = "\n".join(lines)
    for secret in personal_values(received) + personal_values(closed) + ["they/them"]:
        assert secret not in printed


def test_unknown_event_types_and_versions_are_none_of_its_business() -> None:
    message = json.loads(example("intake.report-received", uuid.uuid4()).model_dump_json())
    later_version = {**message, "schema_version": 2}
    assert handle(Topic.INTAKE_CASES.value, json.dumps(later_version).encode()) is None
    assert handle(Topic.INTAKE_CASES.value, json.dumps(message).encode()) is not None
