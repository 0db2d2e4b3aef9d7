"""The evidence log and its rating against policy 2.5 ("strong evidence that individuals
are responsible") and issue 11, item 2. Pure: no I/O."""

import dataclasses
from datetime import UTC, datetime
from itertools import combinations, product
from typing import Any

import pytest

from hhc_contracts.vocabulary import EvidenceKind, EvidenceLevel, EvidenceStrength
from hhc_enforcement.evidence import (
    ANY_EVIDENCE,
    EvidenceItem,
    meets,
    missing_for,
    rate,
)

K = EvidenceKind
S = EvidenceStrength
L = EvidenceLevel
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SURVIVOR = "survivor"
NEIGHBOUR = "neighbour at number 4"
POLICE = "Merseyside Police"
PROFESSIONAL = "Acme Professional Witness Service"


def item(kind: EvidenceKind, strength: EvidenceStrength, source: str, **more: Any) -> EvidenceItem:
    """An item as an officer logs it; stored kinds and crime numbers get their reference."""
    if kind in (K.PHOTOGRAPH, K.RECORDING):
        more.setdefault("storage_reference", f"evidence-store/{kind.value}/1")
    if kind is K.CRIME_NUMBER:
        more.setdefault("reference", "MP/26/001234")
    return EvidenceItem(
        kind=kind,
        strength=strength,
        recorded_by="caseworker-1",
        recorded_at=AT,
        source=source,
        **more,
    )


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param((), L.NONE, id="nothing-logged-none"),
        pytest.param((item(K.DIARY_ENTRY, S.WEAK, SURVIVOR),), L.SOME, id="one-weak-item-some"),
        pytest.param(
            (
                item(K.DIARY_ENTRY, S.WEAK, SURVIVOR),
                item(K.WITNESS_STATEMENT, S.WEAK, NEIGHBOUR),
                item(K.POLICE_REPORT, S.WEAK, POLICE),
            ),
            L.SOME,
            id="weak-items-never-corroborate",
        ),
        pytest.param((item(K.DIARY_ENTRY, S.MODERATE, SURVIVOR),), L.SOME, id="one-moderate-some"),
        pytest.param(
            (item(K.PHOTOGRAPH, S.STRONG, SURVIVOR),), L.SUBSTANTIAL, id="one-strong-item"
        ),
        pytest.param(
            (
                item(K.DIARY_ENTRY, S.MODERATE, SURVIVOR),
                item(K.DIARY_ENTRY, S.MODERATE, SURVIVOR),
                item(K.RECORDING, S.MODERATE, " Survivor "),
            ),
            L.SOME,
            id="one-source-does-not-corroborate-itself",
        ),
        pytest.param(
            (
                item(K.DIARY_ENTRY, S.MODERATE, SURVIVOR),
                item(K.WITNESS_STATEMENT, S.MODERATE, NEIGHBOUR),
            ),
            L.SUBSTANTIAL,
            id="two-sources-corroborate",
        ),
        pytest.param(
            (item(K.POLICE_REPORT, S.STRONG, POLICE),),
            L.SUBSTANTIAL,
            id="independent-alone-is-not-corroborated",
        ),
        pytest.param(
            (
                item(K.POLICE_REPORT, S.MODERATE, POLICE),
                item(K.CRIME_NUMBER, S.MODERATE, POLICE),
            ),
            L.SOME,
            id="police-report-and-its-crime-number-one-source",
        ),
        pytest.param(
            (
                item(K.POLICE_REPORT, S.MODERATE, POLICE),
                item(K.DIARY_ENTRY, S.MODERATE, SURVIVOR),
            ),
            L.STRONG,
            id="police-report-corroborated-strong",
        ),
        pytest.param(
            (
                item(K.CRIME_NUMBER, S.MODERATE, POLICE),
                item(K.WITNESS_STATEMENT, S.MODERATE, NEIGHBOUR),
            ),
            L.STRONG,
            id="crime-number-corroborated-strong",
        ),
        pytest.param(
            (
                item(K.PROFESSIONAL_WITNESS_REPORT, S.MODERATE, PROFESSIONAL),
                item(K.PHOTOGRAPH, S.MODERATE, SURVIVOR),
            ),
            L.STRONG,
            id="professional-witness-corroborated-strong",
        ),
        pytest.param(
            (
                item(K.PROFESSIONAL_WITNESS_REPORT, S.MODERATE, PROFESSIONAL),
                item(K.POLICE_REPORT, S.MODERATE, POLICE),
            ),
            L.STRONG,
            id="two-independent-sources-strong",
        ),
        pytest.param(
            (
                item(K.POLICE_REPORT, S.STRONG, POLICE),
                item(K.DIARY_ENTRY, S.WEAK, SURVIVOR),
            ),
            L.SUBSTANTIAL,
            id="weak-item-does-not-corroborate-independent",
        ),
        pytest.param(
            (
                item(K.WITNESS_STATEMENT, S.STRONG, NEIGHBOUR),
                item(K.DIARY_ENTRY, S.STRONG, SURVIVOR),
                item(K.RECORDING, S.STRONG, SURVIVOR),
            ),
            L.SUBSTANTIAL,
            id="no-independent-item-never-strong",
        ),
    ],
)
def test_rate(items: tuple[EvidenceItem, ...], expected: EvidenceLevel) -> None:
    assert rate(items) is expected
    assert rate(list(reversed(items))) is expected


