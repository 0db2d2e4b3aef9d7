"""What waiting costs the broker and the database: the figures behind the README's
"Where the CPU goes".

    .venv/bin/python benchmarks/idle_costs.py    # about two minutes

Starts its own Tansu and PostgreSQL on free ports and prints:

- Tansu's CPU while idle consumers wait on it, by how many consumers, how many topics
  and partitions each names and ``fetch_max_wait_ms``: each held fetch costs the broker
  work, whether or not a record arrives;
- PostgreSQL's CPU per committed transaction that sends a NOTIFY, with and without idle
  connections listening on other channels of the same database: a commit's NOTIFY wakes
  every listening connection of the database, whatever its channel, as the services'
  relays and clocks are when they share one database.
"""

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer

from hhc_devstack.infrastructure import EmbeddedBroker, EmbeddedPostgres, create_topics
from hhc_devstack.proc import cpu_seconds


def _cpu(pid: int, *, children: bool = False) -> float:
    used = cpu_seconds(pid, children=children)
    if used is None:
        raise RuntimeError(f"process {pid} is gone")
    return used


@dataclass(frozen=True, slots=True)
class Waiting:
    consumers: int
    topics: int
    partitions: int
    wait_ms: int

    @property
    def label(self) -> str:
        return (
            f"{self.consumers} consumers, {self.topics} topics of {self.partitions} "
            f"partitions, wait {self.wait_ms} ms"
        )


WAITING = (
    Waiting(1, 3, 3, 100),
    Waiting(6, 1, 1, 100),
    Waiting(6, 3, 1, 100),
    Waiting(6, 3, 3, 100),
    Waiting(6, 3, 3, 500),
    # The bench's observer, had it read every topic with one consumer.
    Waiting(1, 20, 3, 100),
    Waiting(1, 20, 3, 500),
)


async def broker_cores_while_waiting(
    broker: EmbeddedBroker, waiting: Waiting, seconds: float
) -> float:
    assert broker.process is not None
    suffix = uuid.uuid4().hex[:8]
    names = [f"idle.{index}.{suffix}" for index in range(waiting.topics)]
    await create_topics(broker.bootstrap_servers, names, partitions=waiting.partitions)
    consumers = [
        AIOKafkaConsumer(
            *names,
            bootstrap_servers=broker.bootstrap_servers,
            group_id=f"idle-{index}-{suffix}",
            fetch_max_wait_ms=waiting.wait_ms,
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
        )
        for index in range(waiting.consumers)
    ]
    for consumer in consumers:
        await consumer.start()

    async def keep_fetching(consumer: AIOKafkaConsumer) -> None:
        while True:
            await consumer.getmany(timeout_ms=waiting.wait_ms)

    fetching = [asyncio.create_task(keep_fetching(consumer)) for consumer in consumers]
    try:
        await asyncio.sleep(8)  # past the group joins
        before, started = _cpu(broker.process.pid), time.monotonic()
        await asyncio.sleep(seconds)
        return (_cpu(broker.process.pid) - before) / (time.monotonic() - started)
    finally:
        for task in fetching:
            task.cancel()
        await asyncio.gather(*fetching, return_exceptions=True)
        for consumer in consumers:
            await consumer.stop()


async def database_cpu_per_notify(
    postgres: EmbeddedPostgres, listeners: int, rate: float, seconds: float
) -> tuple[float, float]:
    """(notifying commits per second, PostgreSQL's CPU-microseconds per commit)."""
    assert postgres.process is not None
    listening = [await asyncpg.connect(postgres.url) for _ in range(listeners)]
    writer = await asyncpg.connect(postgres.url)
    try:
        for index, connection in enumerate(listening):
            await connection.add_listener(f"elsewhere_{index}", lambda *_: None)
        before, started = _cpu(postgres.process.pid, children=True), time.monotonic()
        commits = 0
        while time.monotonic() - started < seconds:
            async with writer.transaction():
                await writer.execute("SELECT pg_notify('nobody_listens', '')")
            commits += 1
            await asyncio.sleep(1 / rate)
        elapsed = time.monotonic() - started
        used = _cpu(postgres.process.pid, children=True) - before
        return commits / elapsed, used / commits * 1_000_000
    finally:
        for connection in [*listening, writer]:
            await connection.close()


async def measure(
    broker: EmbeddedBroker, postgres: EmbeddedPostgres, seconds: float, rate: float, listeners: int
) -> None:
    assert broker.process is not None
    before = _cpu(broker.process.pid)
    await asyncio.sleep(seconds)
    print(f"Tansu's CPU while consumers wait ({seconds:.0f} s each), cores")
    print(f"  {'no consumer':58s} {(_cpu(broker.process.pid) - before) / seconds:6.3f}")
    for waiting in WAITING:
        cores = await broker_cores_while_waiting(broker, waiting, seconds)
        print(f"  {waiting.label:58s} {cores:6.3f}")
    print(f"\nPostgreSQL's CPU per notifying commit, about {rate:.0f} a second")
    # Alternated, so that a change of the machine's speed shows as a spread, not a gap.
    for count in (0, listeners, 0, listeners):
        per_second, micros = await database_cpu_per_notify(postgres, count, rate, seconds)
        print(
            f"  {count:2d} idle listeners on other channels: "
            f"{per_second:5.0f} commits/s, {micros:5.0f} CPU-µs a commit"
        )


def main(seconds: float, rate: float, listeners: int) -> None:
    broker = EmbeddedBroker()
    postgres = EmbeddedPostgres(data_dir=Path(tempfile.mkdtemp(prefix="hhc-idle-")))
    broker.start()
    try:
        postgres.start()  # runs its own event loop to wait for the server
        asyncio.run(measure(broker, postgres, seconds, rate, listeners))
    finally:
        postgres.stop()
        broker.stop()
        shutil.rmtree(postgres.data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="each measure [10]")
    parser.add_argument("--rate", type=float, default=250, help="notifying commits/s [250]")
    parser.add_argument("--listeners", type=int, default=14, help="idle listeners [14]")
    options = parser.parse_args()
    main(options.seconds, options.rate, options.listeners)
