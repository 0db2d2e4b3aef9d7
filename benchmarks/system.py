"""The whole system under load, beside a raw aiokafka + asyncpg pipeline, in one run.

    .venv/bin/python benchmarks/system.py           # about 7 minutes on 2 cores
    .venv/bin/python benchmarks/system.py --quick   # every phase about 3 s: a smoke run

Run from the repository's root. Always starts its own Tansu broker and PostgreSQL on
free ports (data in .local/bench/pg-*, removed at the end), a development identity
provider (the services trust it; the load submits reports with a ``system`` token it
signs), and the five services (logs appended to .local/bench/logs/<service>.log), and
stops all of them at the end, on error, Ctrl-C or SIGTERM. Everything listens on and
talks to 127.0.0.1 only. It measures, in this order:

1. raw baseline: producer -> topic A -> stage (getmany, one INSERT ... unnest per batch
   in one transaction, one event per input to topic B: send all, await all, commit) ->
   reader of B; plain aiokafka and asyncpg, the stage in a process of its own. Max
   events/s end to end, and latency at fixed rates;
2. each service's time to ready (process start to /readyz 200), then a few seconds idle:
   CPU per process and database transactions per second with no reports at all;
3. the system: reports POSTed to intake at fixed rates (open loop), then at saturation
   (a bounded number of concurrent senders); per phase the accepted rate, HTTP latency,
   reports/s through risk, referrals, enforcement and reporting (the first event each
   produced for a report of the phase; reporting from its ``case_events`` rows), events/s
   on every topic, the immediate-danger path (POST to emergency services named on the
   referrals topic) and where its time goes, hop by hop, what was left behind when the
   bounded drain ended (and each consumer group's lag), CPU seconds per process,
   including what the rest of the machine used meanwhile (another workload skews every
   figure), and database transactions per second;
4. replay: a fresh group reading every topic from the start, and a second reporting
   process (fresh CONSUMER_GROUP and DB_SCHEMA) catching up with the first;
5. RSS of each service (VmRSS, VmHWM from /proc) and the system/raw events/s ratio.

Every topic has ``--partitions`` partitions (3, as ``make up`` makes them): on Tansu, a
fetch's cost and how long it is held grow with the partitions it names, so
``--partitions 1`` shows what that costs (the README's Tansu note).

Prints a table and writes every figure to .local/bench/system-<UTC time>.json.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import asyncpg
import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hhc_chassis.kafka import end_offsets
from hhc_contracts import EventHeaders, Topic
from hhc_contracts.topics import all_topics
from hhc_contracts.vocabulary import Classification, Executor, Partner, PerpetratorKind, Track
from hhc_devstack.infrastructure import (
    EMBEDDED_BROKER_ENV,
    TOPIC_PARTITIONS,
    EmbeddedBroker,
    EmbeddedPostgres,
    create_topics,
    free_port,
)
from hhc_devstack.issuer import DevIssuer
from hhc_devstack.partners import local_partners
from hhc_devstack.proc import cpu_seconds, machine_busy_seconds, proc_status
from hhc_devstack.system import SERVICE_PORTS, ServiceProcesses
from hhc_enforcement.rules import Admission, admission
from hhc_referrals.catalogue import catalogue_at
from hhc_referrals.delivery import verify_signature
from hhc_reporting.handlers import TOPICS as REPORTING_TOPICS

BENCH_DIR = Path(".local/bench")
SCRIPT = str(Path(__file__).resolve())
LOG_DIR = BENCH_DIR / "logs"
SERVICES = list(SERVICE_PORTS)

# Where each service's first output for a case shows (contracts/src/hhc_contracts/topics.py).
STAGE_TOPICS: dict[str, tuple[str, ...]] = {
    "intake": (Topic.INTAKE_CASES.value,),
    "risk": (
        Topic.RISK_ASSESSMENTS.value,
        Topic.RISK_ACTIONS.value,
        Topic.RISK_SAFEGUARDING.value,
    ),
    "referrals": (Topic.REFERRALS.value,),
    "enforcement": (Topic.ENFORCEMENT_CASES.value,),
}
STAGE_OF_TOPIC = {topic: stage for stage, topics in STAGE_TOPICS.items() for topic in topics}
STAGES = [*STAGE_TOPICS, "reporting"]

# What each service's consumer group reads (services/*/src/*/app.py), for its lag.
SUBSCRIPTIONS: dict[str, list[str]] = {
    "intake": [Topic.INTAKE_SUBMISSIONS.value],
    "risk": [Topic.INTAKE_CASES.value, Topic.REFERRALS.value, Topic.ENFORCEMENT_CASES.value],
    "referrals": [Topic.RISK_ACTIONS.value, Topic.INTAKE_CASES.value],
    "enforcement": [Topic.INTAKE_CASES.value, Topic.RISK_ACTIONS.value],
    "reporting": list(REPORTING_TOPICS),
}
REPORTED_TOPICS = frozenset(REPORTING_TOPICS)
"""Topics whose events reporting records on a case's timeline (not the audit's)."""
EMERGENCY = Partner.EMERGENCY_SERVICES.value.encode()
IN_FLIGHT_CAP = 1000
"""Open-loop phases send no more while this many requests wait for an answer."""


# --------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def latency_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 0.50)),
        "p99_ms": ms(percentile(seconds, 0.99)),
        "max_ms": ms(max(seconds) if seconds else None),
    }


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


# --------------------------------------------------------------------------- /proc


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """Everything the run started, so that it can all be stopped, whatever happens."""

    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    issuer: DevIssuer | None = None
    """The development identity provider the services trust; the load signs in with it."""
    partners: subprocess.Popen[bytes] | None = None
    """The partners' own endpoints (``--partners``): referrals are delivered to them."""
    partners_env: dict[str, str] = field(default_factory=dict)
    partners_dir: Path | None = None
    """Their catalogue, which the run removes."""
    data_dir: Path | None = None
    services: ServiceProcesses | None = None
    replicas: list[ServiceProcesses] = field(default_factory=list)
    helpers: list[int] = field(default_factory=list)
    """Process group ids of helper processes (the raw stage)."""
    log_offsets: dict[str, int] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        found: dict[str, int] = {}
        if self.services is not None:
            found.update({name: p.pid for name, p in self.services.processes.items()})
        if self.broker is not None and self.broker.process is not None:
            found["tansu"] = self.broker.process.pid
        if self.partners is not None:
            found["partners"] = self.partners.pid
        return found

    def cpu(self, extra: dict[str, int] | None = None) -> dict[str, float]:
        """CPU seconds so far of every process of the run, this one included."""
        figures: dict[str, float] = {"machine": machine_busy_seconds(), "bench": own_cpu_seconds()}
        for name, pid in {**self.pids(), **(extra or {})}.items():
            if (value := cpu_seconds(pid)) is not None:
                figures[name] = value
        postmaster = self.postgres.process if self.postgres is not None else None
        if postmaster is not None and (value := cpu_seconds(postmaster.pid, children=True)):
            figures["postgres"] = value
        return figures

    def stop(self) -> None:
        for pgid in self.helpers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self.helpers.clear()
        groups = [*self.replicas, *([self.services] if self.services else [])]
        processes = [p for group in groups for p in group.processes.values()]
        for process in processes:  # all at once: each may take its grace period
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for group in groups:
            group.processes.clear()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self.issuer is not None:
            self.issuer.stop()
            shutil.rmtree(self.issuer.state_dir, ignore_errors=True)
        if self.partners is not None:
            self.partners.terminate()  # its endpoints stop and remove their files
            try:
                self.partners.wait(10)
            except subprocess.TimeoutExpired:
                self.partners.kill()
                self.partners.wait()
        if self.partners_dir is not None:
            shutil.rmtree(self.partners_dir, ignore_errors=True)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process used between two readings; ``other``: what the rest of
    the machine used meanwhile (another workload on it makes every figure suspect)."""
    spent = {name: round(after[name] - before.get(name, 0.0), 2) for name in after}
    machine = spent.pop("machine", 0.0)
    spent["other"] = round(max(0.0, machine - sum(spent.values())), 2)
    return spent


# --------------------------------------------------------------------------- raw baseline

RAW_PADDING = "x" * 330  # brings each event to about 500 bytes of JSON


def raw_event(case_id: str, phase: str, sequence: int) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "bench.raw-event",
            "case_id": case_id,
            "phase": phase,
            "sequence": sequence,
            "sent_at": time.time(),
            "payload": {"description": RAW_PADDING},
        }
    ).encode()


async def raw_stage(config: dict[str, str]) -> None:
    """The middle stage, run in a process of its own (``--raw-stage``)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    connection = await asyncpg.connect(config["database_url"])
    consumer = AIOKafkaConsumer(
        config["topic_a"],
        bootstrap_servers=config["bootstrap"],
        group_id=config["group"],
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,  # as the chassis' consumer_fetch_wait_ms
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=config["bootstrap"], acks="all", enable_idempotence=False, linger_ms=2
    )
    await consumer.start()
    await producer.start()
    handled = batches = 0
    ready = False
    try:
        while not stopping.is_set():
            fetched = await consumer.getmany(timeout_ms=100, max_records=1000)
            if not ready and consumer.assignment():
                ready = True
                print("ready", flush=True)
            records = [record for batch in fetched.values() for record in batch]
            if not records:
                continue
            events = [json.loads(record.value) for record in records]
            async with connection.transaction():
                await connection.execute(
                    """INSERT INTO bench_raw.events (event_id, case_id, body)
                       SELECT e, c, b::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::text[])
                           AS t(e, c, b)""",
                    [event["event_id"] for event in events],
                    [event["case_id"] for event in events],
                    [record.value.decode() for record in records],
                )
            futures = []
            for event in events:
                out = {**event, "event_id": str(uuid.uuid4()), "cause": event["event_id"]}
                futures.append(
                    await producer.send(
                        config["topic_b"], json.dumps(out).encode(), key=event["case_id"].encode()
                    )
                )
            await asyncio.gather(*futures)
            await consumer.commit()
            handled += len(records)
            batches += 1
    finally:
        print(json.dumps({"handled": handled, "batches": batches}), flush=True)
        await consumer.stop()
        await producer.stop()
        await connection.close()


