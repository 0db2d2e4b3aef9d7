"""Risk's rules: first risk level and the actions a case needs (policy 3.3, 1.6.2).

Pure functions over :class:`CaseFacts`; the tables below read side by side with
the policy's lists. Facts come from events, which may carry values newer than this
vocabulary (``is_recognised``); each rule takes the default that protects the survivor
and plans no step the policy does not name.
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
    PerceivedMotivation,
    PerpetratorKind,
    Track,
    is_recognised,
)
from hhc_risk.assessment import Assessment, answers_from_report, assess

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
    perceived_motivation: frozenset[PerceivedMotivation] = frozenset()
    vulnerable_adult: bool = False
    children_in_household: bool = False
    female_staff_requested: bool = False
    capacity_concern: bool = False
    ongoing: bool = False

    @property
    def perpetrator_known(self) -> bool:
        """An injunction needs someone to be made against; a kind the vocabulary does not
        know says nothing of who they are, as if unknown."""
        return any(
            is_recognised(kind) and kind is not PerpetratorKind.UNKNOWN
            for kind in self.perpetrator_kinds
        )

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


def report_answers(facts: CaseFacts) -> dict[str, bool]:
    """The matrix questions the report itself answers."""
    return answers_from_report(
        categories=facts.categories,
        classification=facts.classification,
        ongoing=facts.ongoing,
        vulnerable_adult=facts.vulnerable_adult,
        children_in_household=facts.children_in_household,
        immediate_danger=facts.immediate_danger,
    )


def first_assessment(facts: CaseFacts) -> Assessment:
    """The automatic first assessment, from what the report says."""
    return assess(report_answers(facts), immediate_danger=facts.immediate_danger)


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
                                Executor.ENFORCEMENT, _DAY),
                  relevant=lambda facts: facts.perpetrator_known),
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


def support_partners(facts: CaseFacts) -> list[Partner]:
    """3.3.2: support and advocacy agencies relevant to the survivor; the Hate Crime
    Reporting Centre refers non-customers to Stop Hate UK for harassment too (3.2.6).

    A classification the vocabulary does not know is not plain harassment: it is taken
    as hate, whose support includes a hate crime agency (3.1.3, 3.3.2)."""
    if facts.classification is Classification.HARASSMENT:
        if not facts.survivor_is_customer:
            return [Partner.SURVIVOR_SUPPORT, Partner.STOP_HATE_UK]
        return [Partner.SURVIVOR_SUPPORT]
    partners = [Partner.STOP_HATE_UK]
    if PerceivedMotivation.RACE in facts.perceived_motivation:
        partners.append(Partner.ANTHONY_WALKER_FOUNDATION)
    return partners


def _action(
    kind: ActionKind,
    clause: str,
    executor: Executor,
    due_in: timedelta,
    partner: Partner | None = None,
    applies_to: AppliesTo = AppliesTo.ALL_REPORTEES,
) -> PlannedAction:
    return PlannedAction(kind, applies_to, clause, executor, due_in, partner)


def secondary_actions(facts: CaseFacts) -> list[PlannedAction]:
    """3.3.2 (and 1.6.2): what follows an immediate response, or is done where the threat
    of immediate harm is less apparent."""
    customer = facts.survivor_is_customer
    actions = [
        _action(
            ActionKind.SUPPORT_AND_ADVOCACY_REFERRAL,
            "3.3.2",
            Executor.REFERRALS,
            timedelta(days=5),
            partner,
        )
        for partner in support_partners(facts)
    ]
    if customer and facts.immediate_danger:
        actions.append(
            _action(
                ActionKind.REHOUSING_EVIDENCE,
                "3.3.2, 3.4",
                Executor.LANDLORD,
                timedelta(days=10),
                applies_to=AppliesTo.CUSTOMERS_ONLY,
            )
        )
        actions.append(
            _action(
                ActionKind.REHOUSING_ADVICE,
                "3.3.2",
                Executor.LANDLORD,
                timedelta(days=5),
                applies_to=AppliesTo.CUSTOMERS_ONLY,
            )
        )
    if customer and PerpetratorKind.CUSTOMER in facts.perpetrator_kinds:
        actions.append(
            _action(
                ActionKind.PERPETRATOR_ENFORCEMENT,
                "3.3.2, 2.5",
                Executor.ENFORCEMENT,
                timedelta(days=10),
                applies_to=AppliesTo.CUSTOMERS_ONLY,
            )
        )
    if customer and facts.vulnerable_adult:
        actions.append(
            _action(
                ActionKind.INDEPENDENT_LIVING_REFERRAL,
                "3.3.2",
                Executor.REFERRALS,
                timedelta(days=5),
                Partner.INDEPENDENT_LIVING_SERVICE,
                applies_to=AppliesTo.CUSTOMERS_ONLY,
            )
        )
    if not customer and facts.classification is Classification.HATE_CRIME:
        # 3.2.6: the Hate Crime Reporting Centre contacts the Police where appropriate;
        # an unknown classification is not known to be a crime, so no referral is made
        # for it (the Police are still informed in immediate danger, 3.3.1).
        actions.append(
            _action(
                ActionKind.POLICE_REFERRAL,
                "3.2.6",
                Executor.REFERRALS,
                timedelta(days=1),
                Partner.POLICE,
            )
        )
    if facts.capacity_concern:
        actions.append(
            _action(
                ActionKind.CAPACITY_ASSESSMENT_REQUEST,
                "1.6.2",
                Executor.REFERRALS,
                timedelta(days=5),
                Partner.CAPACITY_PRACTITIONER,
            )
        )
    return actions


def _first_step_of_track(facts: CaseFacts) -> list[PlannedAction]:
    """What the track asks for before (or instead of) the customer process."""
    soon = timedelta(hours=24) if facts.immediate_danger else timedelta(days=3)
    # Advice is given within a working day, and at once to someone in immediate danger:
    # it is what they are told to do to be safe while emergency services are informed.
    advise_within = NOW if facts.immediate_danger else timedelta(hours=24)
    if not facts.immediate_danger and (
        facts.track is Track.CUSTOMER_CASE or not is_recognised(facts.track)
    ):
        # 3.3.2 "working with the survivors": a member of staff contacts the survivor
        # with advice and support and agrees what happens next. Without it a case
        # whose survivor refuses every referral would never be responded to (5.2).
        # In immediate danger the visit of 3.3.1 is that contact. A track the vocabulary
        # does not know is a customer case here too (``supported_at_once``).
        return [_action(ActionKind.GIVE_ADVICE, "3.3.2, 5.2", Executor.LANDLORD, soon)]
    match facts.track:
        case Track.ONLINE_ADVICE_ONLY:
            # 3.1: advice only, to contact the Police or block communications; the
            # personal communications themselves are not investigated.
            return [_action(ActionKind.GIVE_ADVICE, "3.1", Executor.LANDLORD, advise_within)]
        case Track.HATE_CRIME_REPORTING_CENTRE:
            # 3.2.6: the Reporting Centre advises, then refers (secondary_actions).
            return [_action(ActionKind.GIVE_ADVICE, "3.2.6", Executor.LANDLORD, advise_within)]
        case Track.STAFF_GRIEVANCE:
            return [_action(ActionKind.REFER_TO_LINE_MANAGER, "4.3", Executor.LANDLORD, soon)]
        case Track.THIRD_PARTY_DISCREET_CONTACT:
            return [_action(ActionKind.DISCREET_CONTACT, "3.2.4", Executor.LANDLORD, soon)]
        case Track.ANONYMOUS_VALIDITY_CHECK:
            return [
                _action(
                    ActionKind.VALIDITY_INVESTIGATION, "3.2.5", Executor.LANDLORD, timedelta(days=5)
                )
            ]
        case Track.PERPETRATOR_INVESTIGATION:
            return [
                _action(
                    ActionKind.PERPETRATOR_ENFORCEMENT,
                    "3.2.5, 2.6",
                    Executor.ENFORCEMENT,
                    timedelta(days=5),
                )
            ]
        case Track.CROSS_REFERRAL:
            return [
                _action(
                    ActionKind.POLICY_CROSS_REFERRAL, "1.2", Executor.LANDLORD, timedelta(days=1)
                )
            ]
        case _:
            return []


# Tracks whose survivor gets the support of 3.3.2 straight away; the others first
# confirm the concern (3.2.4, 3.2.5), take the staff route (4.3), or give advice (3.1).
_SUPPORTED_AT_ONCE = frozenset(
    {Track.CUSTOMER_CASE, Track.HATE_CRIME_REPORTING_CENTRE, Track.PERPETRATOR_INVESTIGATION}
)


def supported_at_once(track: Track) -> bool:
    """A track the vocabulary does not know gets the support of 3.3.2 straight away, as a
    customer case does: protecting and supporting survivors comes first (1.4), and what
    is shared with partners still waits for consent (3.5.2). It gets no first step of its
    own (``_first_step_of_track``), which would be a step the policy does not name: only a
    customer case's first contact."""
    return track in _SUPPORTED_AT_ONCE or not is_recognised(track)


def plan_actions(facts: CaseFacts) -> list[PlannedAction]:
    """Every action a newly reported case needs: the playbook when someone is in immediate
    danger, whatever the track, then what the track asks for."""
    planned = immediate_danger_actions(facts) if facts.immediate_danger else []
    planned += _first_step_of_track(facts)
    if supported_at_once(facts.track):
        planned += secondary_actions(facts)
    return planned


def not_yet_planned(
    planned: list[PlannedAction], had: set[tuple[ActionKind, Partner | None]]
) -> list[PlannedAction]:
    """What a case moved to a new track (3.2.4, 3.2.5) still needs: the new track's plan
    less every action (by kind and partner) the case already has open or done."""
    return [action for action in planned if (action.kind, action.partner) not in had]
