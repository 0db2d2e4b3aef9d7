"""Generate the committed JSON Schemas, golden examples and AsyncAPI document.

    uv run python -m hhc_contracts.schemagen          # write
    uv run python -m hhc_contracts.schemagen --check  # exit 1 when anything is stale

Every run rewrites ``schemas/<event_type>.v<N>.json`` and ``asyncapi.json`` from
the models. ``schemas/released/`` and ``examples/`` are written only when a file
is missing and never rewritten: they record what consumers of a version were
built against, and the tests compare the current models with them.
Schemas describe the message as serialised (``mode="serialization"``), because
that is what consumers read off the topic.
"""

import argparse
import inspect
import json
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from hhc_contracts.envelope import Envelope, EventHeaders
from hhc_contracts.examples import example_message
from hhc_contracts.registry import ANY_PRODUCER, EVENT_TYPES, EventSpec
from hhc_contracts.topics import Topic, dead_letter_topic

JsonObject = dict[str, Any]

# src/hhc_contracts/schemagen.py -> contracts/: works from a checkout, which is the
# only place where writing these files makes sense.
CONTRACTS_DIR = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = CONTRACTS_DIR / "schemas"
RELEASED_DIR = SCHEMAS_DIR / "released"
EXAMPLES_DIR = CONTRACTS_DIR / "examples"
ASYNCAPI_PATH = CONTRACTS_DIR / "asyncapi.json"

REGENERATE_COMMAND = "uv run python -m hhc_contracts.schemagen"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING_VERSION = "0.5.0"
# W3C trace context, version 00: version-trace id-parent id-flags.
TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def parse_file_name(name: str) -> tuple[str, int]:
    """Inverse of :func:`file_name`: ``"intake.report-received.v1.json"`` -> key."""
    event_type, _, version = name.removesuffix(".json").rpartition(".v")
    return event_type, int(version)


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
            "$id": f"urn:hhc:event:{spec.event_type}:v{spec.version}",
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
        if spec.producer != ANY_PRODUCER:
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
    return {
        "name": spec.event_type,
        "title": f"{spec.event_type} v{spec.version}",
        "summary": _docstring(spec.model).splitlines()[0],
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
        "x-producer": spec.producer,
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


def _channel_description(specs: list[EventSpec]) -> str:
    producers = " and ".join(sorted({spec.producer for spec in specs}))
    if all("case_id" in spec.model.model_fields for spec in specs):
        return f"Published by {producers}; keyed by case id."
    return f"Published by {producers}; keyed by event type, as these events are about no case."


def _specs_by_topic() -> dict[Topic, list[EventSpec]]:
    by_topic: dict[Topic, list[EventSpec]] = {topic: [] for topic in Topic}
    for key in sorted(EVENT_TYPES):
        spec = EVENT_TYPES[key]
        by_topic[spec.topic].append(spec)
    return by_topic


def asyncapi_document() -> JsonObject:
    channels: JsonObject = {}
    operations: JsonObject = {}
    for topic, specs in _specs_by_topic().items():
        channels[topic.value] = {
            "address": topic.value,
            "title": topic.value,
            "description": _channel_description(specs),
            "messages": {
                _message_id(spec): {"$ref": f"#/components/messages/{_message_id(spec)}"}
                for spec in specs
            },
        }
        for producer in sorted({spec.producer for spec in specs}):
            operations[f"{producer}.send.{topic.value}"] = {
                "action": "send",
                "title": f"{producer} publishes to {topic.value}",
                "summary": f"The {producer} service publishes these events "
                "through its transactional outbox.",
                "channel": {"$ref": f"#/channels/{topic.value}"},
                "messages": [
                    {"$ref": f"#/channels/{topic.value}/messages/{_message_id(spec)}"}
                    for spec in specs
                    if spec.producer == producer
                ],
                "tags": [{"name": producer}],
            }

        dead_letters = dead_letter_topic(topic.value)
        channels[dead_letters] = {
            "address": dead_letters,
            "title": dead_letters,
            "description": f"Messages of {topic.value} that a consumer could not handle.",
            "messages": {
                DEAD_LETTER_MESSAGE_ID: {"$ref": f"#/components/messages/{DEAD_LETTER_MESSAGE_ID}"}
            },
        }
        operations[f"consumers.send.{dead_letters}"] = {
            "action": "send",
            "title": f"Dead-lettering from {topic.value}",
            "summary": f"Any consumer of {topic.value} (hhc-chassis) sends a message here "
            "once it gives up on it.",
            "channel": {"$ref": f"#/channels/{dead_letters}"},
            "messages": [{"$ref": f"#/channels/{dead_letters}/messages/{DEAD_LETTER_MESSAGE_ID}"}],
            "tags": [{"name": "dead-letters"}],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Harassment and hate crime case system events",
            "version": _contracts_version(),
            "description": "Every message value is a JSON envelope around the event's "
            "payload; the key is the case id, so one case's events stay in order. Within "
            "a major version fields are only ever added, optional and with defaults; "
            "consumers ignore unknown fields. A new major version is published side by "
            "side on its own topic.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The Kafka cluster of the deployment.",
                "variables": {
                    "bootstrap": {
                        "default": "localhost:9092",
                        "description": "A bootstrap server, host:port.",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                **{_message_id(spec): _event_message(spec) for spec in EVENT_TYPES.values()},
                DEAD_LETTER_MESSAGE_ID: _dead_letter_message(),
            }
        },
    }


def generated_files() -> dict[Path, str]:
    """Files rewritten on every run: they must always match the models."""
    files = {
        SCHEMAS_DIR / file_name(*key): _render_schema(spec) for key, spec in EVENT_TYPES.items()
    }
    files[ASYNCAPI_PATH] = render(asyncapi_document())
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hhc_contracts.schemagen", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 listing stale files"
    )
    arguments = parser.parse_args(argv)
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
