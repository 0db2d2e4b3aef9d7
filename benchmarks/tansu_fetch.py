"""How long the embedded broker holds a consumer's fetch, by what the fetch names.

    .venv/bin/python benchmarks/tansu_fetch.py    # about a minute

Starts its own Tansu on a free port. For each layout (topics and partitions a consumer
subscribes to), a consumer with ``fetch_max_wait_ms`` = ``--wait-ms`` sits caught up,
then records are produced one at a time, at different points of its held fetch, and the
time from the send to the consumer's ``getone`` is printed. Apache Kafka answers a
fetch as soon as a record arrives in any partition it names; the figures show where
Tansu does and where it holds the fetch for its whole wait, which is why each consumer
hop of the system costs up to ``CONSUMER_FETCH_WAIT_MS`` on Tansu.
"""

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from hhc_devstack.infrastructure import EmbeddedBroker, create_topics


@dataclass(frozen=True, slots=True)
class Layout:
    label: str
    topics: Sequence[tuple[str, int]]
    """Each topic the consumer subscribes to, and its partitions."""
    target: tuple[int, int]
    """Which topic (index) and partition the records are sent to."""


LAYOUTS = (
    Layout("1 topic of 1 partition", [("a", 1)], (0, 0)),
    Layout("1 topic of 3 partitions, to partition 0", [("a", 3)], (0, 0)),
    Layout("1 topic of 3 partitions, to partition 2", [("a", 3)], (0, 2)),
    Layout("2 topics of 1 partition, to the first", [("a", 1), ("b", 1)], (0, 0)),
    Layout("2 topics of 1 partition, to the second", [("a", 1), ("b", 1)], (1, 0)),
)


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.event.clear()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.event.set()


async def held_ms(bootstrap: str, layout: Layout, wait_ms: int, records: int) -> list[float]:
    suffix = uuid.uuid4().hex[:8]
    names = [f"probe.{name}.{suffix}" for name, _ in layout.topics]
    for name, (_, partitions) in zip(names, layout.topics, strict=True):
        await create_topics(bootstrap, [name], partitions=partitions)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"probe-{suffix}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=wait_ms,
    )
    assigned = _Assigned()
    consumer.subscribe(names, listener=assigned)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await consumer.start()
    await producer.start()
    try:
        # The group is joined in the background; a fetch is what drives it there.
        fetching = asyncio.ensure_future(consumer.getmany(timeout_ms=wait_ms))
        await asyncio.wait_for(assigned.event.wait(), 30)
        await fetching
        await consumer.seek_to_end()
        topic, partition = names[layout.target[0]], layout.target[1]
        took: list[float] = []
        for index in range(records):
            # Land at different points of the fetch the consumer has waiting.
            await asyncio.sleep(wait_ms / 1000 * (1 + (index % 5) / 5))
            sent = time.perf_counter()
            await producer.send_and_wait(topic, b"probe", partition=partition)
            await consumer.getone()
            took.append((time.perf_counter() - sent) * 1000)
        return took
    finally:
        await consumer.stop()
        await producer.stop()


async def main(wait_ms: int, records: int) -> None:
    broker = EmbeddedBroker()
    broker.start()
    try:
        print(f"Send to getone, fetch_max_wait_ms={wait_ms}, {records} records each, ms")
        print(f"  {'layout':44s} {'median':>7s} {'max':>7s}")
        for layout in LAYOUTS:
            took = await held_ms(broker.bootstrap_servers, layout, wait_ms, records)
            print(f"  {layout.label:44s} {statistics.median(took):7.0f} {max(took):7.0f}")
    finally:
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait-ms", type=int, default=500, help="fetch_max_wait_ms [500]")
    parser.add_argument("--records", type=int, default=10, help="per layout [10]")
    options = parser.parse_args()
    asyncio.run(main(options.wait_ms, options.records))
