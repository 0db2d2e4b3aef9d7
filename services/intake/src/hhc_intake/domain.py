"""Intake's rules: classification, routing and consent. Pure functions, no I/O.

A value the vocabulary does not know (``is_recognised``) equals no member, so each
rule below says what it makes of one: the default that protects the survivor.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from hhc_contracts.submission import ReportSubmitted
from hhc_contracts.vocabulary import (
    Classification,
    ConsentGiver,
    ConsentState,
    IncidentCategory,
    PartnerKind,
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


def routing_facts(report: ReportSubmitted) -> RoutingFacts:
    """What routing looks at in a report."""
    return RoutingFacts(
        reporter_role=report.reporter.role,
        survivor_is_customer=report.survivor.is_customer,
        survivor_is_staff=report.survivor.is_staff,
        perpetrator_kinds=frozenset(p.kind for p in report.alleged_perpetrators),
        categories=frozenset(report.incident.categories),
        related_policy=report.incident.related_policy,
        perceived_motivation=bool(report.incident.perceived_motivation),
    )


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


# --- consent to share with partners (3.5.2) -------------------------------------------


def consent_state(share_with_partners: bool | None) -> ConsentState:
    """true: given; false: refused; None: not asked (or not said)."""
    if share_with_partners is None:
        return ConsentState.NOT_ASKED
    return ConsentState.GIVEN if share_with_partners else ConsentState.REFUSED


@dataclass(frozen=True, slots=True)
class ConsentStatement:
    """What was said about consent, with a report or to staff: to partners in general
    (None: nothing said), exceptions for kinds of partner, and who said it."""

    share_with_partners: bool | None = None
    by_partner_kind: Mapping[PartnerKind, bool] = field(default_factory=dict)
    given_by: ConsentGiver | None = None

    @property
    def silent(self) -> bool:
        """Says nothing about consent: neither in general nor for any kind of partner."""
        return self.share_with_partners is None and not self.by_partner_kind


@dataclass(frozen=True, slots=True)
class CaseConsent:
    """A case's consent to share (3.5.2): in general, the kinds of partner for which it
    differs (only those), and who gave or refused it (None while nothing is given or
    refused). Build it with :func:`recorded_consent` or :func:`merge_consent`, which keep
    it in that shape."""

    to_share: ConsentState = ConsentState.NOT_ASKED
    by_partner_kind: Mapping[PartnerKind, ConsentState] = field(default_factory=dict)
    given_by: ConsentGiver | None = None

    def for_kind(self, kind: PartnerKind) -> ConsentState:
        return self.by_partner_kind.get(kind, self.to_share)


NOT_ASKED = CaseConsent()


def may_give_consent(role: ReporterRole) -> bool:
    """3.5.2: information is passed on "with the explicit consent of potential survivors",
    so only the survivor, or someone with authority to act for them, gives or refuses it.
    Of reporters, only the survivor themself can: a witness, a third party, a partner
    agency, staff who saw it, an anonymous reporter, and a role the vocabulary does not
    know cannot, whatever their report says (someone with authority to act for the
    survivor has staff record it, ``given_by`` ``authorised_representative``)."""
    return role is ReporterRole.SURVIVOR


def consent_refusal(role: ReporterRole, statement: ConsentStatement) -> str | None:
    """Why a report's consent cannot be taken (3.5.2), or None when it can: it says
    nothing about consent, or its reporter is the survivor."""
    if statement.silent or may_give_consent(role):
        return None
    return (
        f"a {role.value} reporter cannot give or refuse consent to share: only the survivor, "
        "or someone with authority to act for them, can (3.5.2); leave consent out and "
        "record the survivor's own answer on the case"
    )


def consent_of_report(role: ReporterRole, statement: ConsentStatement) -> ConsentStatement:
    """The consent a report gives the case (3.5.2): nothing from a reporter who is not the
    survivor (:func:`may_give_consent`); from the survivor, what they said, given by them
    unless it says it was someone with authority to act for them."""
    if statement.silent or not may_give_consent(role):
        return ConsentStatement()
    return ConsentStatement(
        share_with_partners=statement.share_with_partners,
        by_partner_kind=statement.by_partner_kind,
        given_by=statement.given_by or ConsentGiver.SURVIVOR,
    )


def recorded_consent(statement: ConsentStatement) -> CaseConsent:
    """The statement on its own as a case's consent (3.5.2): what staff record anew, and
    what a report that answers in general replaces the case's with. Exceptions the same as
    the general answer are dropped; with nothing given or refused, no one gave it."""
    return _consent(
        consent_state(statement.share_with_partners),
        {kind: consent_state(given) for kind, given in statement.by_partner_kind.items()},
        statement.given_by,
    )


def merge_consent(case: CaseConsent, statement: ConsentStatement) -> CaseConsent:
    """The case's consent after a report's (3.5.2: it can change at any time, and only
    what the survivor said changes it):

    - silent (nothing in general, no kind of partner): the case's, exactly as it was;
    - an answer in general: the statement replaces the case's consent, exceptions and all
      (a withdrawal is consent refused after it was given);
    - only kinds of partner: those kinds change, the rest of the case's consent stays.

    The statement is the survivor's to make: pass it through :func:`consent_of_report`.
    """
    if statement.silent:
        return case
    if statement.share_with_partners is not None:
        return recorded_consent(statement)
    changed = {kind: consent_state(given) for kind, given in statement.by_partner_kind.items()}
    return _consent(
        case.to_share, {**case.by_partner_kind, **changed}, statement.given_by or case.given_by
    )


def _consent(
    to_share: ConsentState,
    by_partner_kind: Mapping[PartnerKind, ConsentState],
    given_by: ConsentGiver | None,
) -> CaseConsent:
    exceptions = {kind: state for kind, state in by_partner_kind.items() if state != to_share}
    if to_share == ConsentState.NOT_ASKED and not exceptions:
        given_by = None
    return CaseConsent(to_share, exceptions, given_by)
