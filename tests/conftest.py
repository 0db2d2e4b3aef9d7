"""The whole system started as processes, against the session's broker and a fresh database."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from hhc_chassis.kafka import end_offsets
from hhc_contracts import Envelope, Topic

# Pages people use are tested in a browser (hhc_devstack.browser).
from hhc_devstack.browser import axe_script, browser, chromium  # noqa: F401
from hhc_devstack.infrastructure import create_database, free_port, start_groups_at_the_end
from hhc_devstack.otlp import SpanCollector
from hhc_devstack.partners import LocalPartners
from hhc_devstack.partners import local_partners as partners_here
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually, kafka_consumer
from hhc_devstack.system import SERVICE_PORTS, ServiceProcesses
from hhc_referrals.catalogue import catalogue_at
from hhc_referrals.delivery import verify_signature

STAFF_SUBJECT = "officer-7"
STAFF_TEAM = "north"
"""Intake's default team: every test case lands there unless its report names an area."""
STAFF_ROLES = ("caseworker", "manager", "data_protection_officer")
"""Between them: submit reports and work the team's cases (caseworker), read the monthly
figures and publish them (manager), read every case, staff survivors' included (data
protection officer)."""


@pytest.fixture
def staff_token(issue_token: TokenFactory) -> str:
    """The token the test clients send unless a request names another."""
    return issue_token(*STAFF_ROLES, team=STAFF_TEAM, subject=STAFF_SUBJECT)


PARTNER_SECRET = b"partner-secret-for-tests"


@pytest.fixture(scope="session")
def local_partners(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPartners]:
    """A deployment's own partner endpoints, as ``PARTNER_CATALOGUE_FILE`` sets them."""
    with partners_here(
        tmp_path_factory.mktemp("partners") / "catalogue.json",
        catalogue_at,
        secret=PARTNER_SECRET,
        verify=verify_signature,
    ) as partners:
        yield partners


@pytest.fixture(scope="session")
def span_collector() -> Iterator[SpanCollector]:
    collector = SpanCollector()
    collector.start()
    yield collector
    collector.stop()


@pytest.fixture
def system_env() -> dict[str, str]:
    """Extra environment for every service; a test module overrides it to change settings."""
    return {}


_systems_running: list[str] = []
"""The consumer-group prefix of each system this test process runs now (one at most)."""


@contextlib.contextmanager
def running_system(
    database_url: str,
    broker: Broker,
    collector: SpanCollector,
    log_dir: Path,
    extra_env: dict[str, str],
) -> Iterator[ServiceProcesses]:
    # Each system its own consumer groups (a group on the shared broker that lost a member
    # to SIGKILL, as some tests do, must not hold up the next system's), starting at the
    # topics' current end (not at the history earlier systems left on the broker).
    if _systems_running:
        # Both would act on each other's events: starting at the topics' end only keeps
        # out what came before, and a foreign case once held a partition for minutes.
        raise RuntimeError(
            "a system is already running in this test process: a module uses "
            "shared_system or system, not both (put the tests apart)"
        )
    group_prefix = f"test-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(1) as worker:
        worker.submit(
            asyncio.run,
            start_groups_at_the_end(
                broker.bootstrap_servers, [f"{group_prefix}-{name}" for name in SERVICE_PORTS]
            ),
        ).result()
    processes = ServiceProcesses(
        database_url=database_url,
        bootstrap_servers=broker.bootstrap_servers,
        ports={service: free_port() for service in SERVICE_PORTS},
        log_dir=log_dir,
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "RELAY_IDLE_POLL_SECONDS": "1",
            "OVERDUE_POLL_SECONDS": "1",
            "CONSUMER_GROUP_PREFIX": group_prefix,
            "LOG_LEVEL": "INFO",
            **extra_env,
        },
    )
    _systems_running.append(group_prefix)
    try:
        processes.start_all()
        processes.wait_ready(timeout=60)
        yield processes
    finally:
        processes.stop_all()
        _systems_running.remove(group_prefix)


@pytest.fixture
def system(
    database_url: str,
    broker: Broker,
    span_collector: SpanCollector,
    tmp_path: Path,
    system_env: dict[str, str],
    local_partners: LocalPartners,
) -> Iterator[ServiceProcesses]:
    """A system of its own for one test (for tests that kill, stop or reconfigure it)."""
    env = {**local_partners.env, **system_env}
    with running_system(database_url, broker, span_collector, tmp_path, env) as system:
        yield system


