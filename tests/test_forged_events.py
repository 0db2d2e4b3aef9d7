"""Forged and misrouted events have no effect in any service (issue 9, verified
producers): each is dead-lettered as untrusted-event by every consumer that reads it."""

import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from hhc_contracts import EVENT_TYPES, Envelope, EventHeaders, Topic, dead_letter_topic
from hhc_contracts.examples import example_message
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually, kafka_consumer
from hhc_devstack.system import ServiceProcesses

from .conftest import report_body, wait_for_timeline

READERS_OF_INTAKE_CASES = {"risk", "referrals", "enforcement", "reporting"}


def _report_received(case_id: uuid.UUID, **envelope_changes: Any) -> Envelope:
    """An intake.report-received for a case intake never opened: immediate danger, a
    customer perpetrator, consent refused - what would set every service to work."""
    example = example_message(EVENT_TYPES[("intake.report-received", 1)])
    payload = {
        **example.payload,
        "case_id": str(case_id),
        "immediate_danger": True,
        "consent_to_share": "refused",
    }
    return example.model_copy(
        update={"event_id": uuid.uuid4(), "case_id": case_id, "payload": payload} | envelope_changes
    )


async def _send(
    producer: AIOKafkaProducer, topic: str, envelope: Envelope, headers: dict[str, str]
) -> None:
    await producer.send_and_wait(
        topic,
        envelope.model_dump_json().encode(),
        key=str(envelope.case_id).encode(),
        headers=[(name, value.encode()) for name, value in headers.items()],
    )


async def test_forged_events_change_nothing_and_are_dead_lettered_as_untrusted(
    shared_system: ServiceProcesses, broker: Broker, issue_token: TokenFactory
) -> None:
    forged_cases = {name: uuid.uuid4() for name in ("evil", "mismatch", "other case")}
    evil = _report_received(forged_cases["evil"], producer="evil")
    header_mismatch = _report_received(forged_cases["mismatch"])
    other_case = _report_received(forged_cases["other case"])
    other_case = other_case.model_copy(
        update={"payload": {**other_case.payload, "case_id": str(uuid.uuid4())}}
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        async with kafka_consumer(
            broker.bootstrap_servers, dead_letter_topic(Topic.INTAKE_CASES.value)
        ) as dead_letters:
            await _send(producer, Topic.INTAKE_CASES.value, evil, evil.headers())
            await _send(
                producer,
                Topic.INTAKE_CASES.value,
                header_mismatch,
                {**header_mismatch.headers(), EventHeaders.PRODUCER: "crm"},
            )
            await _send(producer, Topic.INTAKE_CASES.value, other_case, other_case.headers())

            reasons: dict[tuple[str, str], str] = {}
            keys = {str(case_id).encode(): name for name, case_id in forged_cases.items()}

            async def every_reader_refused_every_forgery() -> bool:
                for records in (await dead_letters.getmany(timeout_ms=200)).values():
                    for record in records:
                        if record.key not in keys:
                            continue
                        headers = {name: value.decode() for name, value in record.headers}
                        service = headers[EventHeaders.DLQ_CONSUMER].rsplit("-", 1)[-1]
                        reasons[(keys[record.key], service)] = headers[EventHeaders.DLQ_REASON]
                expected = {(name, s) for name in forged_cases for s in READERS_OF_INTAKE_CASES}
                return expected <= set(reasons)

            await eventually(every_reader_refused_every_forgery, message="not dead-lettered")
    finally:
        await producer.stop()
    assert all(reason.startswith("untrusted-event: ") for reason in reasons.values()), reasons

    # A genuine report still flows, and no service knows any forged case.
    dpo = bearer(issue_token("data_protection_officer"))
    clients = {
        service: httpx.AsyncClient(base_url=shared_system.url(service), headers=dpo, timeout=10)
        for service in ("intake", "risk", "referrals", "enforcement", "reporting")
    }
    try:
        genuine = await clients["intake"].post(
            "/v1/reports", json=report_body(), headers=bearer(issue_token("caseworker"))
        )
        assert genuine.status_code == 202, genuine.text
        await wait_for_timeline(
            clients["reporting"], genuine.json()["case_id"], "risk.risk-assessed"
        )
        for case_id in forged_cases.values():
            for service, path in (
                ("risk", f"/v1/cases/{case_id}/actions"),
                ("referrals", f"/v1/cases/{case_id}/referrals"),
                ("enforcement", f"/v1/cases/{case_id}/enforcement"),
                ("reporting", f"/v1/cases/{case_id}/timeline"),
            ):
                assert (await clients[service].get(path)).status_code == 404, (service, case_id)
    finally:
        for client in clients.values():
            await client.aclose()
