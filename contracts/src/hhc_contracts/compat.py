"""Which differences between two JSON Schemas would break an existing consumer.

A consumer built against ``old`` must keep working with messages described by
``new``, and messages produced under ``old`` must still be accepted under ``new``
(style.md, "Schema evolution"). Within a major version that leaves exactly one kind
of change: adding an optional property. Two exceptions follow the vocabulary's own
rule ("add members freely"): adding an enum value, or dropping an enum restriction,
is not reported, because consumers read values they do not know tolerantly
(``hhc_contracts.vocabulary.OpenEnum``). Removing or renaming an enum value is
reported wherever the enum is used: producers under the old schema still send it.

The comparison understands what pydantic emits: local ``$ref``s into ``$defs``,
``anyOf`` with ``{"type": "null"}`` for optional values, ``const``, ``enum``,
nested objects, arrays and tuples (``prefixItems``), and dictionaries with typed keys
(``propertyNames``). It does not understand ``allOf``, ``if``/``then`` or
``patternProperties``; none of the contracts use them.
"""

import json
from typing import Any

JsonSchema = dict[str, Any]

# Changing any of these in either direction rejects old payloads or new ones.
_CONSTRAINT_KEYWORDS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
)


def breaking_changes(old_schema: JsonSchema, new_schema: JsonSchema) -> list[str]:
    """Human-readable breaking differences, e.g. ``"payload.survivor_is_customer: removed"``."""
    comparison = _Comparison(old_schema, new_schema)
    comparison.compare(old_schema, new_schema, path="")
    return comparison.problems


