"""The consumer client built from the settings, and the end offsets read from the broker."""

from collections.abc import Callable

from aiokafka import AIOKafkaProducer, TopicPartition

from hhc_chassis.kafka import consumer_for, end_offsets
from hhc_chassis.settings import ServiceSettings
from hhc_devstack.infrastructure import create_topics
from hhc_devstack.pytest_plugin import Broker


async def test_the_fetch_settings_reach_the_client() -> None:
    settings = ServiceSettings(
        service_name="chassistest",
        database_url="postgresql://unused",
        kafka_bootstrap_servers="127.0.0.1:1",
        consumer_fetch_wait_ms=321,
        consumer_fetch_min_bytes=4321,
    )
    client = consumer_for(settings, ["hhc.risk.assessments.v1"])
    assert (client._fetch_max_wait_ms, client._fetch_min_bytes) == (321, 4321)


async def test_end_offsets_are_where_the_records_end_whatever_the_batches(
    broker: Broker, unique_topic: Callable[[str], str]
) -> None:
    """Turns red if ``end_offsets`` gave the broker's answer to a request for the latest
    offset as it is: Tansu's is its last batch's base offset plus one (here 1 for the
    partition written in one batch of twenty, 21 for the one whose last batch is one
    record), and a reader stopping there missed the batch's tail."""
    topic = unique_topic("ends")
    await create_topics(broker.bootstrap_servers, [topic], partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=50)
    await producer.start()
    try:
        for _ in range(20):  # not awaited one by one: one batch of several records each
            await producer.send(topic, b"x", partition=0)
            await producer.send(topic, b"x", partition=1)
        await producer.flush()
        await producer.send_and_wait(topic, b"last", partition=1)
    finally:
        await producer.stop()
    partitions = [TopicPartition(topic, 0), TopicPartition(topic, 1)]

    ends = await end_offsets(partitions, bootstrap_servers=broker.bootstrap_servers)

    assert ends == {partitions[0]: 20, partitions[1]: 21}
