"""Generate the committed JSON Schemas, golden examples and AsyncAPI document.

    uv run python -m hhc_contracts.schemagen          # write
    uv run python -m hhc_contracts.schemagen --check  # exit 1 when anything is stale
    uv run python -m hhc_contracts.schemagen --bundle dist  # the schemas' zip (make dist)

Every run rewrites ``schemas/<event_type>.v<N>.json``, ``asyncapi.json`` and
``catalogue.html`` from the models. ``schemas/released/`` and ``examples/`` are
written only when a file is missing and never rewritten: they record what consumers
of a version were built against, and the tests compare the current models with them.
Schemas describe the message as serialised (``mode="serialization"``), because
that is what consumers read off the topic.
"""

import argparse
import inspect
import json
import sys
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from hhc_contracts.catalogue_page import catalogue_html
from hhc_contracts.consumers import (
    CONSUMED_BY,
    EVERY_SERVICE,
    OTHER_SYSTEMS,
    consumer_group,
    consumers_of,
    senders_of,
)
from hhc_contracts.envelope import Envelope, EventHeaders
from hhc_contracts.examples import example_message
from hhc_contracts.registry import ANY_PRODUCER, EVENT_TYPES, EventSpec
from hhc_contracts.topics import Topic, dead_letter_topic
from hhc_contracts.trust import OPEN_TO_OTHER_SYSTEMS

JsonObject = dict[str, Any]

# src/hhc_contracts/schemagen.py -> contracts/: works from a checkout, which is the
# only place where writing these files makes sense.
CONTRACTS_DIR = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = CONTRACTS_DIR / "schemas"
RELEASED_DIR = SCHEMAS_DIR / "released"
EXAMPLES_DIR = CONTRACTS_DIR / "examples"
ASYNCAPI_PATH = CONTRACTS_DIR / "asyncapi.json"
CATALOGUE_PATH = CONTRACTS_DIR / "catalogue.html"

SCHEMA_ID_BASE = "https://schemas.hhc.example/events/"
"""Where the schemas are published (the zip `make dist` builds): a schema's ``$id`` is
this base and its file name, so that ``$ref``s between published schemas resolve."""

REGENERATE_COMMAND = "uv run python -m hhc_contracts.schemagen"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING_VERSION = "0.5.0"
# The production topics (deploy/k8s/base/topics/kustomization.yaml; a test keeps them
# in step). Partitions only ever grow: the case id is the key, so growing them moves
# cases to other partitions, and ordering per case holds for new events only.
PARTITIONS = 6
REPLICAS = 3
RETENTION_MS = 30 * 24 * 3600 * 1000
DEAD_LETTER_RETENTION_MS = 90 * 24 * 3600 * 1000
# W3C trace context, version 00: version-trace id-parent id-flags.
TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def parse_file_name(name: str) -> tuple[str, int]:
    """Inverse of :func:`file_name`: ``"intake.report-received.v1.json"`` -> key."""
    event_type, _, version = name.removesuffix(".json").rpartition(".v")
    return event_type, int(version)


def schema_id(spec: EventSpec) -> str:
    return SCHEMA_ID_BASE + file_name(spec.event_type, spec.version)


def render(document: JsonObject) -> str:
    """Stable text, so that regenerating unchanged models gives identical files."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _docstring(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def message_model(spec: EventSpec) -> type[Envelope]:
    """The envelope with this event's payload, type and version pinned."""
    envelope_fields = Envelope.model_fields
    # Literals built at run time: mypy cannot check them, pydantic turns them into const.
    this_event_type: Any = Literal[spec.event_type]
    this_version: Any = Literal[spec.version]
    message: type[Envelope] = create_model(
        f"{spec.model.__name__}V{spec.version}Message",
        __base__=Envelope,
        event_type=(this_event_type, Field(description=envelope_fields["event_type"].description)),
        schema_version=(
            this_version,
            Field(description=envelope_fields["schema_version"].description),
        ),
        payload=(spec.model, Field(description=envelope_fields["payload"].description)),
    )
    return message


