"""A case erased at intake is erased in referrals too (policy 3.5.2; issue 9, item 6),
served in-process against a fresh database and the session's broker: intake's and risk's
events are published to their topics as they would be.

The survivor's details and account, whom staff spoke to on the telephone and the incident
number they were given, why consent was overridden, the actions a meeting agreed, the
notes and evidence of a rehousing request, the reason for an exemption: none is in any of
referrals' tables afterwards, while another case's still is; the referrals themselves
stay; the disposal is on the audit topic with its counts. A report whose personal part is
empty (its key destroyed) still gets its referral made, with nothing personal in it.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pydantic import BaseModel

from hhc_devstack.events import publish_as_producer
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import (
    Broker,
    serving_service,
)
from hhc_referrals.app import definition
from hhc_referrals.settings import ReferralsSettings

TEAM = "north"
CASEWORKER = "caseworker-41"
ERASED_WORDS = ("Zephyrine", "Larkspur", "PC ZQ Quillon", "CAD-ZQ-7781", "Operator ZQ", "JAG-ZQ")


@dataclass(frozen=True)
class Referrals:
    url: str
    settings: ReferralsSettings
    broker: Broker


@pytest.fixture(scope="module")
async def referrals(postgres_server_url: str, broker: Broker) -> AsyncIterator[Referrals]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = ReferralsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-referrals-erasure-{uuid.uuid4().hex[:8]}",
    )
    async with serving_service(definition(settings)) as urls:
        yield Referrals(urls.staff, settings, broker)


async def publish(referrals: Referrals, case_id: uuid.UUID, payload: BaseModel) -> None:
    """Publish as its producer (intake, risk) does: its envelope and headers."""
    await publish_as_producer(referrals.broker.bootstrap_servers, case_id, payload)
