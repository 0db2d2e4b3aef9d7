"""Faults: a service killed mid-stream, the broker gone, a poison message. Nothing lost,
nothing done twice."""

import asyncio
import signal
import uuid

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from hhc_contracts import EventHeaders, Topic, dead_letter_topic
from hhc_devstack.pytest_plugin import Broker, eventually, kafka_consumer
from hhc_devstack.system import ServiceProcesses

from .conftest import report_body, wait_for_timeline


async def submit_reports(intake: httpx.AsyncClient, count: int, batch: int = 10) -> list[str]:
    case_ids: list[str] = []
    for start in range(0, count, batch):
        responses = await asyncio.gather(
            *(
                intake.post("/v1/reports", json=report_body())
                for _ in range(min(batch, count - start))
            )
        )
        assert [r.status_code for r in responses] == [202] * len(responses)
        case_ids.extend(r.json()["case_id"] for r in responses)
    return case_ids


async def assessments_per_case(database_url: str, case_ids: list[str]) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            """SELECT case_id::text, count(*) AS n FROM risk.assessments
               WHERE case_id = ANY($1::uuid[]) GROUP BY case_id""",
            case_ids,
        )
    finally:
        await connection.close()
    return {row["case_id"]: row["n"] for row in rows}


async def _assessed_at_least(database_url: str, count: int) -> bool:
    connection = await asyncpg.connect(database_url)
    try:
        return bool(await connection.fetchval("SELECT count(*) >= $1 FROM risk.assessments", count))
    finally:
        await connection.close()


async def _each_assessed_once(database_url: str, case_ids: list[str]) -> None:
    async def all_assessed() -> dict[str, int] | None:
        counts = await assessments_per_case(database_url, case_ids)
        return counts if len(counts) == len(case_ids) else None

    counts = await eventually(all_assessed, timeout=120, message="reports left unassessed")
    assert set(counts.values()) == {1}


async def test_risk_killed_mid_stream_assesses_every_report_exactly_once(
    system: ServiceProcesses, clients: dict[str, httpx.AsyncClient], database_url: str
) -> None:
    submitting = asyncio.create_task(submit_reports(clients["intake"], 200))
    await eventually(lambda: _assessed_at_least(database_url, 20), message="risk never started")
    system.kill("risk")
    case_ids = await submitting
    system.start("risk")
    system.wait_ready(["risk"])

    await _each_assessed_once(database_url, case_ids)


async def test_sigterm_finishes_in_flight_work_and_exits_cleanly(
    system: ServiceProcesses, clients: dict[str, httpx.AsyncClient], database_url: str
) -> None:
    submitting = asyncio.create_task(submit_reports(clients["intake"], 60))
    await eventually(lambda: _assessed_at_least(database_url, 10), message="risk never started")
    # uvicorn re-raises SIGTERM once it has shut down gracefully.
    assert system.stop("risk") in (0, -signal.SIGTERM)
    assert '"message": "service stopped"' in system.log("risk")
    case_ids = await submitting
    system.start("risk")
    system.wait_ready(["risk"])

    await _each_assessed_once(database_url, case_ids)


async def test_poison_message_is_dead_lettered_with_its_reason_and_the_next_flows(
    system: ServiceProcesses, clients: dict[str, httpx.AsyncClient], broker: Broker
) -> None:
    poison_key = str(uuid.uuid4()).encode()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            Topic.INTAKE_CASES.value, b'{"event_type": "intake.report-received"}', key=poison_key
        )
    finally:
        await producer.stop()

    response = await clients["intake"].post("/v1/reports", json=report_body())
    await wait_for_timeline(clients["reporting"], response.json()["case_id"], "risk.risk-assessed")

    dead_letter_consumers: set[str] = set()
    async with kafka_consumer(
        broker.bootstrap_servers, dead_letter_topic(Topic.INTAKE_CASES.value)
    ) as consumer:

        async def every_consumer_dead_lettered_it() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    if record.key != poison_key:
                        continue
                    headers = {name: value.decode() for name, value in record.headers}
                    assert headers[EventHeaders.DLQ_REASON].startswith("invalid envelope")
                    assert "event_id: Field required" in headers[EventHeaders.DLQ_REASON]
                    dead_letter_consumers.add(headers[EventHeaders.DLQ_CONSUMER])
            # Consumers are named by group: <prefix>-<service>.
            services = {consumer.rsplit("-", 1)[-1] for consumer in dead_letter_consumers}
            return services >= {"risk", "enforcement", "reporting"}

        await eventually(every_consumer_dead_lettered_it, message="poison not dead-lettered")
