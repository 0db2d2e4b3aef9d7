"""Tolerant readers (events) and strict edges (submissions) for the open vocabulary."""

import enum
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from hhc_contracts import EVENT_TYPES, Envelope, is_recognised, model_for, unrecognised_values
from hhc_contracts import vocabulary as vocabulary_module
from hhc_contracts.compat import variants
from hhc_contracts.schemagen import EXAMPLES_DIR, file_name, message_schema, parse_file_name
from hhc_contracts.submission import ReportSubmitted
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.v1 import ReportReceived
from hhc_contracts.vocabulary import (
    Channel,
    IncidentCategory,
    OpenEnum,
    Partner,
    PerceivedMotivation,
    PerpetratorKind,
    RiskLevel,
)

JsonObject = dict[str, Any]

VOCABULARIES = [
    value
    for _, value in inspect.getmembers(vocabulary_module, inspect.isclass)
    if issubclass(value, enum.Enum) and value.__module__ == vocabulary_module.__name__
]
NEWER_VALUE = "added_by_a_newer_producer"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the vocabulary


@pytest.mark.parametrize("vocabulary", VOCABULARIES, ids=lambda v: v.__name__)
def test_every_vocabulary_is_open(vocabulary: type[enum.Enum]) -> None:
    # A vocabulary declared as a plain StrEnum would dead-letter newer events again.
    assert vocabulary is OpenEnum or issubclass(vocabulary, OpenEnum)


@pytest.mark.parametrize(
    "vocabulary", [v for v in VOCABULARIES if v is not OpenEnum], ids=lambda v: v.__name__
)
def test_an_unknown_value_is_kept_and_recognised_as_unknown(vocabulary: type[OpenEnum]) -> None:
    value = vocabulary(NEWER_VALUE)
    assert isinstance(value, vocabulary)
    assert value == NEWER_VALUE
    assert str(value) == NEWER_VALUE
    assert value.value == NEWER_VALUE
    assert not is_recognised(value)
    assert all(value != member for member in vocabulary)
    assert all(is_recognised(member) for member in vocabulary)


def test_an_unknown_value_never_joins_the_vocabulary() -> None:
    members = list(Channel)
    Channel(NEWER_VALUE)
    assert list(Channel) == members
    assert not is_recognised(Channel(NEWER_VALUE))
    assert Channel(NEWER_VALUE) not in Channel


