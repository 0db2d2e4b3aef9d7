"""Intake's rules: classification and routing. Pure functions, no I/O.

A value the vocabulary does not know (``is_recognised``) equals no member, so each
rule below says what it makes of one: the default that protects the survivor.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from hhc_contracts.vocabulary import (
    Classification,
    IncidentCategory,
    PerceivedMotivation,
    PerpetratorKind,
    RelatedPolicy,
    ReporterRole,
    Track,
    is_recognised,
)

# Forms of behaviour in 3.1 that are criminal acts in themselves; a hate incident
# involving one of them is a hate crime.
CRIMINAL_CATEGORIES = frozenset(
    {
        IncidentCategory.PHYSICAL_ATTACK,
        IncidentCategory.THREATS_OF_VIOLENCE,
        IncidentCategory.DAMAGE_TO_PROPERTY,
        IncidentCategory.GRAFFITI,
        IncidentCategory.ARSON,
        IncidentCategory.HOAX_CALLS_ABUSIVE_MESSAGES_HATE_MAIL,
    }
)

# Perpetrators the landlord can act against (1.3, 2.6, 3.2.5).
PERPETRATORS_WITHIN_REACH = frozenset(
    {PerpetratorKind.CUSTOMER, PerpetratorKind.STAFF, PerpetratorKind.ACTING_FOR_LANDLORD}
)


def classify(
    categories: Collection[IncidentCategory], motivation: Collection[PerceivedMotivation]
) -> Classification:
    """3.1.3: any perceived motivation makes a hate incident; with a criminal act, a hate crime.

    An unknown motivation is still a perceived motivation, so still a hate incident (3.1.3
    acts on what the survivor perceives). An unknown category is still harassment (3.1's
    list of forms is "non-exhaustive") but not one of the criminal acts listed above.
    """
    if not motivation:
        return Classification.HARASSMENT
    if CRIMINAL_CATEGORIES.intersection(categories):
        return Classification.HATE_CRIME
    return Classification.HATE_INCIDENT


@dataclass(frozen=True, slots=True)
class RoutingFacts:
    reporter_role: ReporterRole
    survivor_is_customer: bool
    survivor_is_staff: bool
    perpetrator_kinds: frozenset[PerpetratorKind]
    categories: frozenset[IncidentCategory]
    related_policy: RelatedPolicy | None = None
    perceived_motivation: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    track: Track
    clauses: tuple[str, ...]


# People reporting what happened to someone else (3.2.2): the survivor is contacted
# discreetly to confirm (3.2.4) and the reporter gets no feedback (3.2.3).
REPORTING_FOR_SOMEONE_ELSE = frozenset(
    {ReporterRole.THIRD_PARTY, ReporterRole.WITNESS, ReporterRole.PARTNER_AGENCY}
)


def reports_for_someone_else(role: ReporterRole) -> bool:
    """A role the vocabulary does not know counts as reporting for someone else: telling
    them about the case could breach the survivor's privacy (3.2.3), while discreet
    contact still reaches the survivor (3.2.4)."""
    return role in REPORTING_FOR_SOMEONE_ELSE or not is_recognised(role)


def route(facts: RoutingFacts) -> Route:
    """Exactly one track per case, with the clauses that justify it (design.md, routing
    rules). The order of the checks is the precedence between tracks.

    Unknown values fall through to the safe side: an unknown related policy keeps the
    case under this policy rather than passing it on (1.2); an unknown category makes
    the case more than online abuse, so it is acted on, not just advised on (3.1); an
    unknown perpetrator kind is not one the landlord can act against, as if unknown.
    """
    if facts.survivor_is_staff:
        return Route(Track.STAFF_GRIEVANCE, ("4.3",))
    if facts.reporter_role is ReporterRole.ANONYMOUS:
        return Route(Track.ANONYMOUS_VALIDITY_CHECK, ("3.2.5",))
    if facts.related_policy is RelatedPolicy.DOMESTIC_ABUSE or (
        # Only plain anti-social behaviour: perceived hostility makes it a hate incident
        # this policy acts on (3.1.3).
        facts.related_policy is RelatedPolicy.ANTI_SOCIAL_BEHAVIOUR
        and not facts.perceived_motivation
    ):
        return Route(Track.CROSS_REFERRAL, ("1.2",))
    if facts.categories == {IncidentCategory.ONLINE_ABUSE}:
        return Route(Track.ONLINE_ADVICE_ONLY, ("3.1",))
    if facts.survivor_is_customer and reports_for_someone_else(facts.reporter_role):
        return Route(Track.THIRD_PARTY_DISCREET_CONTACT, ("3.2.2", "3.2.3", "3.2.4"))
    if facts.survivor_is_customer:
        return Route(Track.CUSTOMER_CASE, ("3.3",))
    if PERPETRATORS_WITHIN_REACH.intersection(facts.perpetrator_kinds):
        return Route(Track.PERPETRATOR_INVESTIGATION, ("3.2.5", "2.6"))
    return Route(Track.HATE_CRIME_REPORTING_CENTRE, ("3.2.6",))


def reporter_receives_feedback(role: ReporterRole) -> bool:
    """3.2.3: third parties (and anonymous reporters) get no feedback on the case."""
    return not reports_for_someone_else(role) and role is not ReporterRole.ANONYMOUS


def case_reference(year: int, sequence_number: int) -> str:
    return f"HHC-{year}-{sequence_number:06d}"


@dataclass(frozen=True, slots=True)
class TeamAssignment:
    """Which team takes a new case: the longest area prefix configured that the report's
    area starts with (``{"M14": "south", "M": "north"}``), else the default team."""

    by_area: Mapping[str, str]
    default: str

    def team_for(self, area: str | None) -> str:
        if not area:
            return self.default
        wanted = _area_key(area)
        matching = [prefix for prefix in self.by_area if wanted.startswith(_area_key(prefix))]
        if not matching:
            return self.default
        return self.by_area[max(matching, key=lambda prefix: len(_area_key(prefix)))]


def _area_key(area: str) -> str:
    return area.replace(" ", "").upper()