def resolve(node: JsonSchema, root: JsonSchema) -> JsonSchema:
    """``node`` with any local ``$ref`` replaced by its target, sibling keywords kept."""
    seen: set[str] = set()
    while "$ref" in node:
        reference = node["$ref"]
        if not reference.startswith("#") or reference in seen:
            # Remote or circular: nothing more to learn by following it.
            return node
        seen.add(reference)
        target: Any = root
        for token in reference.removeprefix("#").strip("/").split("/"):
            if token:
                target = target[token.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def variants(node: JsonSchema, root: JsonSchema) -> list[JsonSchema]:
    """The alternatives a value may take, each resolved; a plain schema is its own one."""
    node = resolve(node, root)
    alternatives = node.get("anyOf") or node.get("oneOf")
    if not alternatives:
        return [node]
    shared = {key: value for key, value in node.items() if key not in ("anyOf", "oneOf")}
    flattened: list[JsonSchema] = []
    for alternative in alternatives:
        flattened.extend(variants({**shared, **alternative}, root))
    return flattened


def json_types(node: JsonSchema, root: JsonSchema) -> set[str]:
    """The JSON types a value may have, with formats: ``{"string:uuid", "null"}``."""
    types: set[str] = set()
    for variant in variants(node, root):
        declared = variant.get("type")
        if declared is None and "const" in variant:
            declared = json_type_of(variant["const"])
        if declared is None and "enum" in variant:
            declared = sorted({json_type_of(value) for value in variant["enum"]})
        if declared is None:
            declared = "any"
        for name in [declared] if isinstance(declared, str) else declared:
            types.add(f"{name}:{variant['format']}" if "format" in variant else name)
    return types


def json_type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _allowed_values(node: JsonSchema, root: JsonSchema) -> set[str] | None:
    """Every value an enum or const allows, as JSON text (null too when optional).

    None when some alternative allows any value of its type.
    """
    allowed: set[str] = set()
    for variant in variants(node, root):
        if "const" in variant:
            values = [variant["const"]]
        elif "enum" in variant:
            values = variant["enum"]
        elif variant.get("type") == "null":
            values = [None]
        else:
            return None
        allowed.update(json.dumps(value, sort_keys=True) for value in values)
    return allowed


def _format_types(types: set[str]) -> str:
    return " | ".join(sorted(types))


class _Comparison:
    def __init__(self, old_root: JsonSchema, new_root: JsonSchema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[str] = []
        # Recursive models refer to themselves: the definitions being compared right now.
        self._in_progress: set[tuple[str, str]] = set()

    def report(self, path: str, problem: str) -> None:
        self.problems.append(f"{path or '(message)'}: {problem}")

    def compare(self, old: JsonSchema, new: JsonSchema, path: str) -> None:
        pair = (old.get("$ref", ""), new.get("$ref", ""))
        if all(pair):
            if pair in self._in_progress:
                return
            self._in_progress.add(pair)
        try:
            self._compare_resolved(old, new, path)
        finally:
            self._in_progress.discard(pair)

    def _compare_resolved(self, old: JsonSchema, new: JsonSchema, path: str) -> None:
        old_types = json_types(old, self.old_root)
        new_types = json_types(new, self.new_root)
        if old_types != new_types:
            self.report(
                path,
                f"type changed from {_format_types(old_types)} to {_format_types(new_types)}",
            )
            return

        self._compare_allowed_values(old, new, path)
        old_variants = variants(old, self.old_root)
        new_variants = variants(new, self.new_root)
        self._compare_constraints(old_variants, new_variants, path)
        for kind in ("object", "array"):
            old_of_kind = [variant for variant in old_variants if variant.get("type") == kind]
            new_of_kind = [variant for variant in new_variants if variant.get("type") == kind]
            if len(old_of_kind) != len(new_of_kind):
                self.report(path, f"number of {kind} alternatives changed")
                continue
            # Unions of several objects are compared in declaration order: reordering them
            # is reported, which is conservative but never silently wrong.
            for old_variant, new_variant in zip(old_of_kind, new_of_kind, strict=True):
                if kind == "object":
                    self._compare_objects(old_variant, new_variant, path)
                else:
                    self._compare_arrays(old_variant, new_variant, path)

    def _compare_allowed_values(self, old: JsonSchema, new: JsonSchema, path: str) -> None:
        old_allowed = _allowed_values(old, self.old_root)
        new_allowed = _allowed_values(new, self.new_root)
        if new_allowed is None:
            return
        if old_allowed is None:
            self.report(path, "now restricted to the values " + ", ".join(sorted(new_allowed)))
            return
        for value in sorted(old_allowed - new_allowed):
            self.report(path, f"value {value} removed")

    def _compare_constraints(
        self, old_variants: list[JsonSchema], new_variants: list[JsonSchema], path: str
    ) -> None:
        def constraints(schemas: list[JsonSchema]) -> dict[tuple[str, str], Any]:
            return {
                (str(schema.get("type")), keyword): schema[keyword]
                for schema in schemas
                for keyword in _CONSTRAINT_KEYWORDS
                if keyword in schema
            }

        old_constraints = constraints(old_variants)
        new_constraints = constraints(new_variants)
        for key in sorted(old_constraints.keys() | new_constraints.keys()):
            before, after = old_constraints.get(key), new_constraints.get(key)
            if before != after:
                self.report(path, f"constraint {key[1]} changed from {before!r} to {after!r}")

    def _compare_objects(self, old: JsonSchema, new: JsonSchema, path: str) -> None:
        old_properties: dict[str, JsonSchema] = old.get("properties", {})
        new_properties: dict[str, JsonSchema] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name, old_property in old_properties.items():
            property_path = f"{path}.{name}" if path else name
            if name not in new_properties:
                self.report(property_path, "removed")
                continue
            if name in old_required and name not in new_required:
                self.report(property_path, "no longer required")
            if name in new_required and name not in old_required:
                self.report(property_path, "became required")
            self.compare(old_property, new_properties[name], property_path)
        for name in new_properties.keys() - old_properties.keys():
            if name in new_required:
                self.report(f"{path}.{name}" if path else name, "new required field")

        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            self.compare(old_extra, new_extra, f"{path}.*" if path else "*")
        elif old_extra is not False and new_extra is False:
            self.report(path, "no longer accepts unknown properties")

        # A dictionary keyed by an enum: its keys are values like any other.
        old_names, new_names = old.get("propertyNames"), new.get("propertyNames")
        names_path = f"{path}.(key)" if path else "(key)"
        if isinstance(old_names, dict) and isinstance(new_names, dict):
            self.compare(old_names, new_names, names_path)
        elif isinstance(new_names, dict):
            self.report(names_path, "keys now restricted")

    def _compare_arrays(self, old: JsonSchema, new: JsonSchema, path: str) -> None:
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(old_items, dict) and isinstance(new_items, dict):
            self.compare(old_items, new_items, f"{path}[]")
        elif isinstance(new_items, dict) and old_items is None:
            self.report(f"{path}[]", "items now restricted")

        # A tuple: each position has its own schema. A change in their number changes
        # minItems and maxItems, which _compare_constraints reports.
        old_positions: list[JsonSchema] = old.get("prefixItems", [])
        new_positions: list[JsonSchema] = new.get("prefixItems", [])
        for index, (old_position, new_position) in enumerate(
            zip(old_positions, new_positions, strict=False)
        ):
            self.compare(old_position, new_position, f"{path}[{index}]")