def test_values_that_are_not_strings_are_still_refused() -> None:
    with pytest.raises(ValueError, match="is not a valid Channel"):
        Channel(3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(Channel).validate_python(3)
    assert refused.value.errors()[0]["type"] == "enum"


def test_unknown_values_in_sets_are_distinct() -> None:
    # Pseudo-members hash as their string: two unknown values do not collapse into one.
    kinds = {PerpetratorKind("alien"), PerpetratorKind("ghost"), PerpetratorKind.CUSTOMER}
    assert len(kinds) == 3
    assert PerpetratorKind("alien") in kinds


# --------------------------------------------------------------------------- a newer producer


def newer_report_received() -> JsonObject:
    """intake.report-received as a newer intake might send it: a channel, a category and a
    motivation this vocabulary lacks, beside known ones."""
    message: JsonObject = load(EXAMPLES_DIR / file_name("intake.report-received", 1))
    message["payload"] |= {
        "channel": "video_call",
        "categories": ["threats_of_violence", "stalking"],
        "perceived_motivation": ["sex_characteristics", "race"],
    }
    message["payload"]["personal"]["accessible_formats"] = ["sign_language_video"]
    return message


def test_a_newer_producers_report_parses_with_this_model_and_keeps_its_values() -> None:
    message = newer_report_received()
    envelope = Envelope.model_validate_json(json.dumps(message))
    model = model_for(envelope.event_type, envelope.schema_version)
    assert model is ReportReceived
    report = ReportReceived.model_validate(envelope.payload)

    assert report.model_dump(mode="json", exclude_unset=True) == message["payload"]
    assert json.loads(report.model_dump_json(exclude_unset=True)) == message["payload"]
    assert unrecognised_values(report) == [
        "channel",
        "categories.1",
        "perceived_motivation.0",
        "personal.accessible_formats.0",
    ]
    # Known values beside them are still the members every rule compares with.
    assert report.categories[0] is IncidentCategory.THREATS_OF_VIOLENCE
    assert report.perceived_motivation[1] is PerceivedMotivation.RACE


def _with_unknown_enum_values(
    value: Any, node: JsonObject, root: JsonObject, path: tuple[str, ...]
) -> tuple[Any, list[str]]:
    """``value`` with every enum value the schema describes replaced by a newer one, and
    the dotted paths replaced."""
    alternatives = variants(node, root)
    if isinstance(value, str) and any("enum" in alternative for alternative in alternatives):
        return NEWER_VALUE, [".".join(path)]
    if isinstance(value, dict):
        properties: JsonObject = next(
            (a["properties"] for a in alternatives if "properties" in a), {}
        )
        replaced: JsonObject = {}
        paths: list[str] = []
        for name, item in value.items():
            replaced[name], found = _with_unknown_enum_values(
                item, properties.get(name, {}), root, (*path, name)
            )
            paths += found
        return replaced, paths
    if isinstance(value, list):
        items: JsonObject = next((a["items"] for a in alternatives if "items" in a), {})
        results = [
            _with_unknown_enum_values(item, items, root, (*path, str(index)))
            for index, item in enumerate(value)
        ]
        return [item for item, _ in results], [p for _, found in results for p in found]
    return value, []


# Input from outside the case system is strict instead (the tests at the end).
EVENTS = [
    path
    for path in sorted(EXAMPLES_DIR.glob("*.json"))
    if not issubclass(EVENT_TYPES[parse_file_name(path.name)].model, StrictInput)
]


@pytest.mark.parametrize("golden", EVENTS, ids=lambda path: path.name)
def test_every_event_tolerates_newer_values_in_every_enum_field(golden: Path) -> None:
    spec = EVENT_TYPES[parse_file_name(golden.name)]
    message = load(golden)
    schema = message_schema(spec)
    newer, paths = _with_unknown_enum_values(message, schema, schema, ())
    payload_paths = [path.removeprefix("payload.") for path in paths]
    assert all(path.startswith("payload.") for path in paths)

    payload = spec.model.model_validate(newer["payload"])

    assert sorted(unrecognised_values(payload)) == sorted(payload_paths)
    assert payload.model_dump(mode="json", exclude_unset=True) == newer["payload"]


def test_the_enum_replacer_finds_enum_fields() -> None:
    # Without this, a replacer that found nothing would make the test above pass vacuously.
    key = ("risk.action-required", 1)
    schema = message_schema(EVENT_TYPES[key])
    message = load(EXAMPLES_DIR / file_name(*key))
    _, paths = _with_unknown_enum_values(message, schema, schema, ())
    assert {"payload.kind", "payload.applies_to", "payload.carried_out_by"} <= set(paths)
    assert len(EVENTS) == len(EVENT_TYPES) - 1  # all but the inbound submission


# --------------------------------------------------------------------------- unrecognised_values


class Inner(BaseModel):
    kinds: set[PerpetratorKind] = set()
    by_partner: dict[Partner, int] = {}
    by_name: dict[str, RiskLevel] = {}


class Outer(BaseModel):
    channel: Channel | None = None
    inner: Inner | None = None
    pair: tuple[Channel, RiskLevel] | None = None
    many: list[Inner] = []


def test_unrecognised_values_walks_models_lists_sets_dicts_tuples_and_optionals() -> None:
    outer = Outer.model_validate(
        {
            "channel": "video_call",
            "inner": {"kinds": ["customer", "ghost"], "by_name": {"a": "high", "b": "severe"}},
            "pair": ["telephone", "extreme"],
            "many": [{}, {"by_partner": {"police": 1, "neighbourhood_watch": 2}}],
        }
    )
    assert unrecognised_values(outer) == [
        "channel",
        "inner.kinds.1",  # sorted: "customer" < "ghost"
        "inner.by_name.b",
        "pair.1",
        "many.1.by_partner.neighbourhood_watch.[key]",
    ]


def test_no_unrecognised_values_in_a_known_message() -> None:
    assert unrecognised_values(Outer(channel=Channel.EMAIL, inner=Inner())) == []
    assert unrecognised_values(Outer()) == []


# --------------------------------------------------------------------------- strict edges

SUBMISSION: JsonObject = {
    "channel": "telephone",
    "reporter": {"role": "survivor"},
    "survivor": {"is_customer": True, "access": {"accessible_formats": ["braille"]}},
    "alleged_perpetrators": [{"kind": "customer"}],
    "incident": {"categories": ["verbal_abuse"], "perceived_motivation": ["race"]},
}


def _refused(submission: JsonObject) -> list[Any]:
    with pytest.raises(ValidationError) as refused:
        ReportSubmitted.model_validate(submission)
    return refused.value.errors(include_url=False)


def test_a_known_submission_is_accepted() -> None:
    assert ReportSubmitted.model_validate(SUBMISSION).channel is Channel.TELEPHONE


@pytest.mark.parametrize(
    ("change", "location"),
    [
        pytest.param({"channel": "video_call"}, ("channel",), id="channel"),
        pytest.param({"reporter": {"role": "neighbour"}}, ("reporter", "role"), id="role"),
        pytest.param(
            {"alleged_perpetrators": [{"kind": "customer"}, {"kind": "alien"}]},
            ("alleged_perpetrators", 1, "kind"),
            id="perpetrator-kind",
        ),
        pytest.param(
            {"incident": {"categories": ["verbal_abuse", "stalking"]}},
            ("incident", "categories", 1),
            id="category",
        ),
        pytest.param(
            {"incident": {"categories": ["verbal_abuse"], "perceived_motivation": ["class"]}},
            ("incident", "perceived_motivation", 0),
            id="motivation",
        ),
        pytest.param(
            {"survivor": {"is_customer": True, "access": {"accessible_formats": ["hologram"]}}},
            ("survivor", "access", "accessible_formats", 0),
            id="nested-access-format",
        ),
    ],
)
def test_a_submission_refuses_an_unknown_value_naming_the_field(
    change: JsonObject, location: tuple[str | int, ...]
) -> None:
    errors = _refused({**SUBMISSION, **change})
    assert [(error["type"], error["loc"]) for error in errors] == [("enum", location)]


def test_the_refusal_is_worded_as_pydantic_words_any_invalid_enum_value() -> None:
    unknown = _refused({**SUBMISSION, "channel": "video_call"})[0]
    wrong_type = _refused({**SUBMISSION, "channel": 3})[0]
    assert unknown["msg"] == wrong_type["msg"]
    assert unknown["ctx"] == wrong_type["ctx"]
    assert unknown["input"] == "video_call"


def test_unknown_values_are_refused_alongside_every_other_error() -> None:
    errors = _refused(
        {**SUBMISSION, "channel": "video_call", "survivor": {}, "immediate_danger": "maybe"}
    )
    assert [error["loc"] for error in errors] == [
        ("channel",),
        ("survivor", "is_customer"),
        ("immediate_danger",),
    ]
