"""breaking_changes on small hand-made schemas, shaped like pydantic's output."""

import copy
from typing import Any

import pytest

from hhc_contracts import EVENT_TYPES
from hhc_contracts.compat import breaking_changes
from hhc_contracts.schemagen import message_schema

Schema = dict[str, Any]


def message(payload_properties: Schema, required: list[str], defs: Schema | None = None) -> Schema:
    """A message whose payload lives in $defs, as pydantic emits it."""
    return {
        "$defs": {
            **(defs or {}),
            "Payload": {"type": "object", "properties": payload_properties, "required": required},
        },
        "type": "object",
        "properties": {
            "event_id": {"type": "string", "format": "uuid"},
            "payload": {"$ref": "#/$defs/Payload", "description": "The event body."},
        },
        "required": ["event_id", "payload"],
    }


def optional(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}], "default": None}


BOOLEAN = {"type": "boolean"}
STRING = {"type": "string"}
CHANNEL = {"type": "string", "enum": ["telephone", "email", "letter"]}
CHANNEL_REF = {"$ref": "#/$defs/Channel"}

BASELINE = message(
    {
        "survivor_is_customer": BOOLEAN,
        "channel": CHANNEL_REF,
        "incident_occurred_at": optional({"type": "string", "format": "date-time"}),
        "categories": {"type": "array", "items": CHANNEL_REF, "minItems": 1},
        "personal": {"$ref": "#/$defs/Personal"},
    },
    required=["survivor_is_customer", "channel", "categories"],
    defs={
        "Channel": CHANNEL,
        "Personal": {"type": "object", "properties": {"survivor_name": optional(STRING)}},
    },
)


def changed(edit: Any) -> Schema:
    schema = copy.deepcopy(BASELINE)
    edit(schema)
    return schema


def payload_of(schema: Schema) -> Schema:
    payload: Schema = schema["$defs"]["Payload"]
    return payload


def test_identical_schemas_have_no_breaking_changes() -> None:
    assert breaking_changes(BASELINE, copy.deepcopy(BASELINE)) == []


def test_new_optional_field_is_not_breaking() -> None:
    new = changed(lambda s: payload_of(s)["properties"].update(survivor_is_staff=BOOLEAN))
    assert breaking_changes(BASELINE, new) == []


def test_new_enum_value_is_not_breaking() -> None:
    new = changed(lambda s: s["$defs"]["Channel"]["enum"].append("web_form"))
    assert breaking_changes(BASELINE, new) == []


def test_new_optional_nested_field_is_not_breaking() -> None:
    new = changed(
        lambda s: s["$defs"]["Personal"]["properties"].update(survivor_phone=optional(STRING))
    )
    assert breaking_changes(BASELINE, new) == []


def test_removed_field_is_breaking() -> None:
    new = changed(lambda s: payload_of(s)["properties"].pop("survivor_is_customer"))
    assert "payload.survivor_is_customer: removed" in breaking_changes(BASELINE, new)


def test_changed_type_is_breaking() -> None:
    new = changed(lambda s: payload_of(s)["properties"].update(survivor_is_customer=STRING))
    assert breaking_changes(BASELINE, new) == [
        "payload.survivor_is_customer: type changed from boolean to string"
    ]


def test_changed_format_is_breaking() -> None:
    new = changed(
        lambda s: payload_of(s)["properties"].update(
            incident_occurred_at=optional({"type": "string", "format": "date"})
        )
    )
    assert breaking_changes(BASELINE, new) == [
        "payload.incident_occurred_at: type changed from null | string:date-time "
        "to null | string:date"
    ]


def test_optional_field_that_no_longer_accepts_null_is_breaking() -> None:
    new = changed(
        lambda s: payload_of(s)["properties"].update(
            incident_occurred_at={"type": "string", "format": "date-time"}
        )
    )
    assert breaking_changes(BASELINE, new) == [
        "payload.incident_occurred_at: type changed from null | string:date-time "
        "to string:date-time"
    ]


def test_new_required_field_is_breaking() -> None:
    def add_required(schema: Schema) -> None:
        payload_of(schema)["properties"]["survivor_is_staff"] = BOOLEAN
        payload_of(schema)["required"].append("survivor_is_staff")

    assert breaking_changes(BASELINE, changed(add_required)) == [
        "payload.survivor_is_staff: new required field"
    ]


def test_field_that_became_required_is_breaking() -> None:
    new = changed(lambda s: payload_of(s)["required"].append("incident_occurred_at"))
    assert breaking_changes(BASELINE, new) == ["payload.incident_occurred_at: became required"]


def test_field_that_became_optional_is_breaking() -> None:
    # Consumers built against the baseline rely on it being there.
    new = changed(lambda s: payload_of(s)["required"].remove("survivor_is_customer"))
    assert breaking_changes(BASELINE, new) == ["payload.survivor_is_customer: no longer required"]


def test_removed_enum_value_is_breaking_wherever_the_enum_is_used() -> None:
    new = changed(lambda s: s["$defs"]["Channel"]["enum"].remove("letter"))
    assert breaking_changes(BASELINE, new) == [
        'payload.channel: value "letter" removed',
        'payload.categories[]: value "letter" removed',
    ]


def test_restricting_free_text_to_an_enum_is_breaking() -> None:
    old = changed(lambda s: s["$defs"].update(Channel=STRING))
    assert breaking_changes(old, BASELINE) == [
        'payload.channel: now restricted to the values "email", "letter", "telephone"',
        'payload.categories[]: now restricted to the values "email", "letter", "telephone"',
    ]


