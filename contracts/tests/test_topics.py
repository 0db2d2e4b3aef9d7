"""The topic catalogue and the registry agree with the naming rules of topics.py."""

import re

import pytest

from hhc_contracts import EVENT_TYPES, Topic, dead_letter_topic
from hhc_contracts.registry import ANY_PRODUCER
from hhc_contracts.topics import all_topics

# Every service writes the audit topic and its events, each naming itself as producer.
SHARED_BY_ALL_SERVICES = "audit"


def _owner(producer: str) -> str:
    return SHARED_BY_ALL_SERVICES if producer == ANY_PRODUCER else producer


TOPIC_NAME = re.compile(
    r"^hhc\.(?P<service>[a-z][a-z0-9-]*)\.(?P<aggregate>[a-z][a-z0-9-]*)\.v(?P<major>[1-9][0-9]*)$"
)
EVENT_TYPE_NAME = re.compile(r"^(?P<service>[a-z][a-z0-9-]*)\.[a-z][a-z0-9-]*$")


def test_every_topic_carries_at_least_one_event_type() -> None:
    used = {spec.topic for spec in EVENT_TYPES.values()}
    assert set(Topic) - used == set()


@pytest.mark.parametrize("key", sorted(EVENT_TYPES), ids=lambda key: f"{key[0]}.v{key[1]}")
def test_event_topic_follows_naming_and_major_version(key: tuple[str, int]) -> None:
    spec = EVENT_TYPES[key]
    match = TOPIC_NAME.match(spec.topic.value)
    assert match, f"{spec.topic.value} does not follow hhc.<service>.<aggregate>.v<major>"
    assert int(match["major"]) == spec.version, "a new major version goes on its own topic"
    assert match["service"] == _owner(spec.producer), "a topic belongs to who writes it"


@pytest.mark.parametrize("key", sorted(EVENT_TYPES), ids=lambda key: f"{key[0]}.v{key[1]}")
def test_event_type_is_named_after_its_producer(key: tuple[str, int]) -> None:
    spec = EVENT_TYPES[key]
    assert spec.event_type == key[0]
    assert spec.version == key[1]
    match = EVENT_TYPE_NAME.match(spec.event_type)
    assert match, f"{spec.event_type} does not follow <service>.<event-name>"
    assert match["service"] == _owner(spec.producer)


def test_dead_letter_topic() -> None:
    assert dead_letter_topic(Topic.INTAKE_CASES) == "hhc.intake.cases.v1.dlq"
    assert dead_letter_topic("hhc.risk.actions.v1") == "hhc.risk.actions.v1.dlq"


def test_all_topics_lists_every_topic_and_its_dead_letters() -> None:
    topics = all_topics()
    assert len(topics) == len(set(topics)) == 2 * len(Topic)
    for topic in Topic:
        assert topic.value in topics
        assert dead_letter_topic(topic.value) in topics
