"""Tolerant readers inside the case system, strict edges at its border.

Events between services are read tolerantly: a value a newer producer added to the
vocabulary parses as an unrecognised member (:class:`hhc_contracts.vocabulary.OpenEnum`)
and :func:`unrecognised_values` says where such values sit, for consumers to count and
log. Input from outside (intake's HTTP API, web form and inbound topic) has no newer
producer to be tolerant of: a model based on :class:`StrictInput` refuses an unknown
value with pydantic's own ``enum`` error on that field, as before the vocabulary opened.
"""

from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError, field_validator
from pydantic_core import InitErrorDetails

from hhc_contracts.vocabulary import is_recognised

Location = tuple[str | int, ...]


def _found(value: Any, location: Location) -> Iterator[tuple[Location, Enum]]:
    """Every unrecognised enum value in ``value``, with where it sits below it."""
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


def _expected(enum: type[Enum]) -> str:
    """The allowed values as pydantic words them in its ``enum`` error."""
    values = [repr(member.value) for member in enum]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


class StrictInput(BaseModel):
    """Base of models read from outside the case system: every field, however nested,
    refuses an enum value its vocabulary does not know."""

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
