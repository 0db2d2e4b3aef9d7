"""Input from outside refuses text holding control characters, naming the field."""

import copy
from typing import Any

import pytest
from pydantic import ConfigDict, ValidationError

from hhc_contracts.submission import ReportSubmitted
from hhc_contracts.tolerance import StrictInput

REPORT: dict[str, Any] = {
    "channel": "telephone",
    "reporter": {"role": "third_party", "name": "B. Friend", "contact": "07700 900111"},
    "survivor": {"is_customer": True, "name": "A. Resident", "access": {"language": "Polish"}},
    "witnesses": [{"name": "C. Passer-by"}],
    "alleged_perpetrators": [{"kind": "customer", "description": "Tall"}],
    "incident": {"categories": ["verbal_abuse"], "description": "Shouted abuse at my door"},
    "consent": {"recorded_by": "officer-7"},
    "area": "M14",
}


def report_with(path: tuple[str | int, ...], text: str) -> dict[str, Any]:
    report = copy.deepcopy(REPORT)
    parent: Any = report
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = text
    return report


def refused_fields(report: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        ReportSubmitted.model_validate(report)
    except ValidationError as error:
        return [
            (".".join(str(part) for part in item["loc"]), item["type"]) for item in error.errors()
        ]
    return []


FIELDS = [
    ("incident", "description"),
    ("incident", "location"),
    ("survivor", "name"),
    ("survivor", "phone"),
    ("survivor", "access", "safe_contact_times"),
    ("survivor", "access", "language"),
    ("reporter", "name"),
    ("witnesses", 0, "name"),
    ("alleged_perpetrators", 0, "description"),
    ("consent", "recorded_by"),
    ("area",),
]


@pytest.mark.parametrize("path", FIELDS, ids=lambda path: ".".join(map(str, path)))
@pytest.mark.parametrize(
    "text",
    [
        "before\x00after",  # NUL
        "\x00",
        "bell\x07",
        "back\x08space",
        "vertical\x0btab",  # whitespace to str.strip, still refused
        "\x0cform feed at the start",
        "shift\x0eout",
        "escape \x1b[31m red",
        "unit separator\x1f",
    ],
    ids=lambda text: f"U+{ord(next(c for c in text if c < ' ')):04X}",
)
def test_a_control_character_is_refused_naming_the_field(
    path: tuple[str | int, ...], text: str
) -> None:
    assert refused_fields(report_with(path, text)) == [
        (".".join(map(str, path)), "control_character")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Line one\nline two",
        "Line one\r\nline two (a browser's text area)",
        "Column\tcolumn",
        "Zażółć gęślą jaźń — “quoted” ✓",
        "DEL \x7f and C1 \x85 are not C0",
    ],
)
def test_tab_line_breaks_and_other_text_are_accepted(text: str) -> None:
    report = ReportSubmitted.model_validate(report_with(("incident", "description"), text))
    assert report.incident.description == text.strip()


def test_every_field_with_a_control_character_is_named() -> None:
    report = report_with(("incident", "description"), "a\x00b")
    report["survivor"]["name"] = "c\x01d"
    assert sorted(refused_fields(report)) == [
        ("incident.description", "control_character"),
        ("survivor.name", "control_character"),
    ]


def test_the_message_is_plain_and_does_not_repeat_the_text() -> None:
    with pytest.raises(ValidationError) as raised:
        ReportSubmitted.model_validate(report_with(("incident", "description"), "secret\x00"))
    (error,) = raised.value.errors(include_url=False)
    assert error["msg"] == "Text must not contain control characters (found U+0000 at position 6)"
    assert "secret" not in str(raised.value)


def test_from_json_as_on_the_inbound_topic() -> None:
    body = ReportSubmitted.model_validate(REPORT).model_dump_json()
    tampered = body.replace("Shouted abuse", "Shouted\\u0000abuse")
    with pytest.raises(ValidationError) as raised:
        ReportSubmitted.model_validate_json(tampered)
    assert [item["loc"] for item in raised.value.errors()] == [("incident", "description")]


class Notes(StrictInput):
    model_config = ConfigDict(extra="forbid")

    lines: list[str] = []
    tags: set[str] = set()
    answers: dict[str, bool] = {}
    title: str | None = None


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"lines": ["fine", "not\x00fine"]}, ("lines", 1)),
        ({"tags": {"fine", "not\x02fine"}}, ("tags", 1)),
        ({"answers": {"key\x00": True}}, ("answers", "[key]")),
        ({"title": "\x1b"}, ("title",)),
    ],
)
def test_text_inside_lists_sets_and_dict_keys_is_checked(
    fields: dict[str, Any], where: tuple[str | int, ...]
) -> None:
    with pytest.raises(ValidationError) as raised:
        Notes.model_validate(fields)
    assert [(item["loc"], item["type"]) for item in raised.value.errors()] == [
        (where, "control_character")
    ]


def test_other_errors_are_still_reported() -> None:
    report = report_with(("incident", "description"), "x" * 20_001)
    report["survivor"]["name"] = "a\x00"
    assert sorted(refused_fields(report)) == [
        ("incident.description", "string_too_long"),
        ("survivor.name", "control_character"),
    ]
