"""Rehousing evidence and exemptions to tenancy rules (policy 3.3.2, 3.4). Pure: no I/O.

3.3.2: staff work with survivors "to compile evidence to support applications for
rehousing within choice based lettings schemes (aiming to achieve priority banding)".
The evidence is what the case holds: every report of an incident, every risk
assessment and every police reference, each with its date, oldest first.

3.4.2 and 3.4.3: a tenancy rule that would stop a survivor moving or being banded (rent
arrears, another breach) may be set aside, and for that PCHA "will normally require
support for the survivors' case by statutory agencies ... or via involvement of
multiagency groups such as the Joint Action Group". Here an exemption is approved only
with that support recorded, by a manager; and, as issue 10 asks of any exemption, the
manager who decides is a second person, not the one who asked.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from hhc_chassis.access import Caller, Role
from hhc_contracts.vocabulary import IncidentCategory, Partner, RiskLevel, is_recognised

POLICE_REFERENCES_FROM: frozenset[Partner] = frozenset({Partner.POLICE, Partner.EMERGENCY_SERVICES})
"""Partners whose incident number, given on the telephone, is a police reference."""

_RISK_ORDER: Mapping[RiskLevel, int] = {
    RiskLevel.STANDARD: 0,
    RiskLevel.MEDIUM: 1,
    RiskLevel.HIGH: 2,
}
_UNRECOGNISED_RISK = len(_RISK_ORDER)
"""A level a newer risk service added ranks above every known one: as risk itself does
(an unknown level is reviewed as high), the survivor is not the one to lose by it. It is
reported as received."""


@dataclass(frozen=True, slots=True)
class Incident:
    report_id: UUID
    occurred_at: datetime | None
    received_at: datetime
    categories: tuple[IncidentCategory, ...]
    description: str | None


@dataclass(frozen=True, slots=True)
class Assessment:
    assessment_id: UUID
    risk_level: RiskLevel
    assessed_at: datetime


@dataclass(frozen=True, slots=True)
class PoliceReference:
    reference: str
    partner: Partner
    called_at: datetime | None


@dataclass(frozen=True, slots=True)
class Evidence:
    incidents: tuple[Incident, ...]
    assessments: tuple[Assessment, ...]
    police_references: tuple[PoliceReference, ...]

    @property
    def highest_risk_level(self) -> RiskLevel | None:
        return highest_risk_level(assessment.risk_level for assessment in self.assessments)


def highest_risk_level(levels: Iterable[RiskLevel]) -> RiskLevel | None:
    """The highest of ``levels`` (None for none); see ``_UNRECOGNISED_RISK``."""
    return max(
        levels,
        key=lambda level: _RISK_ORDER[level] if is_recognised(level) else _UNRECOGNISED_RISK,
        default=None,
    )


def evidence_from(
    incidents: Iterable[Mapping[str, Any]],
    assessments: Iterable[Mapping[str, Any]],
    referrals: Iterable[Mapping[str, Any]],
) -> Evidence:
    """The bundle from stored rows (``case_incidents``, ``case_assessments``,
    ``referrals``), each part oldest first.

    A police reference is the incident number staff recorded when they telephoned the
    police or the emergency services; one given on two calls is listed once, at the first.
    """
    references: dict[str, PoliceReference] = {}
    for row in sorted(referrals, key=lambda row: _oldest_first(row["called_at"])):
        reference = (row["incident_number"] or "").strip()
        partner = Partner(row["partner"])
        if reference and partner in POLICE_REFERENCES_FROM and reference not in references:
            references[reference] = PoliceReference(reference, partner, row["called_at"])
    return Evidence(
        incidents=tuple(
            sorted(
                (
                    Incident(
                        report_id=row["report_id"],
                        occurred_at=row["occurred_at"],
                        received_at=row["received_at"],
                        categories=tuple(IncidentCategory(c) for c in row["categories"]),
                        description=row["description"],
                    )
                    for row in incidents
                ),
                # When it happened, where the report says; else when it was reported.
                key=lambda incident: (
                    incident.occurred_at or incident.received_at,
                    incident.received_at,
                ),
            )
        ),
        assessments=tuple(
            sorted(
                (
                    Assessment(
                        assessment_id=row["assessment_id"],
                        risk_level=RiskLevel(row["risk_level"]),
                        assessed_at=row["assessed_at"],
                    )
                    for row in assessments
                ),
                key=lambda assessment: assessment.assessed_at,
            )
        ),
        police_references=tuple(references.values()),
    )


def _oldest_first(at: datetime | None) -> tuple[bool, datetime | None]:
    # A call without a time (none is recorded without one) goes last, not first.
    return (at is None, at)


class ExemptionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Exemption:
    """A request to set a tenancy rule aside (3.4.2), as stored."""

    requested_by: str
    supported_by: str
    status: ExemptionStatus


SECOND_PERSON = "a second person must decide (3.4.3): not the one who asked"


def decision_refused(exemption: Exemption, decider: Caller, *, approved: bool) -> str | None:
    """Why ``decider`` may not decide ``exemption`` so, or None when they may.

    Only a manager decides, once, and never their own request; approval needs the
    support of a statutory agency or a multi-agency group recorded (3.4.3). Refusing
    needs no support: without it, refusal is the policy's normal answer."""
    if exemption.status is not ExemptionStatus.PENDING:
        return f"this exemption request was already {exemption.status.value}"
    if Role.MANAGER not in decider.roles:
        return "only a manager may decide an exemption request (3.4.3)"
    if decider.subject == exemption.requested_by:
        return SECOND_PERSON
    if approved and not exemption.supported_by.strip():
        return (
            "an exemption needs support for the survivor's case from a statutory agency "
            "or a multi-agency group recorded (3.4.3)"
        )
    return None