def test_removed_nested_field_is_breaking() -> None:
    new = changed(lambda s: s["$defs"]["Personal"]["properties"].pop("survivor_name"))
    assert breaking_changes(BASELINE, new) == ["payload.personal.survivor_name: removed"]


def test_changed_constraint_is_breaking() -> None:
    new = changed(lambda s: payload_of(s)["properties"]["categories"].update(minItems=2))
    assert breaking_changes(BASELINE, new) == [
        "payload.categories: constraint minItems changed from 1 to 2"
    ]


def test_changed_const_is_breaking() -> None:
    old = {"type": "object", "properties": {"event_type": {"type": "string", "const": "a"}}}
    new = {"type": "object", "properties": {"event_type": {"type": "string", "const": "b"}}}
    assert breaking_changes(old, new) == ['event_type: value "a" removed']


def test_recursive_schemas_terminate() -> None:
    node = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": STRING,
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
            }
        },
        "$ref": "#/$defs/Node",
    }
    renamed = copy.deepcopy(node)
    renamed["$defs"]["Node"]["properties"]["name"] = BOOLEAN
    assert breaking_changes(node, node) == []
    assert breaking_changes(node, renamed) == ["name: type changed from string to boolean"]


def test_a_field_removed_from_a_real_message_is_found() -> None:
    old = message_schema(EVENT_TYPES[("intake.report-received", 1)])
    new = copy.deepcopy(old)
    del new["$defs"]["ReportReceived"]["properties"]["survivor_is_customer"]
    new["$defs"]["ReportReceived"]["required"].remove("survivor_is_customer")
    assert breaking_changes(old, new) == ["payload.survivor_is_customer: removed"]


# --------------------------------------------------------------------------- enum values
# Consumers read values they do not know tolerantly (vocabulary.OpenEnum), so adding one
# is compatible; producers under the old schema still send a removed or renamed one.


def test_renamed_enum_value_is_breaking() -> None:
    def rename(schema: Schema) -> None:
        values = schema["$defs"]["Channel"]["enum"]
        values[values.index("letter")] = "post"

    assert breaking_changes(BASELINE, changed(rename)) == [
        'payload.channel: value "letter" removed',
        'payload.categories[]: value "letter" removed',
    ]


def test_removed_value_of_an_optional_enum_is_breaking() -> None:
    old = message({"channel": optional(CHANNEL_REF)}, required=[], defs={"Channel": CHANNEL})
    new = copy.deepcopy(old)
    new["$defs"]["Channel"]["enum"].remove("email")
    assert breaking_changes(old, new) == ['payload.channel: value "email" removed']
    added = copy.deepcopy(old)
    added["$defs"]["Channel"]["enum"].append("web_form")
    assert breaking_changes(old, added) == []


def keyed_by_channel() -> Schema:
    """A dict keyed by an enum, and a tuple with an enum position, as pydantic emits them."""
    return message(
        {
            "counts": {
                "type": "object",
                "propertyNames": CHANNEL_REF,
                "additionalProperties": {"type": "integer"},
            },
            "pair": {
                "type": "array",
                "prefixItems": [CHANNEL_REF, {"type": "integer"}],
                "minItems": 2,
                "maxItems": 2,
            },
        },
        required=["counts", "pair"],
        defs={"Channel": CHANNEL},
    )


def test_removed_enum_value_is_breaking_in_dict_keys_and_tuple_positions() -> None:
    old = keyed_by_channel()
    new = copy.deepcopy(old)
    new["$defs"]["Channel"]["enum"].remove("telephone")
    assert breaking_changes(old, new) == [
        'payload.counts.(key): value "telephone" removed',
        'payload.pair[0]: value "telephone" removed',
    ]


def test_added_enum_value_is_not_breaking_in_dict_keys_and_tuple_positions() -> None:
    old = keyed_by_channel()
    new = copy.deepcopy(old)
    new["$defs"]["Channel"]["enum"].append("web_form")
    assert breaking_changes(old, new) == []


def test_restricting_dict_keys_is_breaking() -> None:
    new = keyed_by_channel()
    old = copy.deepcopy(new)
    del old["$defs"]["Payload"]["properties"]["counts"]["propertyNames"]
    assert breaking_changes(old, new) == ["payload.counts.(key): keys now restricted"]


def test_changed_tuple_position_is_breaking() -> None:
    old = keyed_by_channel()
    new = copy.deepcopy(old)
    new["$defs"]["Payload"]["properties"]["pair"]["prefixItems"][1] = STRING
    assert breaking_changes(old, new) == ["payload.pair[1]: type changed from integer to string"]


@pytest.mark.parametrize("change", ["removed", "renamed", "added"])
def test_enum_value_changes_in_a_real_message(change: str) -> None:
    old = message_schema(EVENT_TYPES[("intake.report-received", 1)])
    new = copy.deepcopy(old)
    channels: list[str] = new["$defs"]["Channel"]["enum"]
    if change == "removed":
        channels.remove("web_form")
    elif change == "renamed":
        channels[channels.index("web_form")] = "online_form"
    else:
        channels.append("video_call")
    expected = [] if change == "added" else ['payload.channel: value "web_form" removed']
    assert breaking_changes(old, new) == expected


def test_moving_the_schema_id_is_not_breaking() -> None:
    # $id says where a schema is published, not what a message holds (it moved from
    # URNs to https URLs within v1).
    old = message_schema(EVENT_TYPES[("intake.report-received", 1)])
    new = {**old, "$id": "https://elsewhere.example/intake.report-received.v1.json"}
    assert breaking_changes(old, new) == []
