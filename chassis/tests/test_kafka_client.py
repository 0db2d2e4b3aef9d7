"""The consumer client built from the settings."""

from hhc_chassis.kafka import consumer_for
from hhc_chassis.settings import ServiceSettings


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
