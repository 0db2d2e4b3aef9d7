"""The deployment declares exactly the topics the contracts define, and each service's Kafka
user may do what the service does and no more (no drift)."""

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hhc_contracts.topics import Topic, all_topics, dead_letter_topic

DEPLOY = Path(__file__).parent.parent / "deploy"
SERVICES = ("intake", "risk", "referrals", "enforcement", "reporting")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_strimzi_topics_are_the_catalogue() -> None:
    topics = _documents(DEPLOY / "k8s/base/topics/topics.yaml")
    assert {topic["apiVersion"] for topic in topics} == {"kafka.strimzi.io/v1"}
    assert sorted(topic["metadata"]["name"] for topic in topics) == sorted(all_topics())


def test_compose_creates_every_topic_and_its_dead_letters() -> None:
    compose = (DEPLOY / "compose/compose.yaml").read_text()
    block = re.search(r"TOPICS: >-\n((?:\s+hhc\.\S+\n)+)", compose)
    assert block, "compose.yaml has no TOPICS list"
    listed = block.group(1).split()
    assert sorted(listed) == sorted(topic.value for topic in Topic)
    assert 'create "$$topic.dlq"' in compose
    assert dead_letter_topic(listed[0]) == f"{listed[0]}.dlq"


def _acls(service: str) -> dict[str, set[str]]:
    """Operation -> the topics (or "group:<name>") the service's KafkaUser is allowed it on."""
    users = _documents(DEPLOY / "k8s/overlays/production/kafka-users.yaml")
    (user,) = [u for u in users if u["metadata"]["name"] == f"hhc-{service}"]
    allowed: dict[str, set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        assert resource["patternType"] == "literal"
        assert acl.get("type", "allow") == "allow"
        name = resource["name"] if resource["type"] == "topic" else f"group:{resource['name']}"
        for operation in acl["operations"]:
            allowed.setdefault(operation, set()).add(name)
    return allowed


@pytest.mark.parametrize("service", SERVICES)
def test_kafka_user_reads_what_the_service_consumes_and_writes_what_it_owns(service: str) -> None:
    consumed = {
        str(topic) for topic in importlib.import_module(f"hhc_{service}.app").definition().topics
    }
    allowed = _acls(service)
    assert allowed["Read"] == consumed | {f"group:hhc-{service}"}
    owned = {t.value for t in Topic if t.value.startswith(f"hhc.{service}.")} - {
        Topic.INTAKE_SUBMISSIONS.value  # written by other systems of the housing group
    }
    dead_letters = {dead_letter_topic(topic) for topic in consumed}
    assert allowed["Write"] == owned | dead_letters | {Topic.AUDIT_ACCESS.value}
    assert allowed["Write"] | allowed["Read"] - {f"group:hhc-{service}"} <= set(all_topics())


def test_outside_submitters_may_write_the_submissions_topic_and_nothing_else() -> None:
    users = _documents(DEPLOY / "k8s/overlays/production/kafka-users.yaml")
    (submitter,) = [u for u in users if u["metadata"]["name"] == "hhc-submitter"]
    acls = submitter["spec"]["authorization"]["acls"]
    assert [(acl["resource"]["type"], acl["resource"]["name"]) for acl in acls] == [
        ("topic", Topic.INTAKE_SUBMISSIONS.value)
    ]
    assert set(acls[0]["operations"]) == {"Write", "Describe"}
