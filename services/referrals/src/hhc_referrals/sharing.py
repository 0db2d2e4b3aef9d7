"""What a partner is told about a case (policy 3.5.2). Pure: no I/O.

Personal data leaves the landlord only under an established information-sharing
protocol (3.5.2), and only what the partner needs for what it is asked to do: each
partner's catalogue entry names the fields it may be given (``allowed_fields``), and a
referral carries those of them that have a value, and nothing else. The survivor tells
their own story to a support agency; the account of the incident (``description``) goes
only to partners whose work needs it.

Without the survivor's explicit consent, information goes only to a partner with a
lawful basis to be told without it, when they are in danger of immediate harm and
emergency intervention is required (3.5.2); :func:`share` refuses anything else, as the
last check before personal data leaves.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING
from uuid import UUID

from hhc_contracts.v1 import ReportReceived
from hhc_contracts.vocabulary import ReferralBasis

if TYPE_CHECKING:
    from hhc_referrals.catalogue import PartnerEntry

CASE_DETAIL_FIELDS: tuple[str, ...] = (
    "case_reference",
    "survivor_name",
    "survivor_phone",
    "survivor_email",
    "survivor_tenancy_reference",
    "survivor_is_customer",
    "safe_contact_method",
    "safe_contact_times",
    "language",
    "interpreter_needed",
    "british_sign_language",
    "accessible_formats",
    "location",
    "description",
    "categories",
    "perceived_motivation",
    "classification",
    "perpetrator_kinds",
    "immediate_danger",
    "vulnerable_adult",
    "children_in_household",
    "capacity_concern",
    "ongoing",
    "incident_occurred_at",
    "received_at",
)
"""The named fields referrals keeps about a case, and the only ones a partner can be
allowed. The reporter's and witnesses' details are not among them: a referral is about
the survivor, and third parties' data is not passed on (3.2.3, 3.5.2)."""

PERSONAL_DETAIL_FIELDS: tuple[str, ...] = (
    "survivor_name",
    "survivor_phone",
    "survivor_email",
    "survivor_tenancy_reference",
    "safe_contact_method",
    "safe_contact_times",
    "language",
    "interpreter_needed",
    "british_sign_language",
    "accessible_formats",
    "location",
    "description",
)
"""The fields taken from the report's personal part (:func:`case_details`): sealed on the
wire, and erased here with the case (3.5.2). The rest (the case's reference, what kind of
incident, the safeguarding flags) still lets a partner be referred, to contact the
landlord about it."""

NARRATIVE = "description"
"""The account of the incident in the reporter's words."""

HEADER_FIELDS: tuple[str, ...] = (
    "referral_id",
    "partner",
    "basis",
    "lawful_basis",
    "sharing_agreement",
)
"""What every shared document carries besides the case's fields; none is personal."""


class SharingRefused(ValueError):
    """The referral may not be shared with that partner on that basis (3.5.2)."""


@dataclass(frozen=True, slots=True)
class SharedDocument:
    """What goes to one partner: ``fields`` names exactly the case's fields in it (for
    ``ReferralMade.shared_fields``); ``document`` is the JSON-serialisable body, the
    header (:data:`HEADER_FIELDS`) with the fields under ``details``."""

    fields: tuple[str, ...]
    document: dict[str, object]


def _text(value: Enum | None) -> str | None:
    return None if value is None else str(value.value)


def _texts(values: Sequence[Enum]) -> list[str]:
    return [str(value.value) for value in values]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def case_details(report: ReportReceived) -> dict[str, object]:
    """The case's fields (:data:`CASE_DETAIL_FIELDS`) as one report gives them, ready for
    JSON: vocabulary values as their wire strings (an unrecognised one as received),
    times as ISO 8601, absent values as None (all of :data:`PERSONAL_DETAIL_FIELDS` when
    the report's personal part is missing)."""
    personal = report.personal
    details: dict[str, object] = {
        "case_reference": report.reference,
        "survivor_name": personal.survivor_name,
        "survivor_phone": personal.survivor_phone,
        "survivor_email": personal.survivor_email,
        "survivor_tenancy_reference": personal.survivor_tenancy_reference,
        "survivor_is_customer": report.survivor_is_customer,
        "safe_contact_method": _text(personal.safe_contact_method),
        "safe_contact_times": personal.safe_contact_times,
        "language": personal.language,
        "interpreter_needed": personal.interpreter_needed,
        "british_sign_language": personal.british_sign_language,
        "accessible_formats": _texts(personal.accessible_formats),
        "location": personal.location,
        "description": personal.description,
        "categories": _texts(report.categories),
        "perceived_motivation": _texts(report.perceived_motivation),
        "classification": _text(report.classification),
        "perpetrator_kinds": _texts(report.perpetrator_kinds),
        "immediate_danger": report.immediate_danger,
        "vulnerable_adult": report.vulnerable_adult,
        "children_in_household": report.children_in_household,
        "capacity_concern": report.capacity_concern,
        "ongoing": report.ongoing,
        "incident_occurred_at": _iso(report.incident_occurred_at),
        "received_at": _iso(report.received_at),
    }
    if not personal.model_fields_set:
        # No personal part came (its case's key destroyed, or withheld): its defaults
        # ("no interpreter needed") are not facts about the survivor, so none is passed on.
        details |= dict.fromkeys(PERSONAL_DETAIL_FIELDS)
    return details


def has_value(value: object) -> bool:
    """Whether a field says something: None, blank text and empty collections do not;
    False does (no interpreter needed is worth knowing)."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return bool(value)
    return True


def _copy(value: object) -> object:
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return value


def share(
    entry: "PartnerEntry",
    details: Mapping[str, object],
    *,
    referral_id: UUID,
    basis: ReferralBasis,
) -> SharedDocument:
    """The document ``entry``'s partner is sent: the fields it is allowed that have a
    value in ``details``, under a header naming the referral, the partner, why sharing is
    lawful and the information-sharing agreement it is made under (3.5.2).

    Raises :class:`SharingRefused` when ``basis`` is the immediate-harm override and the
    partner has no lawful basis to be told without consent, or when ``basis`` is a value
    this version does not know (it is not explicit consent, 3.5.1)."""
    if basis is ReferralBasis.IMMEDIATE_HARM_OVERRIDE:
        if entry.lawful_basis_without_consent is None:
            raise SharingRefused(
                f"{entry.id.value} may not be told without consent: it has no lawful basis "
                "for it (3.5.2)"
            )
        lawful_basis: str | None = entry.lawful_basis_without_consent
    elif basis is ReferralBasis.CONSENT:
        lawful_basis = None
    else:
        raise SharingRefused(f"unknown basis {basis.value!r} is not explicit consent (3.5.2)")
    fields = tuple(
        name
        for name in CASE_DETAIL_FIELDS
        if name in entry.allowed_fields and has_value(details.get(name))
    )
    document: dict[str, object] = {
        "referral_id": str(referral_id),
        "partner": entry.id.value,
        "basis": basis.value,
        "lawful_basis": lawful_basis,
        "sharing_agreement": entry.sharing_agreement,
        "details": {name: _copy(details[name]) for name in fields},
    }
    return SharedDocument(fields=fields, document=document)
