"""The deployment declares exactly the topics the contracts define (no drift)."""

import re
from pathlib import Path

from hhc_contracts.topics import Topic, all_topics, dead_letter_topic

DEPLOY = Path(__file__).parent.parent / "deploy"


def test_strimzi_topics_are_the_catalogue() -> None:
    manifest = (DEPLOY / "k8s/base/topics/topics.yaml").read_text()
    declared = re.findall(r"^\s+name:\s+(hhc\.\S+)$", manifest, flags=re.MULTILINE)
    assert sorted(declared) == sorted(all_topics())


def test_compose_creates_every_topic_and_its_dead_letters() -> None:
    compose = (DEPLOY / "compose/compose.yaml").read_text()
    block = re.search(r"TOPICS: >-\n((?:\s+hhc\.\S+\n)+)", compose)
    assert block, "compose.yaml has no TOPICS list"
    listed = block.group(1).split()
    assert sorted(listed) == sorted(topic.value for topic in Topic)
    assert 'create "$$topic.dlq"' in compose
    assert dead_letter_topic(listed[0]) == f"{listed[0]}.dlq"
