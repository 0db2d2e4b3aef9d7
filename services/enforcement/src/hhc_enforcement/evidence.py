"""The evidence log of an enforcement case, and how strong it is (policy 2.5). Pure: no I/O.

2.5: "Where possible, i.e. there is strong evidence that individuals are responsible for
perpetrating acts of harassment or hate crime / incidents ... PCHA will take appropriate
enforcement actions." Each step of the ladder (``hhc_enforcement.ladder``) names the
level of evidence it needs; :func:`rate` says what level the log reaches, and
:func:`missing_for` says in words what is still missing (the answer to a refused step).

The log holds what was recorded, by whom, when, from whom, and how strong the officer
assessed it. Photographs and recordings are held elsewhere: an item keeps their metadata
and a storage reference, never the file.

How the log is rated, in full (an item *counts* when assessed moderate or strong; a weak
item is logged and kept, and counts towards "some" only):

=============  ==========================================================================
level          the log holds
=============  ==========================================================================
none           nothing
some           at least one item, of any strength
substantial    one item assessed strong, or two counting items from different sources
               (an account corroborated by someone else)
strong         independent corroboration: a counting police report, crime number or
               professional witness report, and another counting item from a different
               source
=============  ==========================================================================

Sources are compared as written, ignoring case and spacing: two diary entries by the same
survivor are one source; a police report and its crime number, both from the police, are
one source too.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hhc_contracts.vocabulary import EvidenceKind, EvidenceLevel, EvidenceStrength, is_recognised

_LEVELS: tuple[EvidenceLevel, ...] = tuple(EvidenceLevel)
"""Every level this vocabulary knows, lowest first."""


def meets(level: EvidenceLevel, needed: EvidenceLevel) -> bool:
    """Whether ``level`` is ``needed`` or above it. A level this vocabulary does not know,
    on either side, meets nothing (2.5: no enforcement on evidence not understood)."""
    if not (is_recognised(level) and is_recognised(needed)):
        return False
    return _LEVELS.index(level) >= _LEVELS.index(needed)


INDEPENDENT_KINDS: frozenset[EvidenceKind] = frozenset(
    {
        EvidenceKind.POLICE_REPORT,
        EvidenceKind.CRIME_NUMBER,
        EvidenceKind.PROFESSIONAL_WITNESS_REPORT,
    }
)
"""Evidence from someone with no part in the dispute: the police, or a professional
witness. Strong evidence (2.5) needs one of these, corroborated."""

STORED_ELSEWHERE: frozenset[EvidenceKind] = frozenset(
    {EvidenceKind.PHOTOGRAPH, EvidenceKind.RECORDING}
)
"""Kinds whose file is kept in a store: the item needs its storage reference."""

COUNTING: frozenset[EvidenceStrength] = frozenset(
    {EvidenceStrength.MODERATE, EvidenceStrength.STRONG}
)
"""Strengths that count towards substantial and strong evidence."""


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One entry of the evidence log. Never the file itself (photographs, recordings):
    its metadata and where it is stored."""

    kind: EvidenceKind
    strength: EvidenceStrength
    recorded_by: str
    """The subject (staff account) who logged it."""
    recorded_at: datetime
    source: str
    """Who it comes from: the survivor, a named witness, a police force, a professional
    witness. Compared ignoring case and spacing (module docstring)."""
    storage_reference: str | None = None
    """Where the photograph, recording or document is kept; never its content."""
    reference: str | None = None
    """The crime number, police incident number, or the document's own reference."""
    occurred_at: datetime | None = None
    """When what it shows happened (or the photograph or recording was taken)."""
    media_type: str | None = None
    """For a stored file, e.g. ``image/jpeg`` or ``audio/mpeg``."""
    summary: str | None = None

    def __post_init__(self) -> None:
        if not self.recorded_by.strip():
            raise ValueError("evidence needs who recorded it")
        if not self.source.strip():
            raise ValueError("evidence needs its source: who it comes from")
        if self.kind in STORED_ELSEWHERE and not (self.storage_reference or "").strip():
            raise ValueError(f"a {_words(self.kind)} needs the reference of where it is stored")
        if self.kind is EvidenceKind.CRIME_NUMBER and not (self.reference or "").strip():
            raise ValueError("a crime number needs the number")

    @property
    def counts(self) -> bool:
        """Assessed moderate or strong (module docstring)."""
        return self.strength in COUNTING

    @property
    def independent(self) -> bool:
        return self.kind in INDEPENDENT_KINDS


def same_source(a: EvidenceItem, b: EvidenceItem) -> bool:
    return _source(a) == _source(b)


def _source(item: EvidenceItem) -> str:
    return " ".join(item.source.split()).casefold()


def _words(kind: EvidenceKind) -> str:
    return kind.value.replace("_", " ")


def _corroborated(item: EvidenceItem, items: tuple[EvidenceItem, ...]) -> bool:
    """Another counting item, from a different source, supports ``item``."""
    return any(other.counts and not same_source(other, item) for other in items)


def rate(items: Iterable[EvidenceItem]) -> EvidenceLevel:
    """The level the log reaches (the table in the module docstring)."""
    log = tuple(items)
    counting = tuple(item for item in log if item.counts)
    if any(item.independent and _corroborated(item, counting) for item in counting):
        return EvidenceLevel.STRONG
    if any(item.strength is EvidenceStrength.STRONG for item in counting) or any(
        _corroborated(item, counting) for item in counting
    ):
        return EvidenceLevel.SUBSTANTIAL
    if log:
        return EvidenceLevel.SOME
    return EvidenceLevel.NONE


ANY_EVIDENCE = (
    "any evidence logged: a diary entry, a witness statement, a police report or crime "
    "number, a photograph or recording, or a professional witness report"
)
AN_INDEPENDENT_ITEM = (
    "a police report, crime number or professional witness report assessed as moderate or strong"
)


def missing_for(needed: EvidenceLevel, items: Iterable[EvidenceItem]) -> list[str]:
    """What the log lacks to reach ``needed``, in words (the table in the module
    docstring); empty when it reaches it."""
    log = tuple(items)
    if meets(rate(log), needed):
        return []
    if needed is EvidenceLevel.SOME:
        return [ANY_EVIDENCE]
    counting = tuple(item for item in log if item.counts)
    # Below substantial, at most one source counts; below strong, none of the independent
    # items is corroborated, so everything counting is from the one source too.
    sources = {_source(item) for item in counting}
    other = f"a source other than {counting[0].source.strip()}" if sources else "another source"
    if needed is EvidenceLevel.SUBSTANTIAL:
        if counting:
            return [
                "an item assessed as strong, or another assessed as moderate or strong "
                f"from {other} to corroborate the account"
            ]
        return [
            "an item assessed as strong, or two assessed as moderate or strong from "
            "different sources"
        ]
    if any(item.independent for item in counting) and len(sources) == 1:
        return [f"another item assessed as moderate or strong from {other}, to corroborate it"]
    if len(sources) == 1:
        return [f"{AN_INDEPENDENT_ITEM}, from {other} (2.5: strong evidence is corroborated)"]
    if sources:
        return [f"{AN_INDEPENDENT_ITEM} (2.5: strong evidence is independent)"]
    return [
        f"{AN_INDEPENDENT_ITEM} (2.5: strong evidence is independent)",
        "another item assessed as moderate or strong from another source, to corroborate it",
    ]