@dataclass
class RawPhase:
    expected: int
    seen: int = 0
    latencies: list[float] = field(default_factory=list)
    last_seen: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)


class RawReader:
    """Reads topic B; per phase, how many arrived and how long after they were produced."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"bench-raw-reader-{uuid.uuid4().hex[:8]}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        self.phases: dict[str, RawPhase] = {}

    async def run(self, ready: asyncio.Event) -> None:
        while True:
            fetched = await self.consumer.getmany(timeout_ms=100)
            if self.consumer.assignment():
                ready.set()
            now = time.time()
            for records in fetched.values():
                for record in records:
                    event = json.loads(record.value)
                    phase = self.phases.get(event["phase"])
                    if phase is None:
                        continue
                    phase.seen += 1
                    phase.latencies.append(now - event["sent_at"])
                    phase.last_seen = now
                    if phase.seen >= phase.expected:
                        phase.done.set()


async def raw_baseline(
    stack: Stack, bootstrap: str, database_url: str, options: argparse.Namespace
) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    topic_a, topic_b = f"bench.raw-a.{suffix}", f"bench.raw-b.{suffix}"
    await create_topics(bootstrap, [topic_a, topic_b], partitions=options.partitions)
    connection = await asyncpg.connect(database_url)
    await connection.execute(
        """CREATE SCHEMA IF NOT EXISTS bench_raw;
           DROP TABLE IF EXISTS bench_raw.events;
           CREATE TABLE bench_raw.events (event_id uuid PRIMARY KEY, case_id uuid NOT NULL,
               body jsonb NOT NULL, stored_at timestamptz NOT NULL DEFAULT now())"""
    )
    await connection.close()
    config = {
        "bootstrap": bootstrap,
        "database_url": database_url,
        "topic_a": topic_a,
        "topic_b": topic_b,
        "group": f"bench-raw-stage-{suffix}",
    }
    stage = await asyncio.create_subprocess_exec(
        sys.executable,
        SCRIPT,
        "--raw-stage",
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    stack.helpers.append(stage.pid)
    reader = RawReader(bootstrap, topic_b)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=2
    )
    reading: asyncio.Task[None] | None = None
    try:
        assert stage.stdout is not None
        line = await asyncio.wait_for(stage.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"raw stage did not start: {line!r}")
        await reader.consumer.start()
        await producer.start()
        reader_ready = asyncio.Event()
        reading = asyncio.create_task(reader.run(reader_ready))
        await asyncio.wait_for(reader_ready.wait(), 60)

        async def produce(name: str, count: int, per_second: float | None) -> dict[str, Any]:
            phase = reader.phases[name] = RawPhase(expected=count)
            cpu_before = stack.cpu({"raw-stage": stage.pid})
            started = time.time()
            futures = []
            for sequence in range(count):
                if per_second:
                    delay = started + sequence / per_second - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                case_id = str(uuid.uuid4())
                futures.append(
                    await producer.send(
                        topic_a, raw_event(case_id, name, sequence), key=case_id.encode()
                    )
                )
            await asyncio.gather(*futures)
            produced = time.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(phase.done.wait(), options.raw_timeout)
            elapsed = (phase.last_seen or time.time()) - started
            return {
                "events": count,
                "seen": phase.seen,
                "complete": phase.seen >= count,
                "produce_seconds": round(produced - started, 2),
                "seconds": round(elapsed, 2),
                "events_per_s": rate(phase.seen, elapsed),
                "latency": latency_ms(phase.latencies),
                "cpu_seconds": cpu_delta(cpu_before, stack.cpu({"raw-stage": stage.pid})),
            }

        # A few events first so that every connection and partition is warm.
        await produce("warm-up", 300, None)
        figures: dict[str, Any] = {
            "topics": [topic_a, topic_b],
            "partitions": options.partitions,
            "max": await produce("max", options.raw_events, None),
            "fixed_rates": [],
        }
        for per_second in options.raw_rates:
            count = max(1, int(per_second * options.raw_rate_seconds))
            result = await produce(f"rate-{per_second}", count, per_second)
            figures["fixed_rates"].append({"rate": per_second, **result})
        stage.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(stage.communicate(), 15)
        handled = json.loads(output.splitlines()[-1])
        figures["stage"] = {
            **handled,
            "mean_batch": round(handled["handled"] / max(1, handled["batches"]), 1),
        }
        return figures
    finally:
        if reading is not None:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
        with contextlib.suppress(Exception):
            await reader.consumer.stop()
        with contextlib.suppress(Exception):
            await producer.stop()
        if stage.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                stage.kill()
            await stage.wait()
        stack.helpers.remove(stage.pid)


# --------------------------------------------------------------------------- the system


BENCH_PARTNER_SECRET = b"bench-partner-secret"


def serve_partners(directory: Path) -> None:
    """The partners' end (``--partners``), in a process of its own, so that its threads
    take nothing from the load's and the observer's: every webhook partner answers 202 at a
    local receiver that checks the signature, every email partner's mail reaches a local
    server over STARTTLS (``hhc_devstack.partners``, as the tests' partners). Prints what
    referrals needs to reach them as one line of JSON, then serves until SIGTERM."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    with local_partners(
        directory / "catalogue.json",
        catalogue_at,
        secret=BENCH_PARTNER_SECRET,
        verify=verify_signature,
    ) as partners:
        print(json.dumps(partners.env), flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


def start_partners(stack: Stack) -> None:
    stack.partners_dir = Path(tempfile.mkdtemp(prefix="partners-", dir=BENCH_DIR)).resolve()
    stack.partners = subprocess.Popen(
        [sys.executable, SCRIPT, "--partners", str(stack.partners_dir)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert stack.partners.stdout is not None
    line = stack.partners.stdout.readline()
    if not line:
        raise RuntimeError(f"the partners did not start ({stack.partners.wait()})")
    stack.partners_env = json.loads(line)


def issuer_env(stack: Stack) -> dict[str, str]:
    """OIDC_* naming the run's issuer: a service without them refuses to start."""
    assert stack.issuer is not None
    return stack.issuer.env()


def load_token(stack: Stack) -> str:
    """What the load signs in with: another system of the housing group submitting
    reports (the only role it needs), valid well beyond the longest run."""
    assert stack.issuer is not None
    return stack.issuer.token(roles=["system"], subject="bench-load", lifetime_seconds=6 * 3600)


async def start_services(stack: Stack, bootstrap: str, database_url: str) -> dict[str, Any]:
    """Start the five services at once, as `make up` does; time each to /readyz 200."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for name in [*SERVICES, "reporting-replay"]:  # logs are appended to: read only ours
        path = LOG_DIR / f"{name}.log"
        stack.log_offsets[name] = path.stat().st_size if path.exists() else 0
    services = stack.services = ServiceProcesses(
        database_url=database_url,
        bootstrap_servers=bootstrap,
        ports={name: free_port() for name in SERVICES},
        log_dir=LOG_DIR,
        extra_env={**EMBEDDED_BROKER_ENV, **issuer_env(stack), **stack.partners_env},
    )
    started: dict[str, float] = {}
    for name in SERVICES:
        started[name] = time.monotonic()
        services.start(name)
    ready = await wait_ready(services, started, bound=120)
    return {
        "ports": dict(services.ports),
        "ready_seconds": ready,
        "rss_kib_when_ready": {name: proc_status(p.pid) for name, p in services.processes.items()},
    }


async def wait_ready(
    services: ServiceProcesses, started: dict[str, float], bound: float
) -> dict[str, float]:
    ready: dict[str, float] = {}
    deadline = time.monotonic() + bound
    async with httpx.AsyncClient(timeout=2) as client:
        while len(ready) < len(started):
            for name in started:
                if name in ready:
                    continue
                process = services.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode} while starting")
                with contextlib.suppress(httpx.TransportError):
                    answer = await client.get(f"{services.url(name)}/readyz")
                    if answer.status_code == 200:
                        ready[name] = round(time.monotonic() - started[name], 2)
            if time.monotonic() > deadline:
                missing = sorted(set(started) - set(ready))
                raise TimeoutError(f"not ready after {bound}s: {', '.join(missing)}")
            await asyncio.sleep(0.05)
    return ready


@dataclass
class Sent:
    case_id: str
    phase: str
    sent_at: float
    danger: bool
    expects_enforcement: bool


class Observer:
    """Reads every topic (fresh groups, from the earliest offset): the first time each
    (topic, event type, case) is seen, and every arrival per topic.

    Three consumers: the referrals topic, where the immediate-danger path ends, with a
    short fetch wait (Tansu holds a fetch for its whole wait, so the wait is this
    instrument's own error on the path's figures: up to 100 ms with the services' wait);
    the other topics whose events the figures time (each stage's) with the services'
    wait; the rest (audit, submissions, monthly reports, dead letters) with a longer one.
    Tansu works for every fetch it holds, the more the more partitions it names: one
    consumer of all twenty topics at 100 ms kept 0.077 of a core of it busy while idle
    (``benchmarks/idle_costs.py``'s measure), CPU taken from the system being measured;
    three partitions at 20 ms, about 0.02."""

    def __init__(self, bootstrap: str) -> None:
        danger_end = [Topic.REFERRALS.value]
        timed = [
            topic for topics in STAGE_TOPICS.values() for topic in topics if topic not in danger_end
        ]
        untimed = [topic for topic in all_topics() if topic not in timed + danger_end]
        suffix = uuid.uuid4().hex[:8]
        self.consumers = [
            AIOKafkaConsumer(
                *topics,
                bootstrap_servers=bootstrap,
                group_id=f"bench-observer-{name}-{suffix}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=wait_ms,
            )
            for name, topics, wait_ms in (
                ("danger-end", danger_end, 20),
                ("timed", timed, 100),
                ("untimed", untimed, 500),
            )
        ]
        self.first: dict[tuple[str, str, str], float] = {}
        self.stage_first: dict[str, dict[str, float]] = {stage: {} for stage in STAGE_TOPICS}
        self.emergency: dict[str, tuple[float, str, float]] = {}
        """Case -> when this observer saw emergency services first named, in which event,
        and that record's timestamp (set as the referrals relay sent it: when it went on
        the topic, less the broker's acknowledgement)."""
        self.danger_hops: defaultdict[str, dict[str, tuple[float, float, float]]] = defaultdict(
            dict
        )
        """Case -> stage -> (event's occurred_at, record's timestamp, seen here), for the
        events of the immediate-danger path: where its time goes, hop by hop."""
        self.expects_referral: set[str] = set()
        self.expects_enforcement: set[str] = set()
        self.case_events: defaultdict[str, set[str]] = defaultdict(set)
        self.reported_events: defaultdict[str, set[str]] = defaultdict(set)
        """Case -> the events of it reporting records (every topic but the audit's)."""
        self.case_last: dict[str, float] = {}
        self.arrivals: defaultdict[str, list[float]] = defaultdict(list)
        self.dead_letters: list[dict[str, Any]] = []
        self.undecodable = 0
        self.ready = asyncio.Event()

    async def run(self) -> None:
        assigned = [asyncio.Event() for _ in self.consumers]

        async def read(consumer: AIOKafkaConsumer, has_partitions: asyncio.Event) -> None:
            await consumer.start()
            while True:
                fetched = await consumer.getmany(timeout_ms=100, max_records=2000)
                if consumer.assignment():
                    has_partitions.set()
                    if all(event.is_set() for event in assigned):
                        self.ready.set()
                now = time.time()
                for records in fetched.values():
                    for record in records:
                        self._see(record, now)

        await asyncio.gather(*map(read, self.consumers, assigned))

    async def stop(self) -> None:
        for consumer in self.consumers:
            with contextlib.suppress(Exception):
                await consumer.stop()

    def _see(self, record: Any, now: float) -> None:
        topic: str = record.topic
        self.arrivals[topic].append(now)
        headers = {name: value.decode(errors="replace") for name, value in record.headers or ()}
        if topic.endswith(".dlq"):
            self.dead_letters.append(
                {
                    "topic": topic,
                    "reason": headers.get(EventHeaders.DLQ_REASON),
                    "error_class": headers.get(EventHeaders.DLQ_ERROR_CLASS),
                    "consumer": headers.get(EventHeaders.DLQ_CONSUMER),
                    "event_type": headers.get(EventHeaders.EVENT_TYPE),
                    "seen": now,
                }
            )
            return
        event_type = headers.get(EventHeaders.EVENT_TYPE)
        event_id = headers.get(EventHeaders.EVENT_ID)
        case_id = record.key.decode() if record.key else None
        envelope: dict[str, Any] | None = None
        if event_type is None or event_id is None or case_id is None:
            try:
                envelope = json.loads(record.value)
            except ValueError:
                self.undecodable += 1
                return
            event_type = str(envelope.get("event_type"))
            event_id = str(envelope.get("event_id"))
            case_id = envelope.get("case_id")
        if case_id is None:
            return  # about no single case (the monthly report)
        self.first.setdefault((topic, event_type, case_id), now)
        self.case_events[case_id].add(event_id)
        if topic in REPORTED_TOPICS:
            self.reported_events[case_id].add(event_id)
        self.case_last[case_id] = now
        stage = STAGE_OF_TOPIC.get(topic)
        if stage is not None:
            self.stage_first[stage].setdefault(case_id, now)
        if event_type in ("risk.action-required", "intake.report-received") or (
            topic == Topic.REFERRALS.value and EMERGENCY in record.value
        ):
            if envelope is None:
                envelope = json.loads(record.value)
            payload = envelope.get("payload") or {}
            hop = (
                "intake"
                if event_type == "intake.report-received"
                else "risk"
                if payload.get("partner") == Partner.EMERGENCY_SERVICES.value
                and event_type == "risk.action-required"
                else "referrals"
                if topic == Topic.REFERRALS.value
                else None
            )
            if hop is not None and "occurred_at" in envelope:
                self.danger_hops[case_id].setdefault(
                    hop,
                    (
                        datetime.fromisoformat(envelope["occurred_at"]).timestamp(),
                        record.timestamp / 1000,
                        now,
                    ),
                )
            if event_type == "risk.action-required":
                executor = payload.get("carried_out_by")
                # As the handlers decide (services/{referrals,enforcement}/.../handlers.py).
                if executor == Executor.REFERRALS.value and payload.get("partner"):
                    self.expects_referral.add(case_id)
            elif event_type == "intake.report-received":
                # As enforcement decides whether a report opens a case (its rules).
                if admission(
                    track=Track(payload["track"]),
                    classification=Classification(payload["classification"]),
                    perpetrator_kinds=[PerpetratorKind(k) for k in payload["perpetrator_kinds"]],
                    validity_confirmed=False,
                ) is Admission.OPEN and not payload.get("further_report"):
                    self.expects_enforcement.add(case_id)
            elif case_id not in self.emergency:
                # Any referrals event naming emergency services counts: the referral
                # awaiting a member of staff's call (status-changed, note awaiting-call),
                # or, consent refused, the override proposed (referral-withheld).
                self.emergency[case_id] = (now, event_type, record.timestamp / 1000)


# The bodies: about a third a customer in immediate danger, the rest one of the other routes.
_CATEGORIES = [
    "verbal_abuse",
    "bullying_or_intimidation",
    "threats_of_violence",
    "physical_attack",
    "damage_to_property",
    "graffiti",
    "hoax_calls_abusive_messages_hate_mail",
]
_MOTIVATIONS = ["race", "religion", "disability", "sexual_orientation", "transgender_identity"]
_WORDS = ["door", "shouted", "stairwell", "car", "window", "night", "neighbour", "threatened"]


def report_body(rng: random.Random, danger: bool) -> dict[str, Any]:
    occurred = datetime.now(UTC) - timedelta(hours=rng.randint(1, 72))
    body: dict[str, Any] = {
        "channel": rng.choice(["telephone", "email", "my_account", "web_form", "in_person"]),
        "reporter": {"role": "survivor"},
        "survivor": {"is_customer": True, "name": "A. Resident", "phone": "07700 900000"},
        "alleged_perpetrators": [{"kind": "customer"}],
        "incident": {
            "categories": rng.sample(_CATEGORIES, rng.randint(1, 2)),
            "perceived_motivation": rng.sample(_MOTIVATIONS, rng.randint(0, 2)),
            "description": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 40))),
            "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        },
        "immediate_danger": danger,
        "consent": rng.choice(
            [{"share_with_partners": True}, {"share_with_partners": False}, {}, {}]
        ),
    }
    if danger:
        body["survivor"]["vulnerable_adult"] = rng.random() < 0.2
        body["survivor"]["children_in_household"] = rng.random() < 0.2
        return body
    route = rng.choice(
        [
            "customer",
            "witness",
            "third_party",
            "anonymous",
            "staff_observer",
            "partner_agency",
            "staff_survivor",
            "online",
            "cross_referral",
        ]
    )
    if route in ("witness", "third_party", "anonymous", "staff_observer", "partner_agency"):
        # Only the survivor gives or refuses consent (3.5.2): intake refuses anyone else's.
        body["consent"] = {}
    if route == "witness":
        body["reporter"] = {"role": "witness", "name": "C. Passer-by"}
    elif route == "third_party":
        body["reporter"] = {"role": "third_party", "name": "B. Friend", "contact": "07700 900111"}
    elif route == "anonymous":
        body["reporter"] = {"role": "anonymous"}
        body["alleged_perpetrators"] = [{"kind": rng.choice(["customer", "unknown"])}]
    elif route == "staff_observer":
        body["channel"] = "in_person"
        body["reporter"] = {"role": "staff_observer", "name": "D. Officer"}
    elif route == "partner_agency":
        body["channel"] = "partner_agency"
        body["reporter"] = {"role": "partner_agency", "name": "Victim Support"}
        body["survivor"] = {"is_customer": False, "name": "E. Member"}
        body["alleged_perpetrators"] = [{"kind": rng.choice(["unknown", "not_customer"])}]
    elif route == "staff_survivor":
        body["survivor"] = {"is_customer": False, "is_staff": True, "name": "F. Officer"}
        body["alleged_perpetrators"] = [{"kind": rng.choice(["customer", "not_customer"])}]
    elif route == "online":
        body["incident"]["categories"] = ["online_abuse"]
    elif route == "cross_referral":
        body["incident"]["related_policy"] = "domestic_abuse"
        body["alleged_perpetrators"] = [{"kind": "not_customer"}]
    return body


@dataclass
class Sending:
    name: str
    sent: list[Sent] = field(default_factory=list)
    http_seconds: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    """Not sent: IN_FLIGHT_CAP requests were already waiting."""
    cancelled: int = 0
    attempted: int = 0
    started: float = 0.0
    stopped: float = 0.0
    drain_started: float = 0.0
    last_answer: float = 0.0


class Load:
    """POSTs reports to intake and remembers every accepted case."""

    def __init__(self, intake_url: str, token: str, max_connections: int, seed: int) -> None:
        # aiohttp, not httpx: with 1,000 requests waiting for the pool, httpx took about
        # 40% of one of the two cores the system was being measured on (now about 10%).
        self.client = aiohttp.ClientSession(
            base_url=intake_url,
            headers={"Authorization": f"Bearer {token}"},
            connector=aiohttp.TCPConnector(limit=max_connections),
            # A request waits at most 30 s for a connection of the pool, then 30 s for
            # each read from intake.
            timeout=aiohttp.ClientTimeout(total=None, connect=30.0, sock_read=30.0),
        )
        self.rng = random.Random(seed)
        self.counter = 0

    async def post_one(self, sending: Sending) -> None:
        self.counter += 1
        danger = self.counter % 3 == 0
        body = report_body(self.rng, danger)
        sending.attempted += 1
        sent_at = time.time()
        began = time.perf_counter()
        try:
            async with self.client.post("/v1/reports", json=body) as answer:
                accepted = await answer.json() if answer.status == 202 else None
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as error:
            sending.statuses[type(error).__name__] += 1
            return
        sending.http_seconds.append(time.perf_counter() - began)
        sending.last_answer = time.time()
        sending.statuses[str(status)] += 1
        if accepted is not None:
            sending.sent.append(
                Sent(
                    accepted["case_id"],
                    sending.name,
                    sent_at,
                    danger,
                    False,  # known once intake routes it (Observer)
                )
            )

    async def paced(self, sending: Sending, per_second: float, seconds: float) -> None:
        """Open loop: report i leaves at start + i / rate, whatever earlier ones do."""
        loop = asyncio.get_running_loop()
        in_flight: set[asyncio.Task[None]] = set()
        cap = IN_FLIGHT_CAP
        start = loop.time()
        sending.started = time.time()
        for index in range(int(per_second * seconds)):
            delay = start + index / per_second - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(in_flight) >= cap:
                sending.skipped += 1
                continue
            task = asyncio.create_task(self.post_one(sending))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        sending.stopped = time.time()
        if in_flight:
            # Every request ends within its timeouts; this bounds the phase all the same.
            await asyncio.wait(in_flight, timeout=70)
        for task in list(in_flight):
            task.cancel()
            sending.cancelled += 1
        if in_flight:
            await asyncio.wait(in_flight)

    async def saturate(self, sending: Sending, senders: int, seconds: float) -> None:
        """Closed loop: ``senders`` concurrent clients, each sending as soon as answered."""
        deadline = time.monotonic() + seconds
        sending.started = time.time()

        async def sender() -> None:
            while time.monotonic() < deadline:
                await self.post_one(sending)

        await asyncio.gather(*(sender() for _ in range(senders)))
        sending.stopped = time.time()


class ReportingRows:
    """Reporting's own record of a case: its ``case_events`` rows (services/reporting)."""

    def __init__(self, connection: Any, schema: str = "reporting") -> None:
        self.connection = connection
        self.schema = schema
        self.first: dict[str, float] = {}
        self.rows: dict[str, int] = {}

    async def refresh(self, case_ids: Sequence[str]) -> None:
        rows = await self.connection.fetch(
            f"""SELECT case_id::text AS case_id, count(*) AS n,
                       extract(epoch FROM min(recorded_at))::float8 AS first
                FROM "{self.schema}".case_events WHERE case_id = ANY($1::uuid[])
                GROUP BY case_id""",
            list(case_ids),
        )
        for row in rows:
            self.first[row["case_id"]] = row["first"]
            self.rows[row["case_id"]] = row["n"]


@dataclass
class Progress:
    expected: dict[str, list[str]]
    through: dict[str, list[str]]

    def backlog(self) -> dict[str, int]:
        return {
            stage: len(self.expected[stage]) - len(self.through[stage]) for stage in self.expected
        }


def progress(sending: Sending, observer: Observer, reporting: ReportingRows) -> Progress:
    cases = [sent.case_id for sent in sending.sent]
    expected = {
        "intake": cases,
        "risk": cases,
        "referrals": [case for case in cases if case in observer.expects_referral],
        "enforcement": [
            sent.case_id
            for sent in sending.sent
            if sent.expects_enforcement or sent.case_id in observer.expects_enforcement
        ],
        "reporting": cases,
    }
    through = {
        stage: [case for case in expected[stage] if case in observer.stage_first[stage]]
        for stage in STAGE_TOPICS
    }
    # Reporting is through a case when it recorded every event of it seen on the topics
    # it reads (every one but the audit's).
    through["reporting"] = [
        case
        for case in cases
        if reporting.rows.get(case, 0) >= max(1, len(observer.reported_events.get(case, ())))
    ]
    return Progress(expected, through)


async def drain(
    sending: Sending,
    observer: Observer,
    reporting: ReportingRows,
    bound: float,
    quiet: float = 1.0,
) -> tuple[float, bool]:
    """Wait until every stage is through every accepted report of the phase, and nothing
    new came for them for ``quiet`` seconds, or ``bound`` seconds passed."""
    began = time.time()
    cases = [sent.case_id for sent in sending.sent]
    while True:
        await reporting.refresh(cases)
        now = time.time()
        last = max((observer.case_last.get(case, 0.0) for case in cases), default=0.0)
        if not any(progress(sending, observer, reporting).backlog().values()) and (
            now - last >= quiet
        ):
            return now - began, True
        if now - began >= bound:
            return now - began, False
        await asyncio.sleep(0.5)


async def consumer_lag(bootstrap: str, partition_count: int) -> dict[str, int | None]:
    """Messages each service's group has not committed yet, on the topics it reads.

    Asks as a consumer of the group that never joins it (OffsetFetch): aiokafka's admin
    client cannot decode Tansu's answer to list_consumer_group_offsets."""
    lag: dict[str, int | None] = {}
    for service, topics in SUBSCRIPTIONS.items():
        partitions = [TopicPartition(t, p) for t in topics for p in range(partition_count)]
        asking = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=f"hhc-{service}", enable_auto_commit=False
        )
        try:
            await asking.start()
            ends = await end_offsets(partitions, bootstrap_servers=bootstrap)
            total = 0
            for partition, end in ends.items():
                committed = await asking.committed(partition)
                total += max(0, end - (committed or 0))
            lag[service] = total
        except Exception:  # a figure missing rather than the run lost
            lag[service] = None
        finally:
            with contextlib.suppress(Exception):
                await asking.stop()
    return lag


DANGER_HOPS = (
    "post_to_intake_event",
    "intake_relay",
    "broker_to_risk_event",
    "risk_relay",
    "broker_to_referrals_event",
    "referrals_relay",
    "broker_to_observer",
)
"""The immediate-danger path cut at each event's occurred_at (its service's clock, in the
handler) and its record's timestamp (the relay's send): handling, then relaying, per hop."""


def danger_hops(reached: Sequence["Sent"], observer: Observer) -> dict[str, Any]:
    spans: dict[str, list[float]] = {hop: [] for hop in DANGER_HOPS}
    for sent in reached:
        hops = observer.danger_hops.get(sent.case_id, {})
        if not all(stage in hops for stage in ("intake", "risk", "referrals")):
            continue
        moments = [
            sent.sent_at,
            *hops["intake"][:2],
            *hops["risk"][:2],
            *hops["referrals"],
        ]
        for hop, (before, after) in zip(DANGER_HOPS, itertools.pairwise(moments), strict=True):
            spans[hop].append(after - before)
    return {hop: latency_ms(values) for hop, values in spans.items()}


def phase_figures(
    sending: Sending,
    observer: Observer,
    reporting: ReportingRows,
    drained_in: float,
    drained: bool,
    target: float | None,
    cpu: dict[str, float],
    lag: dict[str, int | None],
) -> dict[str, Any]:
    start = sending.started
    end = sending.drain_started + drained_in
    sent_at = {sent.case_id: sent.sent_at for sent in sending.sent}
    state = progress(sending, observer, reporting)
    stage_first = {**observer.stage_first, "reporting": reporting.first}
    stages: dict[str, Any] = {}
    for stage in STAGES:
        firsts = [stage_first[stage][case] for case in state.through[stage]]
        # Reporting's first row may come before it is through the case (all its events).
        last = max(firsts, default=start)
        stages[stage] = {
            "expected": len(state.expected[stage]),
            "through": len(state.through[stage]),
            "backlog": len(state.expected[stage]) - len(state.through[stage]),
            "reports_per_s": rate(len(firsts), last - start),
            "latency_from_post": latency_ms(
                [stage_first[stage][case] - sent_at[case] for case in state.through[stage]]
            ),
        }
    cases = set(sent_at)
    by_topic: Counter[str] = Counter()
    for (topic, _, case), _seen in observer.first.items():
        if case in cases:
            by_topic[topic] += 1
    phase_events = sum(len(observer.case_events.get(case, ())) for case in cases)
    last_event = max((observer.case_last.get(case, start) for case in cases), default=start)
    window_end = min(end, max(last_event, sending.stopped))
    in_window = {
        topic: sum(1 for moment in moments if start <= moment <= window_end)
        for topic, moments in observer.arrivals.items()
    }
    dangers = [sent for sent in sending.sent if sent.danger]
    reached = [sent for sent in dangers if sent.case_id in observer.emergency]
    dead_letters = [d for d in observer.dead_letters if start <= d["seen"] <= end]
    sending_seconds = max(1e-9, sending.stopped - sending.started)
    answered_seconds = max(sending_seconds, sending.last_answer - sending.started)
    return {
        "name": sending.name,
        "target_per_s": target,
        "sending_seconds": round(sending_seconds, 2),
        "attempted": sending.attempted,
        "not_sent_in_flight_cap": sending.skipped,
        "cancelled_unanswered": sending.cancelled,
        "accepted": len(sending.sent),
        # Over the time to the last answer: requests queue when intake is slower.
        "accepted_per_s": rate(len(sending.sent), answered_seconds),
        "offered_per_s": rate(sending.attempted, sending_seconds),
        "answered_seconds": round(answered_seconds, 2),
        "wall_seconds": round(end - start, 2),
        "statuses": dict(sending.statuses),
        "http": latency_ms(sending.http_seconds),
        "stages": stages,
        "drain_seconds": round(drained_in, 1),
        "drained": drained,
        "backlog_remained": not drained or any(s["backlog"] for s in stages.values()),
        "events": {
            "of_phase_reports": phase_events,
            "of_phase_reports_per_s": rate(phase_events, last_event - start),
            "reports_with_event_type": by_topic_and_type(observer, cases),
            "all_topics_in_window": sum(in_window.values()),
            "all_topics_per_s": rate(sum(in_window.values()), window_end - start),
            "window_seconds": round(window_end - start, 2),
            "by_topic_in_window": {t: n for t, n in sorted(in_window.items()) if n},
        },
        "immediate_danger": {
            "reports": len(dangers),
            "emergency_services_named": len(reached),
            "by_event_type": dict(Counter(observer.emergency[s.case_id][1] for s in reached)),
            "latency_from_post": latency_ms(
                [observer.emergency[s.case_id][0] - s.sent_at for s in reached]
            ),
            # Without the observer's own hop, which on Tansu waits up to its fetch wait
            # (100 ms) for every record (README, the Tansu note); on Kafka it is about nil.
            "latency_to_topic": latency_ms(
                [observer.emergency[s.case_id][2] - s.sent_at for s in reached]
            ),
            "by_hop": danger_hops(reached, observer),
        },
        "dead_letters": len(dead_letters),
        "dead_letter_reasons": dict(
            Counter(f"{d['topic']}: {d['error_class']}: {d['reason']}" for d in dead_letters)
        ),
        "consumer_lag_after_drain": lag,
        "cpu_seconds": cpu,
    }


def by_topic_and_type(observer: Observer, cases: set[str]) -> dict[str, int]:
    counted: Counter[str] = Counter()
    for (topic, event_type, case), _ in observer.first.items():
        if case in cases:
            counted[f"{topic} {event_type}"] += 1
    return dict(sorted(counted.items()))


async def db_transactions(connection: Any) -> int:
    """Transactions committed or rolled back so far, every database of the server."""
    count: int = await connection.fetchval(
        "SELECT sum(xact_commit + xact_rollback)::bigint FROM pg_stat_database"
    )
    return count


async def system_phases(
    stack: Stack, bootstrap: str, database_url: str, options: argparse.Namespace
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """CPU used while idle (the observer consuming), the warm-up (a few reports, so that
    every connection and cache is warm; not in the table), then each rate, then
    saturation."""
    assert stack.services is not None
    observer = Observer(bootstrap)
    observing = asyncio.create_task(observer.run())
    connection = await asyncpg.connect(database_url)
    reporting = ReportingRows(connection)
    load = Load(
        stack.services.url("intake"), load_token(stack), options.max_connections, options.seed
    )
    phases: list[dict[str, Any]] = []
    try:
        await asyncio.wait_for(observer.ready.wait(), 60)
        cpu_before, tx_before = stack.cpu(), await db_transactions(connection)
        await asyncio.sleep(options.idle_seconds)
        idle = {
            "seconds": options.idle_seconds,
            "cpu_seconds": cpu_delta(cpu_before, stack.cpu()),
            "db_transactions_per_s": rate(
                await db_transactions(connection) - tx_before, options.idle_seconds
            ),
        }
        plan: list[tuple[str, float | None, float]] = [("warm-up", 10, 2)]
        plan += [
            (f"rate-{per_second:g}", per_second, options.phase_seconds)
            for per_second in options.rates
        ]
        plan.append((f"saturation-{options.concurrency}", None, options.saturation_seconds))
        for name, per_second, seconds in plan:
            sending = Sending(name)
            cpu_before, tx_before = stack.cpu(), await db_transactions(connection)
            print(f"  {name}: sending for {seconds:g} s ...", flush=True)
            if per_second is None:
                await load.saturate(sending, options.concurrency, seconds)
            else:
                await load.paced(sending, per_second, seconds)
            sending.drain_started = time.time()
            drained_in, drained = await drain(sending, observer, reporting, options.drain_seconds)
            await reporting.refresh([sent.case_id for sent in sending.sent])
            cpu = cpu_delta(cpu_before, stack.cpu())
            lag = await consumer_lag(bootstrap, options.partitions)
            figures = phase_figures(
                sending, observer, reporting, drained_in, drained, per_second, cpu, lag
            )
            figures["db_transactions_per_s"] = rate(
                await db_transactions(connection) - tx_before, figures["wall_seconds"]
            )
            phases.append(figures)
            print(
                f"  {name}: {figures['accepted']} accepted, drained {drained} "
                f"in {drained_in:.1f} s",
                flush=True,
            )
    finally:
        observing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await observing
        await observer.stop()
        await load.client.close()
        await connection.close()
    return idle, phases


# --------------------------------------------------------------------------- replay


async def replay_plain(bootstrap: str, partition_count: int) -> dict[str, Any]:
    """A fresh group reads every topic of the system from the earliest offset."""
    topics = all_topics()
    partitions = [TopicPartition(t, p) for t in topics for p in range(partition_count)]
    ends = {
        tp: end
        for tp, end in (await end_offsets(partitions, bootstrap_servers=bootstrap)).items()
        if end
    }
    total = sum(ends.values())
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"bench-replay-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    started = time.time()
    first: float | None = None
    count = size = 0
    remaining = dict(ends)
    await consumer.start()
    try:
        while remaining and time.time() - started < 120:
            fetched = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, records in fetched.items():
                if records and first is None:
                    first = time.time()
                count += len(records)
                size += sum(len(record.value or b"") for record in records)
                if tp in remaining and records and records[-1].offset + 1 >= remaining[tp]:
                    del remaining[tp]
    finally:
        await consumer.stop()
    finished = time.time()
    return {
        "messages_at_start": total,
        "read": count,
        "bytes": size,
        "complete": not remaining,
        "seconds_with_group_join": round(finished - started, 2),
        "seconds_from_first_message": round(finished - (first or finished), 2),
        "events_per_s": rate(count, finished - (first or finished)),
    }


async def replay_reporting(
    stack: Stack, bootstrap: str, database_url: str, bound: float
) -> dict[str, Any]:
    """A second reporting process with its own group and schema catches up with the first."""
    suffix = uuid.uuid4().hex[:8]
    schema = f"reporting_replay_{suffix}"
    replica = ServiceProcesses(
        database_url=database_url,
        bootstrap_servers=bootstrap,
        ports={"reporting-replay": free_port()},
        log_dir=LOG_DIR,
        extra_env={
            **issuer_env(stack),
            "CONSUMER_GROUP": f"hhc-reporting-replay-{suffix}",
            "DB_SCHEMA": schema,
        },
    )
    stack.replicas.append(replica)
    connection = await asyncpg.connect(database_url)

    async def rows(in_schema: str) -> int:
        try:
            value: int = await connection.fetchval(
                f'SELECT count(*) FROM "{in_schema}".case_events'
            )
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return 0
        return value

    try:
        target_at_start = await rows("reporting")
        started = time.monotonic()
        replica.start("reporting", instance="reporting-replay")
        ready = await wait_ready(replica, {"reporting-replay": started}, bound=90)
        cpu_before = stack.cpu({"reporting-replay": replica.processes["reporting-replay"].pid})
        first_row: float | None = None
        caught_up: float | None = None
        replayed = target = 0
        ready_at = time.monotonic()
        while time.monotonic() - ready_at < bound:
            replayed, target = await rows(schema), await rows("reporting")
            now = time.monotonic()
            if replayed and first_row is None:
                first_row = now
            if replayed >= target and replayed:
                caught_up = now
                break
            await asyncio.sleep(0.25)
        cpu = cpu_delta(
            cpu_before, stack.cpu({"reporting-replay": replica.processes["reporting-replay"].pid})
        )
        finished = caught_up or time.monotonic()
        rss = proc_status(replica.processes["reporting-replay"].pid)
        return {
            "schema": schema,
            "rows_in_first_at_start": target_at_start,
            "rows_in_first_at_end": target,
            "rows_replayed": replayed,
            "caught_up": caught_up is not None,
            "ready_seconds": ready["reporting-replay"],
            "seconds_from_start": round(finished - started, 2),
            "seconds_from_first_row": round(finished - (first_row or finished), 2),
            "rows_per_s": rate(replayed, finished - (first_row or finished)),
            "cpu_seconds": cpu,
            "rss_kib": rss,
        }
    finally:
        await connection.close()
        replica.stop_all()
        stack.replicas.remove(replica)


# --------------------------------------------------------------------------- logs


def scan_logs(stack: Stack) -> dict[str, Any]:
    """Count each service's log lines of this run by level; keep the first few errors."""
    found: dict[str, Any] = {}
    names = [*SERVICES, "reporting-replay"]
    for name in names:
        path = LOG_DIR / f"{name}.log"
        if not path.exists():
            continue
        with path.open("rb") as log:
            log.seek(stack.log_offsets.get(name, 0))
            text = log.read().decode(errors="replace")
        levels: Counter[str] = Counter()
        problems: Counter[str] = Counter()
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict):
                level = str(entry.get("level", "?"))
                message = str(entry.get("message") or entry.get("msg") or "")
                detail = entry.get("error_class") or entry.get("exc_info") or ""
            else:
                level = "ERROR" if "Traceback" in line or "Error" in line else "TEXT"
                message, detail = line.strip()[:200], ""
            levels[level] += 1
            if level in ("ERROR", "CRITICAL", "WARNING"):
                problems[
                    f"{level}: {message}{' (' + str(detail)[:120] + ')' if detail else ''}"
                ] += 1
        found[name] = {
            "lines": sum(levels.values()),
            "errors": levels["ERROR"] + levels["CRITICAL"],
            "warnings": levels["WARNING"],
            "by_level": dict(levels),
            "problems": dict(problems.most_common(8)),
        }
    return found


# --------------------------------------------------------------------------- output


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_head": head or None,
        "git_dirty": dirty,
    }


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(rows: Iterable[Sequence[str]], header: Sequence[str]) -> Iterator[str]:
    """Columns padded to their widest cell; the first left-aligned, the others right."""
    cells = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[index]) for row in cells) for index in range(len(header))]
    for row in cells:
        yield "  ".join(
            cell.rjust(width) if index else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        )


