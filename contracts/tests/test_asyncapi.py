"""The AsyncAPI document, the catalogue page and the consumers table against the registry
and the services themselves.

The services are imported here only: the contracts package depends on none of them.
"""

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hhc_contracts import EVENT_TYPES, Topic, dead_letter_topic
from hhc_contracts.consumers import CONSUMED_BY, OTHER_SYSTEMS, topics_consumed_by
from hhc_contracts.schemagen import (
    ASYNCAPI_PATH,
    CATALOGUE_PATH,
    PARTITIONS,
    REPLICAS,
    SCHEMA_ID_BASE,
    SCHEMAS_DIR,
    asyncapi_document,
    generated_files,
)
from hhc_contracts.trust import SERVICES

REPOSITORY = Path(__file__).resolve().parents[2]

JsonObject = dict[str, Any]


@pytest.fixture(scope="module")
def document() -> JsonObject:
    return asyncapi_document()


def operations_of(document: JsonObject, action: str, party: str) -> dict[str, JsonObject]:
    return {
        name: operation
        for name, operation in document["operations"].items()
        if operation["action"] == action and operation["tags"] == [{"name": party}]
    }


def message_ids(operation: JsonObject) -> set[str]:
    return {reference["$ref"].rsplit("/", 1)[-1] for reference in operation["messages"]}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_consumers_table_matches_what_each_service_handles(service: str) -> None:
    definition = importlib.import_module(f"hhc_{service}.app").definition()
    assert set(definition.handlers) == CONSUMED_BY[service]
    assert {str(topic) for topic in definition.topics} == {
        topic.value for topic in topics_consumed_by(service)
    }
    assert definition.settings.group_id == f"hhc-{service}"


def test_each_service_sends_what_it_produces_and_receives_what_it_handles(
    document: JsonObject,
) -> None:
    for service in sorted(SERVICES):
        sent = set().union(*map(message_ids, operations_of(document, "send", service).values()))
        produced = {
            f"{spec.event_type}.v{spec.version}"
            for spec in EVENT_TYPES.values()
            if spec.producer == service and spec.topic != Topic.INTAKE_SUBMISSIONS
        }
        assert sent == produced, service
        received = operations_of(document, "receive", service)
        assert set().union(*map(message_ids, received.values())) == {
            f"{spec.event_type}.v{spec.version}"
            for spec in EVENT_TYPES.values()
            if spec.event_type in CONSUMED_BY[service]
        }, service
        for operation in received.values():
            group = operation["bindings"]["kafka"]["groupId"]["enum"]
            assert group == [f"hhc-{service}"]


def test_submissions_are_sent_by_other_systems_and_received_by_intake(
    document: JsonObject,
) -> None:
    submissions = Topic.INTAKE_SUBMISSIONS.value
    on_submissions = {
        (operation["action"], operation["tags"][0]["name"])
        for operation in document["operations"].values()
        if operation["channel"]["$ref"] == f"#/channels/{submissions}"
    }
    assert on_submissions == {("send", OTHER_SYSTEMS), ("receive", "intake")}
    headers = document["components"]["messages"]["intake.report-submitted.v1"]["headers"]
    assert "const" not in headers["properties"]["hhc-producer"]


def test_topics_have_kafka_bindings_as_deployed(document: JsonObject) -> None:
    # deploy/k8s/base/topics: one patch sets every topic's partitions and replicas.
    deployed = (REPOSITORY / "deploy/k8s/base/topics/kustomization.yaml").read_text()
    assert re.findall(r"^ *partitions: (\d+)", deployed, re.MULTILINE) == [str(PARTITIONS)]
    assert re.findall(r"^ *replicas: (\d+)", deployed, re.MULTILINE) == [str(REPLICAS)]
    for topic in Topic:
        for address in (topic.value, dead_letter_topic(topic.value)):
            binding = document["channels"][address]["bindings"]["kafka"]
            assert (binding["topic"], binding["partitions"]) == (address, PARTITIONS)
    key = document["components"]["messages"]["intake.report-received.v1"]["bindings"]["kafka"]
    assert key["key"]["format"] == "uuid"


def test_production_server_requires_mutual_tls_or_scram_over_tls(document: JsonObject) -> None:
    production = document["servers"]["production"]
    assert production["protocol"] == "kafka-secure"
    schemes = document["components"]["securitySchemes"]
    required = [schemes[ref["$ref"].rsplit("/", 1)[-1]]["type"] for ref in production["security"]]
    assert required == ["X509", "scramSha512"]


def test_schema_ids_are_https_urls_named_like_their_files() -> None:
    for path in sorted(SCHEMAS_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["$id"] == SCHEMA_ID_BASE + path.name
        assert schema["$id"].startswith("https://")


def test_catalogue_page_is_current_and_lists_every_event() -> None:
    regenerated = generated_files()
    assert CATALOGUE_PATH.read_text(encoding="utf-8") == regenerated[CATALOGUE_PATH]
    assert ASYNCAPI_PATH.read_text(encoding="utf-8") == regenerated[ASYNCAPI_PATH]
    page = regenerated[CATALOGUE_PATH]
    assert "<script" not in page
    for event_type, version in EVENT_TYPES:
        assert f'id="{event_type}.v{version}"' in page
    # A field's description, and who receives the event, from the document.
    received = page.split('id="intake.report-received.v1"')[1].split("</section>")[0]
    assert "<dt>Received by</dt><dd>enforcement, referrals, reporting, risk</dd>" in received
    assert "survivor_is_customer" in received
