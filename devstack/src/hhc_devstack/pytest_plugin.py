"""Fixtures for tests against a real PostgreSQL and a real Kafka-protocol broker.

Where they come from, in order of preference:
- DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set (a server of yours);
- testcontainers (PostgreSQL and Apache Kafka images) when a Docker engine answers;
- otherwise the embedded stack: a private PostgreSQL and Tansu, started here.

The identity provider is always the development issuer, started when pytest starts and
named in OIDC_* for every service the tests run (in process or as processes); the
``issue_token`` fixture signs tokens with it.
"""

import asyncio
import contextlib
import functools
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import pytest

from hhc_chassis.service import Listening, ServiceDefinition, create_listeners
from hhc_devstack.infrastructure import (
    EMBEDDED_BROKER_ENV,
    EmbeddedBroker,
    EmbeddedPostgres,
    create_database,
    create_topics,
    free_port,
    start_groups_at_the_end,
)
from hhc_devstack.issuer import DevIssuer
from hhc_devstack.tcpproxy import CuttableProxy

T = TypeVar("T")

_issuer: DevIssuer | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _issuer
    _issuer = DevIssuer(Path(tempfile.mkdtemp(prefix="hhc-test-issuer-"))).start()
    os.environ.update(_issuer.env())
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and not docker_available():
        # Every service, harness and system of the run joins its groups on Tansu.
        for name, value in EMBEDDED_BROKER_ENV.items():
            os.environ.setdefault(name, value)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _issuer is not None:
        _issuer.stop()
        shutil.rmtree(_issuer.state_dir, ignore_errors=True)


class TokenFactory(Protocol):
    def __call__(
        self,
        role: str,
        *more_roles: str,
        team: str | None = None,
        subject: str | None = None,
        **claims: Any,
    ) -> str: ...


@pytest.fixture(scope="session")
def dev_issuer() -> DevIssuer:
    assert _issuer is not None, "the plugin's issuer starts in pytest_configure"
    return _issuer


@pytest.fixture(scope="session")
def issue_token(dev_issuer: DevIssuer) -> TokenFactory:
    """``issue_token("caseworker", team="north")``: a signed token of the test issuer."""

    def make(
        role: str,
        *more_roles: str,
        team: str | None = None,
        subject: str | None = None,
        **claims: Any,
    ) -> str:
        return dev_issuer.token(roles=[role, *more_roles], team=team, subject=subject, **claims)

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@functools.cache
def docker_available() -> bool:
    if os.environ.get("HHC_TESTS_NO_DOCKER"):
        return False
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False  # no engine here (and the client would leak its probe's socket)
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


class Broker(Protocol):
    bootstrap_servers: str

    def make_unavailable(self) -> None: ...

    def make_available(self) -> None: ...


class EmbeddedBrokerControl:
    """Tansu behind a proxy the test can cut: 'unavailable' closes every connection and
    refuses new ones, 'available' lets them through again. Tansu keeps running, so its
    memory-only data survives, as a network partition would leave a real broker's."""

    def __init__(self, log_path: Path) -> None:
        proxy_port = free_port()
        self._broker = EmbeddedBroker(log_path=log_path, advertised_port=proxy_port)
        self._broker.start()
        self._proxy = CuttableProxy(proxy_port, self._broker.port)
        self._proxy.start()
        self.bootstrap_servers = self._broker.bootstrap_servers

    def make_unavailable(self) -> None:
        self._proxy.cut()

    def make_available(self) -> None:
        self._proxy.connect()

    def close(self) -> None:
        self._proxy.stop()
        self._broker.stop()


class SharedEmbeddedBroker:
    """The session's Tansu, shared by every test: never taken away."""

    def __init__(self, log_path: Path) -> None:
        self._broker = EmbeddedBroker(log_path=log_path)
        self._broker.start()
        self.bootstrap_servers = self._broker.bootstrap_servers

    def make_unavailable(self) -> None:
        raise RuntimeError("take a broker away only through the isolated_broker fixture")

    def make_available(self) -> None:
        pass

    def close(self) -> None:
        self._broker.stop()


class ContainerBrokerControl:
    """Apache Kafka in a container: pausing it keeps its data, like a network partition."""

    def __init__(self) -> None:
        from testcontainers.kafka import KafkaContainer

        self._container = KafkaContainer().with_kraft()
        self._container.start()
        self.bootstrap_servers = self._container.get_bootstrap_server()

    def make_unavailable(self) -> None:
        self._container.get_wrapped_container().pause()

    def make_available(self) -> None:
        self._container.get_wrapped_container().unpause()

    def close(self) -> None:
        self._container.stop()


