"""The event catalogue as one static HTML page, made from the AsyncAPI document.

For people deciding whether to subscribe: each event's topic, who sends it, who
receives it, its payload fields with their descriptions, and a made-up example.
No JavaScript and no outside resources, so it can be opened from the zip or served
as it is. ``schemagen`` writes it beside ``asyncapi.json``; a test regenerates it
and compares.
"""

import html
import json
from collections.abc import Iterator, Mapping
from typing import Any

JsonObject = dict[str, Any]

_NESTING_LIMIT = 3
_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #ccc;
         padding: 0.25rem 0.5rem; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.9em; }
pre { background: #f4f4f4; padding: 0.75rem; overflow-x: auto; }
section { border-top: 2px solid #1b1b1b; margin-top: 2rem; }
dt { font-weight: bold; } dd { margin: 0 0 0.5rem 1rem; }
.personal { background: #fff4ce; }
"""


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _resolve(node: JsonObject, root: JsonObject) -> JsonObject:
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        resolved: JsonObject = root["$defs"][reference.removeprefix("#/$defs/")]
        return resolved
    return node


def _type_of(node: JsonObject, root: JsonObject) -> str:
    target = _resolve(node, root)
    if "anyOf" in target:
        kinds = [_type_of(option, root) for option in target["anyOf"]]
        present = [kind for kind in kinds if kind != "null"]
        described = " or ".join(present) or "null"
        return f"{described} (optional)" if len(present) < len(kinds) else described
    if "const" in target:
        return f"exactly {json.dumps(target['const'])}"
    if "enum" in target:
        return "one of " + ", ".join(str(value) for value in target["enum"])
    kind = target.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(target.get('items', {}), root)}"
    if kind == "object" and "title" in target and "properties" in target:
        return f"{target['title']} (below)"
    if kind == "object" and "additionalProperties" in target:
        values = target["additionalProperties"]
        return f"map to {_type_of(values, root) if isinstance(values, dict) else 'any'}"
    if "format" in target:
        return f"{kind} ({target['format']})"
    return str(kind)


def _object_of(node: JsonObject, root: JsonObject) -> JsonObject | None:
    """The object a field holds, directly or as the non-null option of an optional one."""
    target = _resolve(node, root)
    for option in target.get("anyOf", [target]):
        candidate = _resolve(option, root)
        if candidate.get("type") == "object" and "properties" in candidate:
            return candidate
    return None


def _fields(
    model: JsonObject, root: JsonObject, prefix: str = "", depth: int = 0
) -> Iterator[tuple[str, str, bool, str]]:
    """(dotted name, type, required, description) of each field, nested ones after."""
    required = set(model.get("required", ()))
    for name, node in model.get("properties", {}).items():
        target = _resolve(node, root)
        description = node.get("description") or target.get("description", "")
        yield f"{prefix}{name}", _type_of(node, root), name in required, description
        nested = _object_of(node, root)
        if nested is not None and depth < _NESTING_LIMIT:
            yield from _fields(nested, root, f"{prefix}{name}.", depth + 1)


def _payload_model(schema: JsonObject) -> JsonObject:
    return _resolve(schema["properties"]["payload"], schema)


def _fields_table(schema: JsonObject) -> str:
    rows = []
    for name, kind, required, description in _fields(_payload_model(schema), schema):
        personal = ' class="personal"' if name.split(".")[0] == "personal" else ""
        rows.append(
            f"<tr{personal}><td><code>{_escape(name)}</code></td><td>{_escape(kind)}</td>"
            f"<td>{'yes' if required else 'no'}</td><td>{_escape(description)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Field (in <code>payload</code>)</th><th>Type</th>"
        "<th>Required</th><th>Description</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _referenced(reference: str) -> str:
    return reference.rsplit("/", 1)[-1]


def _who(document: JsonObject, action: str) -> dict[str, set[str]]:
    """Message id -> names of the parties sending (or receiving) it, from the operations."""
    parties: dict[str, set[str]] = {}
    for operation in document["operations"].values():
        if operation["action"] != action:
            continue
        for message in operation["messages"]:
            for tag in operation["tags"]:
                parties.setdefault(_referenced(message["$ref"]), set()).add(tag["name"])
    return parties


def _topics(document: JsonObject) -> dict[str, list[str]]:
    topics: dict[str, list[str]] = {}
    for channel in document["channels"].values():
        for message_id in channel["messages"]:
            topics.setdefault(message_id, []).append(channel["address"])
    return topics


def _event_section(
    message_id: str,
    message: JsonObject,
    schema: JsonObject,
    topics: list[str],
    senders: set[str],
    receivers: set[str],
) -> str:
    example = message["examples"][0]["payload"]
    key = message["bindings"]["kafka"]["key"]["description"]
    return (
        f'<section id="{_escape(message_id)}"><h2>{_escape(message["title"])}</h2>'
        f"<p>{_escape(message['description'])}</p><dl>"
        f"<dt>Topic</dt><dd><code>{_escape(', '.join(topics))}</code></dd>"
        f"<dt>Sent by</dt><dd>{_escape(', '.join(sorted(senders)))}</dd>"
        f"<dt>Received by</dt><dd>{_escape(', '.join(sorted(receivers)) or 'no service')}</dd>"
        f"<dt>Message key</dt><dd>{_escape(key)}</dd>"
        f"<dt>JSON Schema</dt><dd><code>{_escape(schema['$id'])}</code></dd></dl>"
        f"<h3>Fields</h3>{_fields_table(schema)}"
        f"<h3>Example</h3><pre>{_escape(json.dumps(example, indent=2, sort_keys=True))}</pre>"
        "</section>"
    )


def catalogue_html(document: JsonObject, schemas: Mapping[str, JsonObject]) -> str:
    """The page; ``schemas`` maps a message id to its JSON Schema (what its payload refs)."""
    messages: JsonObject = document["components"]["messages"]
    topics, senders, receivers = (
        _topics(document),
        _who(document, "send"),
        _who(document, "receive"),
    )
    events = sorted(message_id for message_id in messages if message_id in schemas)
    contents = "".join(
        f'<li><a href="#{_escape(message_id)}">{_escape(message_id)}</a> '
        f"<small>({_escape(', '.join(topics[message_id]))})</small></li>"
        for message_id in events
    )
    sections = "".join(
        _event_section(
            message_id,
            messages[message_id],
            schemas[message_id],
            topics[message_id],
            senders.get(message_id, set()),
            receivers.get(message_id, set()),
        )
        for message_id in events
    )
    schemes = "".join(
        f"<dt>{_escape(name)}</dt><dd>{_escape(scheme['description'])}</dd>"
        for name, scheme in sorted(document["components"]["securitySchemes"].items())
    )
    info = document["info"]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_escape(info['title'])}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_escape(info['title'])} <small>{_escape(info['version'])}</small></h1>"
        f"<p>{_escape(info['description'])}</p>"
        "<p>Generated from <code>asyncapi.json</code>; fields highlighted are personal "
        "data. Every topic has a dead-letter topic (<code>&lt;topic&gt;.dlq</code>) "
        "holding the messages its consumers could not handle.</p>"
        f"<h2>Connecting</h2><dl>{schemes}</dl>"
        f"<h2>Events</h2><ul>{contents}</ul>{sections}</body></html>\n"
    )
