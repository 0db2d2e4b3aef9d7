"""The committed schemas, baselines and golden examples against the current models.

Only reads committed files. Regenerate with ``uv run python -m hhc_contracts.schemagen``.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from hhc_contracts import EVENT_TYPES, Envelope, SealedPersonal
from hhc_contracts.compat import breaking_changes, json_type_of, json_types, variants
from hhc_contracts.examples import example_message
from hhc_contracts.schemagen import (
    EXAMPLES_DIR,
    REGENERATE_COMMAND,
    RELEASED_DIR,
    file_name,
    message_schema,
    parse_file_name,
    stale_files,
)

JsonObject = dict[str, Any]


def committed(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_schemas_are_fresh() -> None:
    stale = stale_files()
    assert not stale, (
        "generated contract files are stale:\n  "
        + "\n  ".join(stale)
        + f"\nrun `{REGENERATE_COMMAND}` and commit the result"
    )


def test_every_registered_event_has_a_released_baseline_and_a_golden_example() -> None:
    for event_type, version in EVENT_TYPES:
        name = file_name(event_type, version)
        assert (RELEASED_DIR / name).exists(), (
            f"{event_type} v{version} has no released baseline: run `{REGENERATE_COMMAND}`"
        )
        assert (EXAMPLES_DIR / name).exists(), (
            f"{event_type} v{version} has no golden example: run `{REGENERATE_COMMAND}`"
        )


@pytest.mark.parametrize("baseline", committed(RELEASED_DIR), ids=lambda path: path.name)
def test_no_breaking_change_without_new_major(baseline: Path) -> None:
    key = parse_file_name(baseline.name)
    assert key in EVENT_TYPES, (
        f"{key[0]} v{key[1]} was released but is no longer registered; retiring a version "
        "is a decision: delete its released baseline and golden example deliberately"
    )
    problems = breaking_changes(load(baseline), message_schema(EVENT_TYPES[key]))
    assert not problems, (
        f"{key[0]} v{key[1]} changed in ways that break its consumers:\n  "
        + "\n  ".join(problems)
        + f"\nwithin v{key[1]} only add optional fields with defaults; anything else is "
        f"v{key[1] + 1}, registered and published side by side"
    )


@pytest.mark.parametrize("golden", committed(EXAMPLES_DIR), ids=lambda path: path.name)
def test_golden_examples_still_parse(golden: Path) -> None:
    raw = load(golden)
    envelope = Envelope.model_validate(raw)
    assert (envelope.event_type, envelope.schema_version) == parse_file_name(golden.name)
    spec = EVENT_TYPES[(envelope.event_type, envelope.schema_version)]
    spec.model.model_validate(envelope.payload)


# A deliberately small validator: jsonschema is not a dependency. It checks what
# the evolution rules are about - property names, required properties and JSON
# types, through $refs, optionals, nested objects and arrays - and not formats,
# constraints or enum values (adding enum values is allowed within a version).
# It sees only the fields the examples fill, which is why they fill optional ones.


def _accepts(variant: JsonObject, root: JsonObject, value_type: str) -> bool:
    types = {name.split(":")[0] for name in json_types(variant, root)}
    return bool({value_type, "any"} & types) or (value_type == "integer" and "number" in types)


def _matching_variant(node: JsonObject, root: JsonObject, value: Any) -> JsonObject | None:
    value_type = json_type_of(value)
    return next(
        (variant for variant in variants(node, root) if _accepts(variant, root, value_type)),
        None,
    )


def misfits(
    value: Any,
    released: JsonObject,
    released_root: JsonObject,
    current: JsonObject,
    current_root: JsonObject,
    path: str = "",
) -> list[str]:
    """Why ``value`` (valid under the current schema) would not fit the released one."""
    released_variant = _matching_variant(released, released_root, value)
    if released_variant is None:
        return [f"{path or '(message)'}: {json_type_of(value)} not allowed by the released schema"]
    current_variant = _matching_variant(current, current_root, value) or {}
    problems: list[str] = []
    if isinstance(value, dict):
        released_properties = released_variant.get("properties", {})
        current_properties = current_variant.get("properties", {})
        for name, field in value.items():
            field_path = f"{path}.{name}" if path else name
            if name in released_properties:
                problems += misfits(
                    field,
                    released_properties[name],
                    released_root,
                    current_properties.get(name, {}),
                    current_root,
                    field_path,
                )
            elif name in current_variant.get("required", ()):
                # Old consumers ignore it, but old producers never send it.
                problems.append(f"{field_path}: added as a required field")
        for name in released_variant.get("required", ()):
            if name not in value:
                problems.append(f"{f'{path}.{name}' if path else name}: required but missing")
    elif isinstance(value, list):
        released_items = released_variant.get("items", {})
        current_items = current_variant.get("items", {})
        for item in value:
            problems += misfits(
                item, released_items, released_root, current_items, current_root, f"{path}[]"
            )
    return problems


@pytest.mark.parametrize("baseline", committed(RELEASED_DIR), ids=lambda path: path.name)
def test_new_payloads_fit_released_schema(baseline: Path) -> None:
    key = parse_file_name(baseline.name)
    if key not in EVENT_TYPES:
        pytest.skip("version no longer registered (test_no_breaking_change_without_new_major)")
    spec = EVENT_TYPES[key]
    new_message = example_message(spec).model_dump(mode="json")
    released = load(baseline)
    current = message_schema(spec)
    assert misfits(new_message, released, released, current, current) == []


def test_the_small_validator_finds_misfits() -> None:
    spec = EVENT_TYPES[("intake.report-received", 1)]
    schema = message_schema(spec)
    new_message: JsonObject = example_message(spec).model_dump(mode="json")
    new_message["payload"]["survivor_is_customer"] = "yes"
    del new_message["payload"]["channel"]
    new_message["payload"]["personal"] = None
    assert misfits(new_message, schema, schema, schema, schema) == [
        "payload.survivor_is_customer: string not allowed by the released schema",
        "payload.personal: null not allowed by the released schema",
        "payload.channel: required but missing",
    ]


SEALING = [
    spec
    for spec in EVENT_TYPES.values()
    if "personal" in spec.model.model_fields and spec.event_type != "intake.report-submitted"
]


@pytest.mark.parametrize("spec", SEALING, ids=lambda spec: f"{spec.event_type}.v{spec.version}")
def test_a_sealed_message_is_what_a_consumer_released_before_sealing_accepts(spec: Any) -> None:
    """Sealing empties the payload's personal part and adds the envelope's ``sealed``: a
    consumer built on the released schema ignores ``sealed`` and sees an empty personal
    part (every personal field is optional), as the v1 evolution rules promise."""
    example = example_message(spec)
    sealed = example.model_copy(
        update={
            "payload": {**example.payload, "personal": {}},
            "sealed": SealedPersonal(nonce="bm9uY2Vub25jZW4=", ciphertext="c2VhbGVk"),
        }
    )
    message = sealed.model_dump(mode="json")
    released_path = RELEASED_DIR / f"{spec.event_type}.v{spec.version}.json"
    released = load(released_path)
    current = message_schema(spec)
    assert misfits(message, released, released, current, current) == []
    payload = spec.model.model_validate(message["payload"])
    assert payload.personal == type(payload.personal)()  # type: ignore[attr-defined]
