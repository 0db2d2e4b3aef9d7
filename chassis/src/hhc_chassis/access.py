"""Who may do what, and to which case: one table and one pure rule (policy 3.5.1, 4.3).

Every service asks two questions of a caller:

1. Does any of the caller's roles grant this permission? (``ROLE_PERMISSIONS``) If not,
   the answer is 403.
2. Does any role that grants it reach this very case? (``reaches``) If not, the answer
   is 404, the same as for a case that does not exist, so that a refusal reveals
   nothing about the case.

Both are pure and table-tested; the HTTP layer (:mod:`hhc_chassis.auth`) and the
audit (:mod:`hhc_chassis.audit`) only apply them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The ``roles`` claim of a token; values the table does not know are ignored."""

    ADVISER = "adviser"
    """Customer service adviser: takes reports, records consent, reads what they took."""
    CASEWORKER = "caseworker"
    """Community safety caseworker: the full cases of their team."""
    SAFEGUARDING_LEAD = "safeguarding_lead"
    """Cases with a safeguarding concern, in every team (3.3.1)."""
    LEGAL_OFFICER = "legal_officer"
    """Enforcement against perpetrators (3.6), every team."""
    PEOPLE_AND_LEARNING = "people_and_learning"
    """Cases whose survivor is a member of staff, and only those (4.3)."""
    MANAGER = "manager"
    """Their team's cases, escalations, reassignment, the monthly report."""
    DATA_PROTECTION_OFFICER = "data_protection_officer"
    """The audit and every case, for subject access and erasure requests."""
    AUDITOR = "auditor"
    """The audit log only: no personal data."""
    REPORTING_READER = "reporting_reader"
    """Aggregates only."""
    SYSTEM = "system"
    """Another system of the housing group: submits reports, reads aggregates."""
    SERVICE = "service"
    """Another service of this system (its ``sub`` is the service's name), acting for
    itself: fetches case keys from intake when its work needs them."""
    PARTNER = "partner"
    """A partner agency's system (its ``sub`` is the partner's catalogue id): reports back
    on the referrals sent to it, and on no others."""


class Permission(StrEnum):
    SUBMIT_REPORT = "submit_report"
    ADD_FURTHER_REPORT = "add_further_report"
    RECORD_CONSENT = "record_consent"
    ISSUE_STATUS_CODE = "issue_status_code"
    """A new status code for the survivor (the old one stops working), given by phone."""
    READ_CASE = "read_case"
    """Intake's case file: the reports as given, with the survivor's personal data."""
    CHANGE_TEAM = "change_team"
    READ_RISK = "read_risk"
    """Assessments and actions."""
    RECORD_ASSESSMENT = "record_assessment"
    COMPLETE_ACTION = "complete_action"
    READ_REFERRALS = "read_referrals"
    CONFIRM_REFERRAL = "confirm_referral"
    """Record a referral made by telephone, or a partner's answer given to staff."""
    OVERRIDE_CONSENT = "override_consent"
    """Share without consent, with a reason, when someone is in immediate danger (3.5.2)."""
    READ_CONSENT_OVERRIDES = "read_consent_overrides"
    """Every override of consent, in every team: the data protection officer's review."""
    REPORT_REFERRAL_OUTCOME = "report_referral_outcome"
    """A partner acknowledges, accepts or declines a referral sent to it."""
    READ_ENFORCEMENT = "read_enforcement"
    RECORD_EVIDENCE = "record_evidence"
    """Add to an enforcement case's evidence log (2.5)."""
    DECIDE_ENFORCEMENT = "decide_enforcement"
    """Propose and decide steps of the ladder, record court hearings and orders (2.6)."""
    RECORD_VALIDITY = "record_validity"
    """Say whether an anonymous report was found valid (3.2.5)."""
    MANAGE_PERPETRATORS = "manage_perpetrators"
    """Record and identify alleged perpetrators."""
    MANAGE_CASE = "manage_case"
    """Move a case along its lifecycle: in progress, awaiting closure, closed with a
    reason, reopened; change its track when a report turned out otherwise (3.2.4, 3.2.5)."""
    AGREE_CLOSURE = "agree_closure"
    """A manager's agreement to close a high-risk case."""
    ASSIGN_CASE = "assign_case"
    """Name the member of staff who owns a case."""
    READ_WORKLIST = "read_worklist"
    """Open cases with their next due and overdue actions (lists only cases reached)."""
    ACKNOWLEDGE_ESCALATION = "acknowledge_escalation"
    """Acknowledge an overdue action's escalation, which stops its repeats."""
    READ_SATISFACTION_COMMENTS = "read_satisfaction_comments"
    """The survivor's own words in the closure survey (5.1), kept apart from the case."""
    READ_TIMELINE = "read_timeline"
    READ_REFERENCE_DATA = "read_reference_data"
    """The risk matrix and other tables without personal data."""
    READ_AGGREGATES = "read_aggregates"
    PUBLISH_MONTHLY_REPORT = "publish_monthly_report"
    READ_AUDIT = "read_audit"
    ERASE_CASE = "erase_case"
    """Erase a survivor's personal data now, on their request (3.5.2)."""
    MANAGE_LEGAL_HOLD = "manage_legal_hold"
    """Place or lift a legal hold, which stops a case's disposal."""
    USE_CASE_KEYS = "use_case_keys"
    """Fetch a case's key, to seal or open its personal data (services only)."""