def render(results: dict[str, Any]) -> str:
    info = results["machine"]
    lines = [
        "",
        f"HHC system benchmark  {info['date']}  {info['nproc']} x {info['cpu_model']}  "
        f"Python {info['python']}  git {info['git_head']}{' (dirty)' if info['git_dirty'] else ''}"
        f"{'  --quick' if results['quick'] else ''}",
        "",
        "Start-up (process start to /readyz 200, all five started at once)",
    ]
    ready = results["startup"]["ready_seconds"]
    lines.append("  " + "   ".join(f"{name} {ready[name]:.1f} s" for name in SERVICES))
    raw = results["raw_baseline"]
    lines += [
        "",
        "Raw baseline: aiokafka + asyncpg, batched stage in its own process, "
        f"{raw['partitions']} partition{'s' if raw['partitions'] != 1 else ''} a topic "
        "(as the system's)",
    ]
    rows = [
        [
            "max",
            f"{raw['max']['seen']}/{raw['max']['events']}",
            fmt(raw["max"]["events_per_s"]),
            fmt(raw["max"]["latency"]["p50_ms"], 1),
            fmt(raw["max"]["latency"]["p99_ms"], 1),
        ]
    ]
    for fixed in raw["fixed_rates"]:
        rows.append(
            [
                f"{fixed['rate']:g}/s",
                f"{fixed['seen']}/{fixed['events']}",
                fmt(fixed["events_per_s"]),
                fmt(fixed["latency"]["p50_ms"], 1),
                fmt(fixed["latency"]["p99_ms"], 1),
            ]
        )
    lines += ["  " + line for line in table(rows, ["load", "seen", "events/s", "p50 ms", "p99 ms"])]
    lines.append(
        f"  (stage: {raw['stage']['handled']} events in {raw['stage']['batches']} batches, "
        f"{raw['stage']['mean_batch']} a batch; latency: produced to read from topic B)"
    )
    idle = results["system"]["idle"]
    used = sum(v for k, v in idle["cpu_seconds"].items() if k not in ("other", "bench", "partners"))
    lines += [
        "",
        f"Idle ({idle['seconds']:g} s, no reports): the system used {used / idle['seconds']:.2f} "
        f"cores, {fmt(idle['db_transactions_per_s'])} database transactions/s",
        "",
        "System: reports POSTed to intake (per phase; rates are reports/s)",
    ]
    rows = []
    for phase in results["system"]["phases"]:
        stages = phase["stages"]
        danger = phase["immediate_danger"]
        rows.append(
            [
                phase["name"],
                fmt(phase["offered_per_s"], 1),
                str(phase["not_sent_in_flight_cap"] + phase["cancelled_unanswered"]),
                str(phase["accepted"]),
                fmt(phase["accepted_per_s"], 1),
                fmt(phase["http"]["p50_ms"]),
                fmt(phase["http"]["p99_ms"]),
                *(
                    fmt(stages[s]["reports_per_s"], 1)
                    for s in ("risk", "referrals", "enforcement", "reporting")
                ),
                fmt(phase["events"]["all_topics_per_s"]),
                f"{danger['emergency_services_named']}/{danger['reports']}",
                fmt(danger["latency_from_post"]["p50_ms"]),
                fmt(danger["latency_from_post"]["p99_ms"]),
                fmt(danger.get("latency_to_topic", {}).get("p99_ms")),
                f"{phase['drain_seconds']:.0f}{'' if phase['drained'] else '+'}",
            ]
        )
    header = [
        "phase",
        "offered/s",
        "unsent",
        "202",
        "202/s",
        "http p50",
        "p99",
        "risk/s",
        "referrals/s",
        "enforce/s",
        "reporting/s",
        "events/s",
        "danger",
        "p50 ms",
        "p99 ms",
        "topic p99",
        "drain s",
    ]
    lines += ["  " + line for line in table(rows, header)]
    lines += [
        "  offered/s: what the load tried to send; unsent: not sent because "
        f"{IN_FLIGHT_CAP} were waiting,",
        "  or cancelled unanswered; 202/s: over the time to the last answer; http in ms;",
        "  x/s through a stage: reports whose first event from it was seen, over the time from",
        "  the phase's start to the last of them (a stage counts only the reports it acts on:",
        "  referrals those risk asked it for, enforcement those with a perpetrator it can act",
        "  against); events/s: every topic, from the phase's start to its last event; danger:",
        "  POST to emergency services named on the referrals topic, seen by the bench's consumer;",
        "  topic p99: the same to the record's timestamp (set as the relay sent it), without the",
        "  bench's own consumer hop; drain s with '+': its bound was reached with work left",
        "",
        "Left behind when the drain ended: reports not through a stage / expected there;",
        "uncommitted messages per consumer group; dead letters seen",
    ]
    rows = []
    for phase in results["system"]["phases"]:
        stages, lag = phase["stages"], phase["consumer_lag_after_drain"]
        rows.append(
            [
                phase["name"],
                *(f"{stages[s]['backlog']}/{stages[s]['expected']}" for s in STAGES),
                *(fmt(lag.get(service)) for service in SERVICES),
                str(phase["dead_letters"]),
            ]
        )
    header = ["phase", *STAGES, *(f"lag {service[:5]}" for service in SERVICES), "dlq"]
    lines += ["  " + line for line in table(rows, header)]
    lines += ["", "Latency from POST to a stage's first event for the report, p50 / p99 ms"]
    rows = [
        [
            phase["name"],
            *(
                f"{fmt(phase['stages'][s]['latency_from_post']['p50_ms'])} / "
                f"{fmt(phase['stages'][s]['latency_from_post']['p99_ms'])}"
                for s in STAGES
            ),
        ]
        for phase in results["system"]["phases"]
    ]
    lines += ["  " + line for line in table(rows, ["phase", *STAGES])]
    lines += [
        "",
        "The immediate-danger path hop by hop, p50 / p99 ms: each event's occurred_at (set",
        "by its handler) and its record's timestamp (set by the relay's send) cut it",
    ]
    rows = [
        [
            phase["name"],
            *(
                f"{fmt(hop['p50_ms'])} / {fmt(hop['p99_ms'])}"
                for hop in phase["immediate_danger"]["by_hop"].values()
            ),
        ]
        for phase in results["system"]["phases"]
    ]
    short = ["post>intake", "relay", ">risk", "relay", ">referrals", "relay", ">seen"]
    lines += ["  " + line for line in table(rows, ["phase", *short])]
    lines += [
        "",
        "CPU seconds per phase, from its start to the end of its drain (bench: this process,",
        "load and observer; partners: their webhook and mail endpoints; other: everything",
        "else on the machine meanwhile)",
    ]
    names = ["bench", *SERVICES, "tansu", "postgres", "partners", "other"]
    idle = results["system"]["idle"]
    rows = [
        [phase["name"], fmt(phase["wall_seconds"], 1)]
        + [fmt(phase["cpu_seconds"].get(n), 1) for n in names]
        for phase in [{"name": "idle", "wall_seconds": idle["seconds"], **idle}]
        + results["system"]["phases"]
    ]
    for row, phase in zip(rows[1:], results["system"]["phases"], strict=True):
        row.append(fmt(phase["db_transactions_per_s"]))
    rows[0].append(fmt(idle["db_transactions_per_s"]))
    phases = [{"wall_seconds": idle["seconds"], **idle}, *results["system"]["phases"]]
    for row, phase in zip(rows, phases, strict=True):
        # Everything measured, over the phase's time: how near the machine's cores it ran.
        busy = sum(v for v in phase["cpu_seconds"].values() if v is not None)
        row.append(f"{busy / phase['wall_seconds']:.2f}/{os.cpu_count()}")
        outside = ("partners", "other")
        ours = busy - sum(phase["cpu_seconds"].get(name) or 0.0 for name in outside)
        reports = phase.get("accepted")
        row.append(fmt(1000 * ours / reports, 1) if reports else "-")
    lines += [
        "  " + line
        for line in table(rows, ["phase", "wall", *names, "db tx/s", "cores", "ms/report"])
    ]
    lines.append(
        "  cores: all of it over the phase's wall time, of the machine's; ms/report: all but"
        " partners and other, per report accepted"
    )
    replay = results["replay"]
    plain, rep = replay["plain"], replay["reporting"]
    lines += [
        "",
        "Replay",
        f"  plain aiokafka, fresh group, every topic: {plain['read']}/{plain['messages_at_start']} "
        f"messages, {fmt(plain['events_per_s'])} events/s (after the group join)",
    ]
    if rep is not None:
        lines.append(
            f"  second reporting (fresh group and schema): {rep['rows_replayed']} rows in "
            f"{rep['seconds_from_first_row']:.1f} s = {fmt(rep['rows_per_s'])} rows/s, "
            f"{'caught up' if rep['caught_up'] else 'NOT caught up'} with the first "
            f"({rep['rows_in_first_at_end']} rows); ready in {rep['ready_seconds']:.1f} s"
        )
    lines += ["", "Memory after the run (KiB)"]
    rows = [
        [name, fmt(figures.get("when_ready")), fmt(figures.get("VmRSS")), fmt(figures.get("VmHWM"))]
        for name, figures in results["rss_kib"].items()
    ]
    lines += ["  " + line for line in table(rows, ["process", "when ready", "VmRSS", "VmHWM"])]
    ratio = results["ratio"]
    lines += [
        "",
        f"Ratio: system at saturation {fmt(ratio['system_events_per_s'])} events/s (all topics) / "
        f"raw max {fmt(ratio['raw_events_per_s'])} events/s = {fmt(ratio['ratio'], 3)}",
        "",
        "Service logs of this run: "
        + ", ".join(
            f"{name} {logs['errors']} errors/{logs['warnings']} warnings"
            for name, logs in results["logs"].items()
        ),
    ]
    for name, logs in results["logs"].items():
        for problem, count in logs["problems"].items():
            lines.append(f"  {name}: {count} x {problem[:160]}")
    lines += ["", f"Whole run {results['wall_seconds']:.0f} s; figures in {results['output']}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


async def measure(stack: Stack, options: argparse.Namespace, results: dict[str, Any]) -> None:
    assert stack.broker is not None
    assert stack.postgres is not None
    bootstrap, database_url = stack.broker.bootstrap_servers, stack.postgres.url
    await create_topics(bootstrap, partitions=options.partitions)
    print("raw baseline ...", flush=True)
    results["raw_baseline"] = await raw_baseline(stack, bootstrap, database_url, options)
    print("starting the services ...", flush=True)
    results["startup"].update(await start_services(stack, bootstrap, database_url))
    print("system phases ...", flush=True)
    idle, (warm_up, *phases) = await system_phases(stack, bootstrap, database_url, options)
    results["system"] = {"idle": idle, "warm_up": warm_up, "phases": phases}
    print("replay ...", flush=True)
    results["replay"] = {
        "plain": await replay_plain(bootstrap, options.partitions),
        "reporting": None,
    }
    results["replay"]["reporting"] = await replay_reporting(
        stack, bootstrap, database_url, options.replay_seconds
    )
    assert stack.services is not None
    when_ready = results["startup"].pop("rss_kib_when_ready")
    results["rss_kib"] = {
        name: {**proc_status(process.pid), "when_ready": when_ready[name].get("VmRSS")}
        for name, process in stack.services.processes.items()
    }
    if stack.broker.process is not None:
        results["rss_kib"]["tansu"] = proc_status(stack.broker.process.pid)
    saturation = phases[-1]
    system_rate = saturation["events"]["all_topics_per_s"]
    raw_rate = results["raw_baseline"]["max"]["events_per_s"]
    results["ratio"] = {
        "system_events_per_s": system_rate,
        "raw_events_per_s": raw_rate,
        "ratio": round(system_rate / raw_rate, 4) if raw_rate else None,
        "definition": "messages on every system topic per second during the saturation "
        "phase (start to its last event, at most to the end of its drain), over the raw "
        "pipeline's input events per second end to end",
    }


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: asyncio lets only KeyboardInterrupt and SystemExit
    out of a task or callback; anything else raised there would end just that task."""

    pass


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM as Ctrl-C: inside the asyncio runner, its own SIGINT handler cancels the main task
    (every ``finally`` runs, then KeyboardInterrupt); elsewhere, raise at once."""
    on_sigint = signal.getsignal(signal.SIGINT)
    if callable(on_sigint) and on_sigint is not signal.default_int_handler:
        on_sigint(signal.SIGINT, frame)
        return
    raise Interrupted(signal.Signals(signum).name)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])

    def floats(text: str) -> list[float]:
        return [float(part) for part in text.split(",") if part]

    parser.add_argument("--quick", action="store_true", help="every phase about 3 s")
    parser.add_argument("--rates", type=floats, default=None, help="reports/s [10,50,100,200]")
    parser.add_argument("--phase-seconds", type=float, default=None, help="each rate [15]")
    parser.add_argument("--saturation-seconds", type=float, default=None, help="[20]")
    parser.add_argument("--concurrency", type=int, default=32, help="saturation senders [32]")
    parser.add_argument("--max-connections", type=int, default=64, help="HTTP pool [64]")
    parser.add_argument("--drain-seconds", type=float, default=None, help="bound [60]")
    parser.add_argument("--raw-events", type=int, default=None, help="raw max run [20000]")
    parser.add_argument("--raw-rates", type=floats, default=None, help="events/s [50,200]")
    parser.add_argument("--raw-rate-seconds", type=float, default=None, help="each [10]")
    parser.add_argument("--raw-timeout", type=float, default=120, help="raw wait bound [120]")
    parser.add_argument("--replay-seconds", type=float, default=None, help="bound [60]")
    parser.add_argument("--idle-seconds", type=float, default=None, help="idle CPU [5]")
    parser.add_argument(
        "--partitions",
        type=int,
        default=TOPIC_PARTITIONS,
        help=f"of every topic, the raw baseline's too [{TOPIC_PARTITIONS}, as make up]; on "
        "Tansu fewer partitions make each fetch cheaper (see the README's Tansu note)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=None, help="JSON file to write")
    parser.add_argument("--raw-stage", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--partners", type=Path, default=None, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    quick = options.quick
    defaults: dict[str, Any] = {
        # 100: the messaging issue's target, sustained through every service.
        "rates": [10.0, 50.0, 100.0, 200.0],
        "phase_seconds": 3.0 if quick else 15.0,
        "saturation_seconds": 3.0 if quick else 20.0,
        "drain_seconds": 15.0 if quick else 60.0,
        "raw_events": 3000 if quick else 20000,
        "raw_rates": [50.0, 200.0],
        "raw_rate_seconds": 3.0 if quick else 10.0,
        "replay_seconds": 20.0 if quick else 60.0,
        "idle_seconds": 3.0 if quick else 5.0,
    }
    for name, value in defaults.items():
        if getattr(options, name) is None:
            setattr(options, name, value)
    return options


def run_on_uvloop(main: Coroutine[Any, Any, None]) -> None:
    """As the services run (uvicorn's loop): the raw baseline's stage on the same loop as
    the system it is compared with, and the load and the observer taking less of the
    machine from the services they measure."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    if options.raw_stage:
        run_on_uvloop(raw_stage(json.loads(options.raw_stage)))
        return 0
    if options.partners:
        serve_partners(options.partners)
        return 0
    began = time.monotonic()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output: Path = options.output or BENCH_DIR / f"system-{stamp}.json"
    results: dict[str, Any] = {
        "machine": machine(),
        "quick": options.quick,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()},
        "startup": {},
    }
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _interrupt)
    stack = Stack()
    status = 0
    try:
        print("starting broker and database ...", flush=True)
        moment = time.monotonic()
        stack.broker = EmbeddedBroker(log_path=LOG_DIR / "tansu.log")
        stack.broker.start()
        results["startup"]["broker_seconds"] = round(time.monotonic() - moment, 2)
        moment = time.monotonic()
        stack.data_dir = Path(tempfile.mkdtemp(prefix="pg-", dir=BENCH_DIR)).resolve()
        stack.postgres = EmbeddedPostgres(
            data_dir=stack.data_dir, log_path=(LOG_DIR / "postgres.log").resolve()
        )
        stack.postgres.start()
        results["startup"]["postgres_seconds"] = round(time.monotonic() - moment, 2)
        issuer_dir = Path(tempfile.mkdtemp(prefix="issuer-", dir=BENCH_DIR)).resolve()
        stack.issuer = DevIssuer(issuer_dir).start()
        start_partners(stack)
        run_on_uvloop(measure(stack, options, results))
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (Interrupted)
        reason = str(stop) or "Ctrl-C or SIGTERM"
        print(f"\ninterrupted ({reason}); stopping everything", file=sys.stderr)
        results["interrupted"] = reason
        status = 130
    except Exception:
        traceback.print_exc()
        results["error"] = traceback.format_exc()
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping ...", flush=True)
        stack.stop()
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    results["logs"] = scan_logs(stack)
    results["wall_seconds"] = round(time.monotonic() - began, 1)
    results["output"] = str(output)
    output.write_text(json.dumps(results, indent=2, default=str))
    if status == 0:
        print(render(results))
    else:
        print(f"incomplete figures in {output}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
