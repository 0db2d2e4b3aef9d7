"""Systems and in-process services of the tests start their consumer groups at the topics'
end (``hhc_devstack.infrastructure.start_groups_at_the_end``): what earlier tests left on
the session's broker is not theirs to act on. Tansu answers a request for a partition's
latest offset with its last record batch's base offset plus one, so this holds only if
the end is read from a fetch's high watermark."""

import time
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hhc_devstack.infrastructure import create_topics, start_groups_at_the_end
from hhc_devstack.pytest_plugin import Broker

PARTITIONS = 3


async def test_a_group_started_at_the_end_reads_only_what_comes_after(
    broker: Broker, unique_topic: Callable[[str], str]
) -> None:
    """Turns red if the group starts where the broker says a partition ends (on Tansu, in
    the middle of its last batch): it would read the earlier records of that batch."""
    topic = unique_topic("ends")
    await create_topics(broker.bootstrap_servers, [topic], partitions=PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=50)
    await producer.start()
    try:
        # Sent without waiting, so each partition's records go in one batch of several.
        for partition in range(PARTITIONS):
            for _ in range(20):
                await producer.send(topic, b"before", partition=partition)
        await producer.flush()
        group = f"test-ends-{uuid.uuid4().hex[:8]}"
        await start_groups_at_the_end(broker.bootstrap_servers, [group], [topic])
        for partition in range(PARTITIONS):
            await producer.send_and_wait(topic, b"after", partition=partition)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    read: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while read.count(b"after") < PARTITIONS and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            read += [record.value for records in batches.values() for record in records]
    finally:
        await consumer.stop()
    assert read.count(b"before") == 0, f"{read.count(b'before')} records from before the start"
    assert read == [b"after"] * PARTITIONS