_P = Permission
_STAFF_REFERENCE = frozenset({_P.READ_REFERENCE_DATA})
_CASEWORK = frozenset(
    {
        _P.ADD_FURTHER_REPORT,
        _P.RECORD_CONSENT,
        _P.ISSUE_STATUS_CODE,
        _P.READ_CASE,
        _P.READ_RISK,
        _P.RECORD_ASSESSMENT,
        _P.COMPLETE_ACTION,
        _P.READ_REFERRALS,
        _P.CONFIRM_REFERRAL,
        _P.OVERRIDE_CONSENT,
        _P.READ_ENFORCEMENT,
        _P.READ_TIMELINE,
        _P.MANAGE_CASE,
        _P.READ_WORKLIST,
    }
)

_ENFORCEMENT = frozenset({_P.RECORD_EVIDENCE, _P.RECORD_VALIDITY, _P.MANAGE_PERPETRATORS})

# fmt: off
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ADVISER: _STAFF_REFERENCE | {
        _P.SUBMIT_REPORT, _P.ADD_FURTHER_REPORT, _P.RECORD_CONSENT, _P.READ_CASE,
        _P.ISSUE_STATUS_CODE,
    },
    Role.CASEWORKER: _STAFF_REFERENCE | _CASEWORK | _ENFORCEMENT | {_P.SUBMIT_REPORT},
    Role.SAFEGUARDING_LEAD: _STAFF_REFERENCE | _CASEWORK | {_P.ACKNOWLEDGE_ESCALATION},
    Role.LEGAL_OFFICER: _STAFF_REFERENCE | _ENFORCEMENT | {
        _P.READ_RISK, _P.READ_ENFORCEMENT, _P.READ_TIMELINE, _P.DECIDE_ENFORCEMENT,
    },
    # 4.3: people and learning manage the cases of staff survivors, and only those.
    Role.PEOPLE_AND_LEARNING: _STAFF_REFERENCE | _CASEWORK | {
        _P.SUBMIT_REPORT, _P.DECIDE_ENFORCEMENT, _P.READ_SATISFACTION_COMMENTS,
    },
    Role.MANAGER: _STAFF_REFERENCE | _CASEWORK | _ENFORCEMENT | {
        _P.SUBMIT_REPORT, _P.CHANGE_TEAM, _P.READ_AGGREGATES, _P.PUBLISH_MONTHLY_REPORT,
        _P.DECIDE_ENFORCEMENT, _P.AGREE_CLOSURE, _P.ASSIGN_CASE, _P.ACKNOWLEDGE_ESCALATION,
        _P.READ_SATISFACTION_COMMENTS,
    },
    Role.DATA_PROTECTION_OFFICER: _STAFF_REFERENCE | {
        _P.READ_CASE, _P.READ_RISK, _P.READ_REFERRALS, _P.READ_ENFORCEMENT,
        _P.READ_TIMELINE, _P.READ_AUDIT, _P.READ_CONSENT_OVERRIDES, _P.ERASE_CASE,
        _P.MANAGE_LEGAL_HOLD,
    },
    Role.AUDITOR: frozenset({_P.READ_AUDIT}),
    Role.REPORTING_READER: frozenset({_P.READ_AGGREGATES}),
    Role.SYSTEM: frozenset({_P.SUBMIT_REPORT, _P.READ_AGGREGATES}),
    Role.PARTNER: frozenset({_P.REPORT_REFERRAL_OUTCOME}),
    Role.SERVICE: frozenset({_P.USE_CASE_KEYS}),
}
# fmt: on

