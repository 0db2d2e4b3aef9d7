"""Fixtures for intake's web tests: intake served in-process (staff and public listeners)
against a fresh database and the session's broker, and Debian's Chromium driven by
Playwright.

The browser fixtures come from :mod:`hhc_devstack.browser`.
"""

import base64
import ipaddress
import itertools
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

# The browser fixtures, shared with the cross-service tests.
from hhc_devstack.browser import axe_script, browser, chromium  # noqa: F401
from hhc_devstack.infrastructure import create_database
from hhc_devstack.pytest_plugin import Broker, serving_service
from hhc_intake.app import definition
from hhc_intake.settings import IntakeSettings


@dataclass(frozen=True)
class Intake:
    url: str
    """The staff listener: API, /docs, probes."""
    public_url: str
    """The public listener: pages, form, status lookup."""
    database_url: str


# Low enough for a test to reach in a few requests. Each test comes from addresses of its
# own (X-Forwarded-For, which uvicorn believes from 127.0.0.1), so none uses up another's.
SUBMIT_RATE = 8
STATUS_RATE = 8
_addresses = itertools.count(1)


def new_kek() -> SecretStr:
    """A key-encryption key for intake's case keys (CASE_KEY_KEK), new for each intake."""
    return SecretStr(base64.b64encode(os.urandom(32)).decode())


def client_address() -> str:
    """A documentation address (RFC 5737) no other test of this session uses."""
    return str(ipaddress.IPv4Address("198.18.0.0") + next(_addresses))


def from_client(address: str | None = None) -> dict[str, str]:
    return {"X-Forwarded-For": address or client_address()}


@pytest.fixture(scope="module")
async def intake(postgres_server_url: str, broker: Broker) -> AsyncIterator[Intake]:
    """Intake, both listeners, in-process against a fresh database and the session's
    broker, ready (database and broker answer) for a module's tests. Tests that count
    cases count what they added."""
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = IntakeSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-intake-web-{uuid.uuid4().hex[:8]}",
        public_form_secret=SecretStr("test-form-secret"),
        public_submit_rate_limit=f"{SUBMIT_RATE}/minute",
        public_status_rate_limit=f"{STATUS_RATE}/minute",
        case_key_kek=new_kek(),
    )
    async with serving_service(definition(settings)) as urls:
        assert urls.public is not None
        yield Intake(urls.staff, urls.public, database_url)
