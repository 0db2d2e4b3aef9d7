"""What the lifecycle and worklist tests share: intake served with settings of their own,
staff of given roles, and risk's events published to the broker as risk would."""

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel, SecretStr

from hhc_chassis.events import new_envelope, topic_of
from hhc_chassis.sealing import LocalKeyWrapper, unseal
from hhc_contracts import SealedPersonal
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, serving_service
from hhc_devstack.system import dev_key_encryption_key
from hhc_intake.app import definition
from hhc_intake.settings import IntakeSettings

from .conftest import Intake


@asynccontextmanager
async def intake_serving(
    postgres_server_url: str, broker: Broker, **settings: Any
) -> AsyncIterator[Intake]:
    """Intake in-process on a fresh database and the session's broker. Its case keys are
    wrapped with the development key-encryption key of its database, which
    :func:`staged` uses to open what the relay sealed."""
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    configured = IntakeSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-intake-lifecycle-{uuid.uuid4().hex[:8]}",
        **{"case_key_kek": SecretStr(dev_key_encryption_key(database_url)), **settings},
    )
    async with serving_service(definition(configured)) as urls:
        yield Intake(urls.staff, urls.public or "", database_url)


class Staff:
    """A member of staff of given roles and team, with a subject of their own."""

    def __init__(
        self, intake: Intake, issue_token: TokenFactory, role: str, team: str | None = None
    ) -> None:
        self.subject = f"{role}-{uuid.uuid4().hex[:6]}"
        self.client = httpx.AsyncClient(
            base_url=intake.url,
            headers=bearer(issue_token(role, team=team, subject=self.subject)),
        )

    async def open_case(self, **changes: Any) -> str:
        response = await self.client.post("/v1/reports", json=report_body(**changes))
        assert response.status_code == 202, response.text
        case_id: str = response.json()["case_id"]
        return case_id

    async def case(self, case_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/cases/{case_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def close(self) -> None:
        await self.client.aclose()


def report_body(role: str = "survivor", **changes: Any) -> dict[str, Any]:
    named = role not in ("survivor", "anonymous")
    return {
        "channel": "telephone",
        "reporter": {"role": role, "name": "B. Friend"} if named else {"role": role},
        "survivor": {"is_customer": True, "name": f"Resident {uuid.uuid4().hex[:8]}"},
        "alleged_perpetrators": [{"kind": "customer"}],
        "incident": {"categories": ["verbal_abuse"], "perceived_motivation": ["race"]},
        "immediate_danger": False,
        **changes,
    }


async def publish_as_risk(broker: Broker, *payloads: BaseModel) -> None:
    """Risk's events, on risk's topics, keyed by their case as risk's outbox keys them."""
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        for payload in payloads:
            case_id = getattr(payload, "case_id")  # noqa: B009 - every risk event names one
            envelope = new_envelope(payload, case_id=case_id, occurred_at=datetime.now(UTC))
            await producer.send_and_wait(
                topic_of(envelope),
                envelope.model_dump_json().encode(),
                key=str(case_id).encode(),
                headers=[(k, v.encode()) for k, v in envelope.headers().items()],
            )
    finally:
        await producer.stop()


async def staged(database_url: str, case_id: str, *event_types: str) -> list[dict[str, Any]]:
    """Payloads of the case's events of these types in intake's outbox, in order, each
    personal part opened if the relay has sealed it as it published the row."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            """SELECT event_type, payload FROM intake.outbox
               WHERE message_key = $1 AND event_type = ANY($2::text[]) ORDER BY id""",
            case_id,
            list(event_types),
        )
        wrapped = await connection.fetchval(
            "SELECT wrapped_key FROM intake.case_keys WHERE case_id = $1", uuid.UUID(case_id)
        )
    finally:
        await connection.close()
    wrapper = LocalKeyWrapper.from_base64(dev_key_encryption_key(database_url))
    payloads = []
    for row in rows:
        document = json.loads(row["payload"])
        payload = document["payload"]
        if document.get("sealed"):
            payload["personal"] = unseal(
                SealedPersonal.model_validate(document["sealed"]),
                wrapper.unwrap(wrapped),
                case_id=uuid.UUID(case_id),
                event_id=uuid.UUID(document["event_id"]),
            )
        payloads.append({"event_type": row["event_type"], **payload})
    return payloads