class ExternalBroker:
    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers

    def make_unavailable(self) -> None:
        pytest.skip("the broker is external (KAFKA_BOOTSTRAP_SERVERS): cannot stop it")

    def make_available(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hhc")


@pytest.fixture(scope="session")
def postgres_server_url(state_dir: Path) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    # Not under pytest's private temporary folder: PostgreSQL runs as another account
    # when the tests run as root, and must reach its data folder.
    data_dir = Path(tempfile.mkdtemp(prefix="hhc-test-postgres-"))
    server = EmbeddedPostgres(data_dir=data_dir, log_path=state_dir / "postgres.log")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def broker(state_dir: Path) -> Iterator[Broker]:
    control: SharedEmbeddedBroker | ContainerBrokerControl | ExternalBroker
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        control = ExternalBroker(bootstrap)
    elif docker_available():
        control = ContainerBrokerControl()
    else:
        control = SharedEmbeddedBroker(state_dir / "tansu.log")
    asyncio.run(create_topics(control.bootstrap_servers))
    try:
        yield control
    finally:
        control.close()


@pytest.fixture
def isolated_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of the test's own, which it may take away and bring back."""
    control: EmbeddedBrokerControl | ContainerBrokerControl | ExternalBroker
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        control = ExternalBroker(bootstrap)
    elif docker_available():
        control = ContainerBrokerControl()
    else:
        control = EmbeddedBrokerControl(tmp_path / "tansu.log")
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, create_topics(control.bootstrap_servers)).result()
    try:
        yield control
    finally:
        control.close()


@pytest.fixture
async def database_url(postgres_server_url: str) -> str:
    """A fresh, empty database for one test."""
    return await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 30,  # noqa: ASYNC109 - a polling deadline, not a cancellation scope
    interval: float = 0.1,
    message: str = "condition not met",
) -> T:
    """Poll until ``probe`` returns something truthy; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{message} after {timeout}s (last: {last!r})")


@pytest.fixture
def unique_topic() -> Callable[[str], str]:
    def make(prefix: str) -> str:
        return f"test.{prefix}.{uuid.uuid4().hex[:8]}"

    return make


@contextlib.asynccontextmanager
async def kafka_consumer(bootstrap_servers: str, *topics: str) -> AsyncIterator[Any]:
    """A reader of every partition of ``topics`` from the start. No consumer group: it
    has nothing to commit, and a group's join (which the broker may hold for seconds under
    load) only delayed the first fetch. A topic made later is found by the frequent
    metadata refresh."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=500,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[str]:
    """Run an ASGI app with uvicorn in this event loop (lifespan included) until exit."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(
            lambda: asyncio.sleep(0, result=server.started or task.done()),
            timeout=30,
            message="server did not start",
        )
        if task.done():
            task.result()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class ServiceURLs:
    staff: str
    public: str | None


@contextlib.asynccontextmanager
async def serving_service(definition: ServiceDefinition) -> AsyncIterator[ServiceURLs]:
    """Run a service as ``hhc_chassis.service.run`` does (one lifespan, the staff and, if
    it has one, the public listener) in this event loop, on free ports, ready (its
    database and broker answer), until exit.

    Its consumer group starts at the end of the topics it reads: what other tests
    published earlier on the session's broker is theirs, not this service's work."""
    settings = definition.settings
    if definition.topics:
        await start_groups_at_the_end(
            settings.kafka_bootstrap_servers, [settings.group_id], list(definition.topics)
        )
    has_public = bool(definition.public_routers)
    listening = Listening(
        create_listeners(definition),
        definition.settings,
        host="127.0.0.1",
        port=free_port(),
        public_port=free_port() if has_public else None,
    )
    task = asyncio.create_task(listening.serve())
    try:
        await eventually(
            lambda: asyncio.sleep(0, result=listening.started or task.done()),
            timeout=60,
            message="service did not start",
        )
        if task.done():
            task.result()
        staff, *public = (f"http://127.0.0.1:{s.config.port}" for s in listening.servers)
        async with httpx.AsyncClient(base_url=staff) as probe:

            async def ready() -> bool:
                return task.done() or (await probe.get("/readyz")).status_code == 200

            await eventually(ready, timeout=60, message="service did not get ready")
        if task.done():
            task.result()
        yield ServiceURLs(staff=staff, public=public[0] if public else None)
    finally:
        listening.stop()
        await task