LEVEL_ORDER = ["none", "some", "substantial", "strong"]


@pytest.mark.parametrize(("level", "needed"), list(product(L, L)))
def test_levels_are_ordered_none_some_substantial_strong(
    level: EvidenceLevel, needed: EvidenceLevel
) -> None:
    assert meets(level, needed) is (
        LEVEL_ORDER.index(level.value) >= LEVEL_ORDER.index(needed.value)
    )


# Every item an officer could log: each kind at each strength, from two sources.
POOL = [
    item(kind, strength, source) for kind, strength, source in product(K, S, (SURVIVOR, POLICE))
] + [item(K.WITNESS_STATEMENT, S.MODERATE, NEIGHBOUR)]
LOGS = [logged for size in range(4) for logged in combinations(POOL, size)]


def test_missing_for_is_empty_exactly_when_the_level_is_met() -> None:
    for logged, needed in product(LOGS, L):
        missing = missing_for(needed, logged)
        assert (missing == []) is meets(rate(logged), needed), (logged, needed, missing)
        assert all(reason.strip() for reason in missing)


def test_more_evidence_never_lowers_the_level() -> None:
    for logged, added in product(LOGS[:2000], POOL):
        assert meets(rate((*logged, added)), rate(logged)), (logged, added)


@pytest.mark.parametrize(
    ("needed", "items", "says"),
    [
        pytest.param(L.SOME, (), [ANY_EVIDENCE], id="some-from-nothing"),
        pytest.param(
            L.SUBSTANTIAL,
            (item(K.DIARY_ENTRY, S.MODERATE, SURVIVOR),),
            ["assessed as strong", f"other than {SURVIVOR}"],
            id="substantial-names-the-other-source",
        ),
        pytest.param(
            L.STRONG,
            (item(K.DIARY_ENTRY, S.MODERATE, SURVIVOR),),
            ["police report, crime number or professional witness report", "other than survivor"],
            id="strong-asks-for-independent-evidence-from-another-source",
        ),
        pytest.param(
            L.STRONG,
            (item(K.CRIME_NUMBER, S.STRONG, POLICE),),
            ["corroborate", f"other than {POLICE}"],
            id="strong-asks-for-corroboration-of-the-crime-number",
        ),
        pytest.param(
            L.STRONG,
            (item(K.POLICE_REPORT, S.WEAK, POLICE),),
            ["police report, crime number", "corroborate"],
            id="strong-from-weak-asks-for-both",
        ),
    ],
)
def test_missing_for_says_what_is_missing(
    needed: EvidenceLevel, items: tuple[EvidenceItem, ...], says: list[str]
) -> None:
    text = " | ".join(missing_for(needed, items))
    for words in says:
        assert words in text


@pytest.mark.parametrize(
    ("items", "added"),
    [
        pytest.param(
            (item(K.DIARY_ENTRY, S.MODERATE, SURVIVOR),),
            item(K.POLICE_REPORT, S.MODERATE, POLICE),
            id="independent-from-another-source",
        ),
        pytest.param(
            (item(K.CRIME_NUMBER, S.STRONG, POLICE),),
            item(K.WITNESS_STATEMENT, S.MODERATE, NEIGHBOUR),
            id="corroboration-from-another-source",
        ),
    ],
)
def test_doing_what_missing_for_says_reaches_strong(
    items: tuple[EvidenceItem, ...], added: EvidenceItem
) -> None:
    assert missing_for(L.STRONG, items) != []
    assert missing_for(L.STRONG, (*items, added)) == []


@pytest.mark.parametrize(
    ("kind", "more", "complaint"),
    [
        pytest.param(K.PHOTOGRAPH, {"storage_reference": None}, "stored", id="photo-needs-store"),
        pytest.param(
            K.RECORDING, {"storage_reference": "  "}, "stored", id="recording-needs-store"
        ),
        pytest.param(K.CRIME_NUMBER, {"reference": None}, "number", id="crime-number-needs-number"),
        pytest.param(K.DIARY_ENTRY, {"recorded_by": " "}, "who recorded", id="needs-recorder"),
        pytest.param(K.DIARY_ENTRY, {"source": ""}, "source", id="needs-source"),
    ],
)
def test_an_item_needs_its_references(
    kind: EvidenceKind, more: dict[str, Any], complaint: str
) -> None:
    fields: dict[str, Any] = {
        "kind": kind,
        "strength": S.MODERATE,
        "recorded_by": "caseworker-1",
        "recorded_at": AT,
        "source": SURVIVOR,
        "storage_reference": "evidence-store/1",
        "reference": "MP/1",
    } | more
    with pytest.raises(ValueError, match=complaint):
        EvidenceItem(**fields)


def test_an_item_keeps_metadata_and_a_storage_reference_never_the_file() -> None:
    assert {field.name for field in dataclasses.fields(EvidenceItem)} == {
        "kind",
        "strength",
        "recorded_by",
        "recorded_at",
        "source",
        "storage_reference",
        "reference",
        "occurred_at",
        "media_type",
        "summary",
    }
    assert not any("bytes" in str(field.type) for field in dataclasses.fields(EvidenceItem))
    photo = item(K.PHOTOGRAPH, S.STRONG, SURVIVOR, media_type="image/jpeg")
    assert photo.storage_reference == "evidence-store/photograph/1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        photo.strength = S.WEAK  # type: ignore[misc]