def message_schema(spec: EventSpec) -> JsonObject:
    """JSON Schema of the whole message (envelope and payload) of one event version."""
    schema = message_model(spec).model_json_schema(mode="serialization")
    schema.update(
        {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": schema_id(spec),
            "title": f"{spec.event_type} v{spec.version}",
            "description": _docstring(spec.model),
            "x-topic": spec.topic.value,
        }
    )
    return schema


def _contracts_version() -> str:
    with (CONTRACTS_DIR / "pyproject.toml").open("rb") as pyproject:
        version: str = tomllib.load(pyproject)["project"]["version"]
    return version


def _string(description: str, **keywords: Any) -> JsonObject:
    return {"type": "string", "description": description, **keywords}


def _envelope_headers(spec: EventSpec | None) -> dict[str, JsonObject]:
    """Headers mirroring the envelope; pinned to one event's values when given one."""
    headers = {
        EventHeaders.EVENT_ID: _string("The envelope's event_id.", format="uuid"),
        EventHeaders.EVENT_TYPE: _string("The envelope's event_type."),
        EventHeaders.SCHEMA_VERSION: _string("The envelope's schema_version."),
        EventHeaders.PRODUCER: _string("The envelope's producer."),
        "traceparent": _string(
            "W3C trace context of the producing request, when it was traced.",
            pattern=TRACEPARENT_PATTERN,
        ),
    }
    if spec:
        headers[EventHeaders.EVENT_TYPE]["const"] = spec.event_type
        headers[EventHeaders.SCHEMA_VERSION]["const"] = str(spec.version)
        if spec.producer != ANY_PRODUCER and spec.topic not in OPEN_TO_OTHER_SYSTEMS:
            headers[EventHeaders.PRODUCER]["const"] = spec.producer
    return headers


def _event_headers(spec: EventSpec) -> JsonObject:
    return {
        "type": "object",
        "properties": _envelope_headers(spec),
        "required": [
            EventHeaders.EVENT_ID,
            EventHeaders.EVENT_TYPE,
            EventHeaders.SCHEMA_VERSION,
            EventHeaders.PRODUCER,
        ],
    }


def _message_key(spec: EventSpec) -> JsonObject:
    # Mirrors the outbox: the case id, or the event type for events about no case.
    if "case_id" in spec.model.model_fields:
        return _string(
            "The case id, so that one case's events stay in order on one partition.",
            format="uuid",
        )
    return _string("The event type: this event is about no single case.", const=spec.event_type)


def _message_id(spec: EventSpec) -> str:
    return f"{spec.event_type}.v{spec.version}"


def _event_message(spec: EventSpec) -> JsonObject:
    example = example_message(spec)
    sender = senders_of(spec.topic, spec.producer)
    return {
        "name": spec.event_type,
        "title": f"{spec.event_type} v{spec.version}",
        "summary": _docstring(spec.model).splitlines()[0],
        "description": _docstring(spec.model),
        "contentType": "application/json",
        "headers": _event_headers(spec),
        "payload": {
            "schemaFormat": "application/schema+json;version=draft-2020-12",
            "schema": {"$ref": f"{SCHEMAS_DIR.name}/{file_name(spec.event_type, spec.version)}"},
        },
        "correlationId": {
            "description": "Shared by every event caused by one report.",
            "location": "$message.payload#/correlation_id",
        },
        "bindings": {"kafka": {"key": _message_key(spec), "bindingVersion": KAFKA_BINDING_VERSION}},
        # The golden example's values are made up, personal ones included.
        "examples": [
            {
                "name": "example",
                "summary": "A made-up message of this version.",
                "headers": example.headers(),
                "payload": example.model_dump(mode="json"),
            }
        ],
        "x-producer": sender,
        "x-consumers": consumers_of(spec.event_type),
    }


DEAD_LETTER_MESSAGE_ID = "dead-letter"