@pytest.fixture(scope="module")
async def module_database_url(postgres_server_url: str) -> str:
    return await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="module")
def shared_system(
    module_database_url: str,
    broker: Broker,
    span_collector: SpanCollector,
    tmp_path_factory: pytest.TempPathFactory,
    local_partners: LocalPartners,
) -> Iterator[ServiceProcesses]:
    """One system for a module's tests that only make reports and read outcomes."""
    log_dir = tmp_path_factory.mktemp("system")
    with running_system(
        module_database_url, broker, span_collector, log_dir, local_partners.env
    ) as system:
        yield system


@pytest.fixture
async def shared_clients(
    shared_system: ServiceProcesses, staff_token: str
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with _clients_for(shared_system, staff_token) as opened:
        yield opened


@contextlib.asynccontextmanager
async def _clients_for(
    system: ServiceProcesses, token: str
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A client per service, sending ``token`` unless a request gives its own header."""
    opened = {
        service: httpx.AsyncClient(base_url=system.url(service), timeout=10, headers=bearer(token))
        for service in SERVICE_PORTS
    }
    try:
        yield opened
    finally:
        for client in opened.values():
            await client.aclose()


@pytest.fixture
async def clients(
    system: ServiceProcesses, staff_token: str
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with _clients_for(system, staff_token) as opened:
        yield opened


def report_body(**overrides: Any) -> dict[str, Any]:
    """The issue's minimal report, with a fresh name so no two tests share one."""
    body: dict[str, Any] = {
        "channel": "telephone",
        "reporter": {"role": "survivor"},
        "survivor": {
            "is_customer": True,
            "name": f"Resident {uuid.uuid4().hex[:6]}",
            "phone": "07700 900123",
        },
        "alleged_perpetrators": [{"kind": "customer"}],
        "incident": {
            "categories": ["verbal_abuse"],
            "perceived_motivation": ["race"],
            "description": "Shouted racist abuse at my door late at night.",
            "occurred_at": "2026-11-20T21:00:00Z",
        },
        "immediate_danger": True,
        "consent": {"share_with_partners": True},
    }
    body.update(overrides)
    return body


async def timeline_types(reporting: httpx.AsyncClient, case_id: str) -> list[str]:
    """The case's event types on its timeline; none while reporting has not heard of the
    case (404: each service learns of a case, and who may see it, from intake's events)."""
    response = await reporting.get(f"/v1/cases/{case_id}/timeline")
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return [entry["event_type"] for entry in response.json()["events"]]


async def wait_for_timeline(
    reporting: httpx.AsyncClient,
    case_id: str,
    *expected: str,
    timeout: float = 60,  # noqa: ASYNC109 - a polling deadline
) -> list[str]:
    async def has_all() -> list[str] | None:
        types = await timeline_types(reporting, case_id)
        return types if set(expected) <= set(types) else None

    return await eventually(has_all, timeout=timeout, message=f"timeline lacks {expected}")


async def actions_of(risk: httpx.AsyncClient, case_id: str, count: int = 1) -> list[Any]:
    async def listed() -> list[Any] | None:
        response = await risk.get(f"/v1/cases/{case_id}/actions")
        # 404 until risk has heard of the case from intake.
        actions: list[Any] = response.json() if response.status_code == 200 else []
        return actions if len(actions) >= count else None

    return await eventually(listed, message="risk planned no actions")


async def events_of_case(
    broker: Broker, case_id: str, event_type: str, until: Any
) -> list[Envelope]:
    """The case's events of one type, read from the start of the topic at least up to
    where it ended when reading began, and on until ``until(found)`` holds."""
    found: list[Envelope] = []
    ends: dict[Any, int] = {}
    async with kafka_consumer(broker.bootstrap_servers, Topic.RISK_ACTIONS.value) as consumer:

        async def collect() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value)
                    if str(envelope.case_id) == case_id and envelope.event_type == event_type:
                        found.append(envelope)
            assignment = consumer.assignment()
            if not assignment:
                return False
            if not ends:
                ends.update(
                    await end_offsets(list(assignment), bootstrap_servers=broker.bootstrap_servers)
                )
            for partition, end in ends.items():
                if await consumer.position(partition) < end:
                    return False
            return bool(until(found))

        await eventually(collect, timeout=60, message=f"no {event_type} for the case")
    return found