CASE_PERMISSIONS: frozenset[Permission] = (
    _CASEWORK
    | _ENFORCEMENT
    | {
        _P.CHANGE_TEAM,
        _P.DECIDE_ENFORCEMENT,
        _P.AGREE_CLOSURE,
        _P.ASSIGN_CASE,
        _P.ACKNOWLEDGE_ESCALATION,
        _P.READ_SATISFACTION_COMMENTS,
        _P.ERASE_CASE,
        _P.MANAGE_LEGAL_HOLD,
    }
)
"""Permissions that act on one case: each use is checked against that case."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, from a verified token."""

    subject: str
    roles: frozenset[Role]
    team: str | None = None

    @classmethod
    def from_claims(cls, subject: str, roles: Iterable[str], team: str | None) -> "Caller":
        known = {role.value for role in Role}
        return cls(
            subject=subject,
            roles=frozenset(Role(role) for role in roles if role in known),
            team=team or None,
        )


@dataclass(frozen=True, slots=True)
class CaseScope:
    """What decides who reaches a case; no personal data."""

    team: str
    survivor_is_staff: bool = False
    safeguarding: bool = False
    """A safeguarding concern was reported: a vulnerable adult, children in the
    household, a concern about capacity, or immediate danger (3.3.1)."""
    taken_by: str | None = None
    """The subject of the member of staff who took the first report, if one did."""
    staff_perpetrator: bool = False
    """An alleged perpetrator is a member of staff (4.2): the disciplinary route is
    people and learning's, who reach the case's enforcement and nothing else of it."""


def roles_granting(caller: Caller, permission: Permission) -> frozenset[Role]:
    return frozenset(role for role in caller.roles if permission in ROLE_PERMISSIONS[role])


def may(caller: Caller, permission: Permission) -> bool:
    return bool(roles_granting(caller, permission))


def role_reaches(role: Role, caller: Caller, case: CaseScope) -> bool:
    """Whether ``role`` (held by ``caller``) reaches ``case``."""
    if role is Role.DATA_PROTECTION_OFFICER:
        return True
    # 4.3: a case whose survivor is staff is seen by people and learning, nobody else.
    if case.survivor_is_staff:
        return role is Role.PEOPLE_AND_LEARNING
    match role:
        case Role.CASEWORKER | Role.MANAGER:
            return caller.team is not None and caller.team == case.team
        case Role.ADVISER:
            return case.taken_by is not None and case.taken_by == caller.subject
        case Role.SAFEGUARDING_LEAD:
            return case.safeguarding
        case Role.LEGAL_OFFICER:
            return True
        case Role.SERVICE:
            return True  # its one permission, a case's key, is about every case
        case _:
            return False


_DISCIPLINARY = frozenset({Permission.READ_ENFORCEMENT, Permission.DECIDE_ENFORCEMENT})
"""What people and learning may do on a case whose alleged perpetrator is staff (4.2)."""


def reaches(caller: Caller, permission: Permission, case: CaseScope) -> bool:
    """Whether the caller may use ``permission`` on ``case``: some role of theirs grants
    the permission and reaches the case."""
    return any(
        role_reaches(role, caller, case)
        or (
            role is Role.PEOPLE_AND_LEARNING
            and case.staff_perpetrator
            and permission in _DISCIPLINARY
        )
        for role in roles_granting(caller, permission)
    )