def _dead_letter_message() -> JsonObject:
    digits = "^[0-9]+$"
    dead_letter_headers = {
        EventHeaders.DLQ_REASON: _string("Why the message could not be handled.", maxLength=1000),
        EventHeaders.DLQ_ERROR_CLASS: _string("Class name of the error that stopped it."),
        EventHeaders.DLQ_ATTEMPTS: _string("How many times handling was tried.", pattern=digits),
        EventHeaders.DLQ_CONSUMER: _string("Name of the consumer that gave up."),
        EventHeaders.DLQ_ORIGINAL_TOPIC: _string("Topic the message was read from."),
        EventHeaders.DLQ_ORIGINAL_PARTITION: _string("Its partition there.", pattern=digits),
        EventHeaders.DLQ_ORIGINAL_OFFSET: _string("Its offset there.", pattern=digits),
    }
    return {
        "name": DEAD_LETTER_MESSAGE_ID,
        "title": "Dead letter",
        "summary": "A message a consumer could not handle, with the reason in headers.",
        "description": "Key and value are the original message's, byte for byte: the value "
        "may not even be valid JSON, which may be why it is here. The original headers "
        "are kept (when the original had them) and the hhc-dlq-* headers added.",
        "headers": {
            "type": "object",
            "properties": {
                # Copied from the original, which may have lacked them: none required.
                **_envelope_headers(None),
                **dead_letter_headers,
            },
            "required": list(dead_letter_headers),
        },
        "payload": {"description": "The original message value, unchanged."},
        "bindings": {
            "kafka": {
                "key": _string("The original message key, unchanged."),
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel_description(topic: Topic, specs: list[EventSpec]) -> str:
    consumers = sorted({service for spec in specs for service in consumers_of(spec.event_type)})
    read_by = f"received by {', '.join(consumers)}" if consumers else "read by no service"
    if topic in OPEN_TO_OTHER_SYSTEMS:
        written_by = (
            "Sent by other systems of the housing group, each naming itself as the "
            "envelope's producer"
        )
    elif any(spec.producer == ANY_PRODUCER for spec in specs):
        written_by = "Published by every service, each naming itself as the envelope's producer"
    else:
        written_by = f"Published by {' and '.join(sorted({spec.producer for spec in specs}))}"
    if all("case_id" in spec.model.model_fields for spec in specs):
        keyed = "keyed by case id"
    else:
        keyed = "keyed by event type, as these events are about no case"
    return f"{written_by}; {read_by}; {keyed}."


def _specs_by_topic() -> dict[Topic, list[EventSpec]]:
    by_topic: dict[Topic, list[EventSpec]] = {topic: [] for topic in Topic}
    for key in sorted(EVENT_TYPES):
        spec = EVENT_TYPES[key]
        by_topic[spec.topic].append(spec)
    return by_topic


def _topic_binding(topic: str, retention_ms: int) -> JsonObject:
    return {
        "kafka": {
            "topic": topic,
            "partitions": PARTITIONS,
            "replicas": REPLICAS,
            "topicConfiguration": {"cleanup.policy": ["delete"], "retention.ms": retention_ms},
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _message_refs(channel: str, specs: Iterable[EventSpec]) -> list[JsonObject]:
    return [{"$ref": f"#/channels/{channel}/messages/{_message_id(spec)}"} for spec in specs]


def _send_operations(topic: Topic, specs: list[EventSpec]) -> JsonObject:
    operations: JsonObject = {}
    for sender in sorted({senders_of(topic, spec.producer) for spec in specs}):
        sent = [spec for spec in specs if senders_of(topic, spec.producer) == sender]
        if sender == OTHER_SYSTEMS:
            title = f"Other systems send to {topic.value}"
            summary = (
                "Systems outside the case system (the housing system, partner agencies) "
                "submit reports here, authorised by a KafkaUser that may write this topic "
                "only; intake receives them."
            )
        elif sender == EVERY_SERVICE:
            title = f"Every service publishes to {topic.value}"
            summary = "Each service publishes these through its transactional outbox."
        else:
            title = f"{sender} publishes to {topic.value}"
            summary = f"The {sender} service publishes these through its transactional outbox."
        operations[f"{sender}.send.{topic.value}"] = {
            "action": "send",
            "title": title,
            "summary": summary,
            "channel": {"$ref": f"#/channels/{topic.value}"},
            "messages": _message_refs(topic.value, sent),
            "tags": [{"name": sender}],
        }
    return operations


def _receive_operations(topic: Topic, specs: list[EventSpec]) -> JsonObject:
    operations: JsonObject = {}
    for service, handled in sorted(CONSUMED_BY.items()):
        received = [spec for spec in specs if spec.event_type in handled]
        if not received:
            continue
        operations[f"{service}.receive.{topic.value}"] = {
            "action": "receive",
            "title": f"{service} receives from {topic.value}",
            "summary": f"The {service} service handles these in its inbox transaction "
            "(each event once) and skips the topic's other event types; what it cannot "
            f"handle goes to {dead_letter_topic(topic.value)}.",
            "channel": {"$ref": f"#/channels/{topic.value}"},
            "messages": _message_refs(topic.value, received),
            "bindings": {
                "kafka": {
                    "groupId": {"type": "string", "enum": [consumer_group(service)]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
            "tags": [{"name": service}],
        }
    return operations


def _dead_letter_operation(topic: Topic, specs: list[EventSpec]) -> JsonObject:
    dead_letters = dead_letter_topic(topic.value)
    consumers = sorted({service for spec in specs for service in consumers_of(spec.event_type)})
    by_whom = ", ".join(consumers) if consumers else "any consumer"
    return {
        "action": "send",
        "title": f"Dead-lettering from {topic.value}",
        "summary": f"Consumers of {topic.value} ({by_whom}) send a message here once they "
        "give up on it: at once for a message that cannot be valid, after bounded retries "
        "for other errors.",
        "channel": {"$ref": f"#/channels/{dead_letters}"},
        "messages": [{"$ref": f"#/channels/{dead_letters}/messages/{DEAD_LETTER_MESSAGE_ID}"}],
        "tags": [{"name": "dead-letters"}],
    }


MUTUAL_TLS = "mutualTLS"
SCRAM_SHA_512 = "scramSha512"


def _security_schemes() -> JsonObject:
    # As hhc_chassis.settings builds every client: KAFKA_SECURITY_PROTOCOL and friends.
    return {
        MUTUAL_TLS: {
            "type": "X509",
            "description": "Mutual TLS: the client certificate names the KafkaUser whose "
            "ACLs apply. Clients of the case system: KAFKA_SECURITY_PROTOCOL=SSL, "
            "KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE.",
        },
        SCRAM_SHA_512: {
            "type": "scramSha512",
            "description": "SCRAM-SHA-512 over TLS: KAFKA_SECURITY_PROTOCOL=SASL_SSL, "
            "KAFKA_SASL_MECHANISM=SCRAM-SHA-512, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, "
            "and KAFKA_SSL_CA_FILE for the cluster's certificate authority.",
        },
    }


def _servers() -> JsonObject:
    return {
        "production": {
            "host": "{bootstrap}",
            "protocol": "kafka-secure",
            "description": "The deployment's Kafka cluster: TLS only, each client "
            "authenticated by either scheme and limited by its KafkaUser's ACLs.",
            "variables": {"bootstrap": {"description": "A bootstrap server, host:port."}},
            "security": [
                {"$ref": f"#/components/securitySchemes/{MUTUAL_TLS}"},
                {"$ref": f"#/components/securitySchemes/{SCRAM_SHA_512}"},
            ],
        },
        "local": {
            "host": "localhost:9092",
            "protocol": "kafka",
            "description": "`make up`'s broker (Tansu): plain text, no authentication, "
            "made-up data only.",
        },
    }


def asyncapi_document() -> JsonObject:
    channels: JsonObject = {}
    operations: JsonObject = {}
    for topic, specs in _specs_by_topic().items():
        channels[topic.value] = {
            "address": topic.value,
            "title": topic.value,
            "description": _channel_description(topic, specs),
            "messages": {
                _message_id(spec): {"$ref": f"#/components/messages/{_message_id(spec)}"}
                for spec in specs
            },
            "bindings": _topic_binding(topic.value, RETENTION_MS),
        }
        operations.update(_send_operations(topic, specs))
        operations.update(_receive_operations(topic, specs))

        dead_letters = dead_letter_topic(topic.value)
        channels[dead_letters] = {
            "address": dead_letters,
            "title": dead_letters,
            "description": f"Messages of {topic.value} that a consumer could not handle; "
            "kept longer, to investigate and replay.",
            "messages": {
                DEAD_LETTER_MESSAGE_ID: {"$ref": f"#/components/messages/{DEAD_LETTER_MESSAGE_ID}"}
            },
            "bindings": _topic_binding(dead_letters, DEAD_LETTER_RETENTION_MS),
        }
        operations[f"consumers.send.{dead_letters}"] = _dead_letter_operation(topic, specs)

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Harassment and hate crime case system events",
            "version": _contracts_version(),
            "description": "Every message value is a JSON envelope around the event's "
            "payload; the key is the case id, so one case's events stay in order. Within "
            "a major version fields are only ever added, optional and with defaults; "
            "consumers ignore unknown fields and event types they do not handle. A new "
            "major version is published side by side on its own topic. Personal data "
            "travels only in a payload's `personal` part: never log it.",
        },
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                **{_message_id(spec): _event_message(spec) for spec in EVENT_TYPES.values()},
                DEAD_LETTER_MESSAGE_ID: _dead_letter_message(),
            },
            "securitySchemes": _security_schemes(),
        },
    }


def generated_files() -> dict[Path, str]:
    """Files rewritten on every run: they must always match the models."""
    files = {
        SCHEMAS_DIR / file_name(*key): _render_schema(spec) for key, spec in EVENT_TYPES.items()
    }
    document = asyncapi_document()
    files[ASYNCAPI_PATH] = render(document)
    schemas = {_message_id(spec): message_schema(spec) for spec in EVENT_TYPES.values()}
    files[CATALOGUE_PATH] = catalogue_html(document, schemas)
    return files


def write_once_files() -> dict[Path, Callable[[], str]]:
    """Released baselines and golden examples, each with how to write it if missing."""
    files: dict[Path, Callable[[], str]] = {}
    for key, spec in EVENT_TYPES.items():
        files[RELEASED_DIR / file_name(*key)] = partial(_render_schema, spec)
        files[EXAMPLES_DIR / file_name(*key)] = partial(_render_example, spec)
    return files


def _render_schema(spec: EventSpec) -> str:
    return render(message_schema(spec))


def _render_example(spec: EventSpec) -> str:
    return render(example_message(spec).model_dump(mode="json"))


def _orphans(expected: Iterable[Path]) -> list[Path]:
    """Generated schemas of event types that are no longer registered."""
    wanted = set(expected)
    return sorted(path for path in SCHEMAS_DIR.glob("*.json") if path not in wanted)


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def stale_files() -> list[str]:
    """What a run would change, one line per file; empty when everything is current."""
    problems: list[str] = []
    generated = generated_files()
    for path, content in generated.items():
        if _read(path) != content:
            problems.append(f"{path.relative_to(CONTRACTS_DIR)}: out of date")
    for path in write_once_files():
        if not path.exists():
            problems.append(f"{path.relative_to(CONTRACTS_DIR)}: missing")
    for path in _orphans(generated):
        problems.append(f"{path.relative_to(CONTRACTS_DIR)}: no longer generated")
    return problems


def write() -> list[Path]:
    """Bring every file up to date; returns what changed."""
    changed: list[Path] = []
    generated = generated_files()
    for path, content in generated.items():
        if _read(path) != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            changed.append(path)
    for path, build_content in write_once_files().items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(build_content(), encoding="utf-8")
            changed.append(path)
    for path in _orphans(generated):
        path.unlink()
        changed.append(path)
    return changed


def bundle(directory: Path) -> Path:
    """The zip subscribers download: every current schema (named as its ``$id`` ends),
    the AsyncAPI document and the catalogue page. Same models, same bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"hhc-contracts-schemas-{_contracts_version()}.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for source, content in sorted(generated_files().items()):
            # A fixed time, so that rebuilding unchanged contracts gives the same zip.
            entry = zipfile.ZipInfo(str(source.relative_to(CONTRACTS_DIR)), (1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, content, compress_type=zipfile.ZIP_DEFLATED)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hhc_contracts.schemagen", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 listing stale files"
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        metavar="DIR",
        help="write the zip of schemas, AsyncAPI document and catalogue page into DIR",
    )
    arguments = parser.parse_args(argv)
    if arguments.bundle:
        print(bundle(arguments.bundle))
        return 0
    if arguments.check:
        problems = stale_files()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"run `{REGENERATE_COMMAND}` and commit the result", file=sys.stderr)
            return 1
        return 0
    for path in write():
        print(f"wrote {path.relative_to(CONTRACTS_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
