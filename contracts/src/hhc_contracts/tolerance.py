"""Tolerant readers inside the case system, strict edges at its border.

Events between services are read tolerantly: a value a newer producer added to the
vocabulary parses as an unrecognised member (:class:`hhc_contracts.vocabulary.OpenEnum`)
and :func:`unrecognised_values` says where such values sit, for consumers to count and
log. Input from outside (intake's HTTP API, web form and inbound topic) has no newer
producer to be tolerant of: a model based on :class:`StrictInput` refuses an unknown
value with pydantic's own ``enum`` error on that field, as before the vocabulary opened.
It refuses text holding a control character too (``control_character``), as no one types
one: NUL and the rest of the C0 set, but for tab, line feed and carriage return (a
browser sends a text area's line breaks as CR LF).
"""

import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError, ValidatorFunctionWrapHandler, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from hhc_contracts.vocabulary import is_recognised

Location = tuple[str | int, ...]


_LEAVES = frozenset({str, int, float, bool, type(None), datetime, date, UUID, Decimal})
"""Types that hold no enum value: most of an event's fields, passed over at once (every
consumer walks every message it reads; an ``isinstance`` against ``Mapping`` is slow)."""


def _found(value: Any, location: Location) -> Iterator[tuple[Location, Enum]]:
    """Every unrecognised enum value in ``value``, with where it sits below it."""
    if type(value) in _LEAVES:
        return
    if isinstance(value, Enum):
        if not is_recognised(value):
            yield location, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _found(getattr(value, name), (*location, name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, Enum) and not is_recognised(key):
                # pydantic's own location for a wrong key.
                yield (*location, str(key.value), "[key]"), key
            yield from _found(item, (*location, str(key.value if isinstance(key, Enum) else key)))
    elif isinstance(value, set | frozenset):
        # A set has no positions: number its members in a stable order instead.
        for index, item in enumerate(sorted(value, key=str)):
            yield from _found(item, (*location, index))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _found(item, (*location, index))


def unrecognised_values(model: BaseModel) -> list[str]:
    """Dotted paths of every enum value in ``model`` its vocabulary does not know, e.g.
    ``["channel", "categories.1", "personal.accessible_formats.0"]``; empty when all are
    known. Walks nested models, lists, tuples, sets (numbered in sorted order), dict
    values and keys (``"field.<key>.[key]"``) and optional fields."""
    return [".".join(str(part) for part in location) for location, _ in _found(model, ())]


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""The C0 control characters input text may not hold: all but tab, LF and CR."""


def _control_characters(value: Any, location: Location) -> Iterator[tuple[Location, str]]:
    """Every text in ``value`` holding a control character, where it sits below it, and
    the character's description (``U+0000 at position 5``). A nested :class:`StrictInput`
    is not entered: it checked its own fields when it was made."""
    if type(value) in _LEAVES and type(value) is not str:
        return
    if isinstance(value, str):
        if found := CONTROL_CHARACTERS.search(value):
            yield location, f"U+{ord(found.group()):04X} at position {found.start()}"
    elif isinstance(value, StrictInput):
        return
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _control_characters(getattr(value, name), (*location, name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and CONTROL_CHARACTERS.search(key):
                # Not pydantic's (field, key, "[key]"): the key itself is what is wrong.
                yield from _control_characters(key, (*location, "[key]"))
            yield from _control_characters(item, (*location, str(key)))
    elif isinstance(value, set | frozenset):
        for index, item in enumerate(sorted(value, key=str)):
            yield from _control_characters(item, (*location, index))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _control_characters(item, (*location, index))


def _expected(enum: type[Enum]) -> str:
    """The allowed values as pydantic words them in its ``enum`` error."""
    values = [repr(member.value) for member in enum]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


class StrictInput(BaseModel):
    """Base of models read from outside the case system: every field, however nested,
    refuses an enum value its vocabulary does not know, and text with a control character
    in it (:data:`CONTROL_CHARACTERS`)."""

    @field_validator("*", mode="wrap")
    @classmethod
    def _no_control_characters(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # Text is looked at as sent, before str_strip_whitespace could quietly take a
        # control character off either end; lists, sets and dicts of text once parsed.
        found = list(_control_characters(value, ())) if isinstance(value, str) else []
        if not found:
            value = handler(value)
            found = list(_control_characters(value, ()))
        if found:
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "control_character",
                            "Text must not contain control characters (found {character})",
                            {"character": character},
                        ),
                        loc=location,
                        input="",
                    )
                    for location, character in found
                ],
            )
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _only_recognised_values(cls, value: Any) -> Any:
        errors = [
            InitErrorDetails(
                type="enum",
                loc=location,
                input=member.value,
                ctx={"expected": _expected(type(member))},
            )
            for location, member in _found(value, ())
        ]
        if errors:
            # Raised from a validator, a ValidationError's errors join the model's own,
            # each at the field's location followed by its own.
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return value
