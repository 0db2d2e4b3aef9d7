"""Risk's rules: first risk level and the actions a case needs (policy 3.3, 1.6.2).

Pure functions over :class:`CaseFacts`; the tables below read side by side with
the policy's lists.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hhc_contracts.vocabulary import (
    ActionKind,
    AppliesTo,
    Classification,
    Executor,
    IncidentCategory,
    Partner,
    PerpetratorKind,
    RiskLevel,
    Track,
)

# "Now" in 3.3.1, with a short grace before an unfinished action is escalated as overdue.
NOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class CaseFacts:
    survivor_is_customer: bool
    immediate_danger: bool
    classification: Classification
    track: Track
    categories: frozenset[IncidentCategory]
    perpetrator_kinds: frozenset[PerpetratorKind]
    vulnerable_adult: bool = False
    children_in_household: bool = False
    female_staff_requested: bool = False
    capacity_concern: bool = False

    @property
    def arson_involved(self) -> bool:
        return IncidentCategory.ARSON in self.categories


@dataclass(frozen=True, slots=True)
class PlannedAction:
    kind: ActionKind
    applies_to: AppliesTo
    clause: str
    carried_out_by: Executor
    due_in: timedelta
    partner: Partner | None = None

    def due_at(self, required_at: datetime) -> datetime:
        return required_at + self.due_in


def first_risk_level(facts: CaseFacts) -> tuple[RiskLevel, list[str]]:
    """The automatic first assessment from the report; immediate danger is always high."""
    if facts.immediate_danger:
        return RiskLevel.HIGH, ["immediate danger reported (3.3.1)"]
    reasons = []
    if facts.classification is Classification.HATE_CRIME:
        reasons.append("hate crime (3.1.3)")
    if facts.vulnerable_adult or facts.children_in_household:
        reasons.append("vulnerable adult or children involved")
    if reasons:
        return RiskLevel.MEDIUM, reasons
    return RiskLevel.STANDARD, ["no aggravating factor in the report"]


def _always(facts: CaseFacts) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class PlaybookEntry:
    action: PlannedAction
    relevant: Callable[[CaseFacts], bool] = _always


_ALL = AppliesTo.ALL_REPORTEES
_CUSTOMERS = AppliesTo.CUSTOMERS_ONLY
_DAY = timedelta(hours=24)

# 3.3.1, in the policy's order, with whom each action is for exactly as its table says.
# fmt: off
IMMEDIATE_DANGER_PLAYBOOK: tuple[PlaybookEntry, ...] = (
    PlaybookEntry(PlannedAction(ActionKind.INFORM_EMERGENCY_SERVICES, _ALL, "3.3.1",
                                Executor.REFERRALS, NOW, Partner.EMERGENCY_SERVICES)),
    PlaybookEntry(PlannedAction(ActionKind.VISIT_WITH_RISK_ASSESSMENT, _CUSTOMERS, "3.3.1",
                                Executor.LANDLORD, _DAY)),
    PlaybookEntry(PlannedAction(ActionKind.SAFEGUARDING_ALERT, _ALL, "3.3.1",
                                Executor.REFERRALS, NOW, Partner.ADULT_SOCIAL_SERVICES),
                  relevant=lambda facts: facts.vulnerable_adult),
    PlaybookEntry(PlannedAction(ActionKind.SAFEGUARDING_ALERT, _ALL, "3.3.1",
                                Executor.REFERRALS, NOW, Partner.CHILDRENS_SOCIAL_SERVICES),
                  relevant=lambda facts: facts.children_in_household),
    PlaybookEntry(PlannedAction(ActionKind.HOUSING_OPTIONS_REFERRAL, _CUSTOMERS, "3.3.1",
                                Executor.REFERRALS, _DAY, Partner.HOUSING_OPTIONS)),
    PlaybookEntry(PlannedAction(ActionKind.FEMALE_ONLY_STAFF, _CUSTOMERS, "3.3.1",
                                Executor.LANDLORD, NOW),
                  relevant=lambda facts: facts.female_staff_requested),
    PlaybookEntry(PlannedAction(ActionKind.TARGET_HARDENING, _CUSTOMERS, "3.3.1, 4.2",
                                Executor.LANDLORD, _DAY)),
    PlaybookEntry(PlannedAction(ActionKind.EX_PARTE_INJUNCTION, _CUSTOMERS, "3.3.1",
                                Executor.ENFORCEMENT, _DAY)),
    PlaybookEntry(PlannedAction(ActionKind.FIRE_AUTHORITY_REFERRAL, _ALL, "3.3.1",
                                Executor.REFERRALS, NOW, Partner.FIRE_AUTHORITY),
                  relevant=lambda facts: facts.arson_involved),
)
# fmt: on


def immediate_danger_actions(facts: CaseFacts) -> list[PlannedAction]:
    """The playbook's relevant actions that apply to this survivor (3.3.1)."""
    return [
        entry.action
        for entry in IMMEDIATE_DANGER_PLAYBOOK
        if entry.relevant(facts) and (entry.action.applies_to is _ALL or facts.survivor_is_customer)
    ]


def support_partner(facts: CaseFacts) -> Partner:
    if facts.classification is Classification.HARASSMENT:
        return Partner.SURVIVOR_SUPPORT
    return Partner.STOP_HATE_UK


def secondary_actions(facts: CaseFacts) -> list[PlannedAction]:
    """3.3.2 (and 1.6.2): what follows, or what is done where danger is less immediate."""
    actions = [
        PlannedAction(
            ActionKind.SUPPORT_AND_ADVOCACY_REFERRAL,
            AppliesTo.ALL_REPORTEES,
            "3.3.2",
            Executor.REFERRALS,
            timedelta(days=5),
            support_partner(facts),
        ),
    ]
    if facts.survivor_is_customer and PerpetratorKind.CUSTOMER in facts.perpetrator_kinds:
        actions.append(
            PlannedAction(
                ActionKind.PERPETRATOR_ENFORCEMENT,
                AppliesTo.CUSTOMERS_ONLY,
                "3.3.2, 2.5",
                Executor.ENFORCEMENT,
                timedelta(days=10),
            )
        )
    if facts.capacity_concern:
        actions.append(
            PlannedAction(
                ActionKind.CAPACITY_ASSESSMENT_REQUEST,
                AppliesTo.ALL_REPORTEES,
                "1.6.2",
                Executor.REFERRALS,
                timedelta(days=5),
                Partner.CAPACITY_PRACTITIONER,
            )
        )
    return actions


def plan_actions(facts: CaseFacts) -> list[PlannedAction]:
    """Every action a newly reported case needs."""
    if facts.track is Track.ONLINE_ADVICE_ONLY and not facts.immediate_danger:
        # 3.1: advice only (contact the Police, block); personal communications are
        # not investigated. The advice itself is given by intake.
        return []
    planned = immediate_danger_actions(facts) if facts.immediate_danger else []
    return planned + secondary_actions(facts)
