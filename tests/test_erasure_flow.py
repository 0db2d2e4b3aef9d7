"""Erasure across the whole system (issue 9, items 3 and 6; policy 3.5.2).

Two survivors report; each case flows through risk, referrals (which opens the sealed
personal part to share with partners what consent allows) and enforcement. The data
protection officer erases the first. Then every topic, dead-letter topics included, is
read from its earliest offset, and every table of every service is read whole: the first
survivor's distinctive name, phone and narrative are readable nowhere, while the second's
still open for a service that may hold their key. Reporting is never handed a key.
"""

import base64
import json
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from hhc_chassis.kafka import end_offsets
from hhc_chassis.sealing import unseal
from hhc_contracts import Envelope
from hhc_contracts.topics import all_topics
from hhc_devstack.partners import LocalPartners
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually
from hhc_devstack.stored import everything_stored
from hhc_devstack.system import SERVICE_PORTS, ServiceProcesses

from .conftest import report_body, wait_for_timeline


def distinctive(name: str, narrative: str) -> tuple[str, str, str]:
    """A name, phone and narrative found nowhere else on the session's shared broker."""
    tag = uuid.uuid4().hex[:8]
    return (
        f"{name} {tag.capitalize()}",
        f"07700 9{uuid.uuid4().int % 100000:05d}",
        f"{narrative}, note {tag}",
    )


ERASED = distinctive("Zephyrine Quoll", "purple van by the Larkspur Row garages")
KEPT = distinctive("Bartholomew Xylo", "green bicycle chained to the Tamarind Court railings")


def body_for(name: str, phone: str, narrative: str) -> dict[str, Any]:
    base = report_body()
    return report_body(
        survivor={**base["survivor"], "name": name, "phone": phone},
        incident={**base["incident"], "description": narrative},
    )


async def every_record(bootstrap_servers: str) -> list[bytes]:
    """Every record of every topic the system uses, from the earliest offset to the end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in all_topics()
            for partition in (
                consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
            )
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # Read to the true end: on Tansu the listed end can fall inside the last batch.
        ends = await end_offsets(partitions, bootstrap_servers=bootstrap_servers)
        values: list[bytes] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values.extend(record.value or b"" for record in records)
        return values
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def disposals_recorded(bootstrap_servers: str, case_id: str) -> set[str]:
    services: set[str] = set()
    for value in await every_record(bootstrap_servers):
        try:
            envelope = Envelope.model_validate_json(value)
        except ValueError:
            continue
        if envelope.event_type == "audit.retention-disposed" and str(envelope.case_id) == case_id:
            services.add(envelope.payload["service"])
    return services


async def test_an_erased_survivor_is_readable_nowhere_and_another_still_is(
    system: ServiceProcesses,
    clients: dict[str, httpx.AsyncClient],
    broker: Broker,
    database_url: str,
    issue_token: TokenFactory,
    local_partners: LocalPartners,
) -> None:
    intake = clients["intake"]
    erased_case = (await intake.post("/v1/reports", json=body_for(*ERASED))).json()["case_id"]
    kept_case = (await intake.post("/v1/reports", json=body_for(*KEPT))).json()["case_id"]
    for case_id in (erased_case, kept_case):
        # Referrals shared the report with a partner: it opened the sealed part.
        await wait_for_timeline(
            clients["reporting"], case_id, "referrals.referral-made", "enforcement.case-opened"
        )

    # Referrals opened the sealed report: a partner was told who to contact, as consent
    # allows (by webhook or by mail).
    await eventually(
        lambda: _told_a_partner(local_partners, KEPT[1]),
        message="no partner was given the survivor's contact details",
    )

    # Sealed from the start: nothing personal in clear on any topic, before any erasure.
    before = b"\n".join(await every_record(broker.bootstrap_servers))
    for distinctive in (*ERASED, *KEPT):
        assert distinctive.encode() not in before

    # Reporting may never fetch a key; referrals may, and each hand-out is audited.
    key_url = f"/v1/case-keys/{kept_case}"
    as_reporting = bearer(issue_token("service", subject="reporting"))
    assert (await intake.get(key_url, headers=as_reporting)).status_code == 403
    as_referrals = bearer(issue_token("service", subject="referrals"))

    caseworker = bearer(issue_token("caseworker", team="north", subject="cw-1"))
    refused = await intake.post(
        f"/v1/cases/{erased_case}/erasure", json={"reason": "subject request"}, headers=caseworker
    )
    assert refused.status_code == 403
    erased = await intake.post(
        f"/v1/cases/{erased_case}/erasure",
        json={"reason": "The survivor asked for their data to be erased (SAR-0042)."},
    )
    assert erased.status_code == 201, erased.text

    # Every service that kept personal data followed, and said so (ids and counts only).
    await eventually(
        lambda: _all_disposed(broker.bootstrap_servers, erased_case),
        timeout=60,
        message="not every service recorded the disposal",
    )
    assert (
        await intake.get(f"/v1/case-keys/{erased_case}", headers=as_referrals)
    ).status_code == 410

    after = await every_record(broker.bootstrap_servers)
    everything = b"\n".join(after)
    for distinctive in ERASED:
        assert distinctive.encode() not in everything
    rows = await everything_stored(database_url, list(SERVICE_PORTS))
    for distinctive in ERASED:
        assert distinctive not in rows
    assert KEPT[0] in rows  # intake still keeps the other survivor's report

    # The other survivor's sealed parts still open, for a service that may have the key.
    kept_key = await intake.get(key_url, headers=as_referrals)
    assert kept_key.status_code == 200
    opened = [
        unseal(
            envelope.sealed, _key(kept_key), case_id=envelope.case_id, event_id=envelope.event_id
        )
        for envelope in _sealed_envelopes(after)
        if str(envelope.case_id) == kept_case and envelope.sealed is not None and envelope.case_id
    ]
    assert any(KEPT[0] in json.dumps(personal) for personal in opened)


async def _told_a_partner(partners: LocalPartners, phone: str) -> bool:
    delivered = [request.body for request in partners.webhooks.received]
    delivered += [mail.raw for mail in partners.mail.received]
    return any(phone.encode() in body for body in delivered)


async def _all_disposed(bootstrap_servers: str, case_id: str) -> bool:
    return {"intake", "risk", "referrals", "enforcement"} <= await disposals_recorded(
        bootstrap_servers, case_id
    )


def _key(response: httpx.Response) -> bytes:
    return base64.b64decode(response.json()["key"])


def _sealed_envelopes(values: list[bytes]) -> list[Envelope]:
    found: list[Envelope] = []
    for value in values:
        try:
            envelope = Envelope.model_validate_json(value)
        except ValueError:
            continue
        if envelope.sealed is not None:
            found.append(envelope)
    return found
