"""The escalation ladder: which enforcement step may be taken next, by whom, on what
evidence (policy 1.3, 2.5, 2.6, 3.2.5, 3.3.1, 3.3.2, 4.2, 4.3). Pure: no I/O.

Who the alleged perpetrator is decides the route (2.6, 1.3):

==========================  ===================  ==========================================
perpetrator                 route                what enforcement does
==========================  ===================  ==========================================
customer                    tenancy enforcement  the ladder below (2.6, 3.3.2, 4.2)
not a customer, or unknown  police and civil     referral to the Police; civil remedies
                                                 where available; no tenancy steps (2.6)
acting for the landlord     contract management  referral to the contract owner, whose
(contractor, agent)                              outcome is recorded (1.3)
staff                       staff disciplinary   handed to People and Learning; enforcement
                                                 records its milestones only (2.6, 4.3)
==========================  ===================  ==========================================

Every step (``STEP_RULES``) needs the evidence 2.5 asks for, graduated: advice on some
evidence, warnings and agreements on substantial evidence, anything before a court on
strong evidence (``hhc_enforcement.evidence``). A legal officer or a manager decides
(4.2), two different people for a notice of seeking possession and a possession claim;
every decision records who decided, why, when, the evidence it stood on, and when it is
next reviewed.

The tenancy ladder has rungs, lowest first: advice or verbal warning (1), written
warning (2), acceptable behaviour agreement (3), injunction (4), notice of seeking
possession (5), possession claim (6). A step may be taken at most one rung above the
highest reached so far: a step may be repeated, or the ladder come back down, without
more. Going higher skips rungs, which needs a recorded reason; going straight to an
injunction or to possession, before any other step, needs serious hate crime as well.
Besides the rungs:

- an ex parte injunction is for immediate danger or risk of harm (3.3.1), at any time,
  without a skip; its target is 24 hours from the report; it counts as rung 4;
- an outcome (order granted, suspended, dismissed) records what the court did with a
  possession claim awaiting one; an outright order ends the ladder;
- a breach follows an order or an agreement (an acceptable behaviour agreement, an
  injunction, a possession order).

Outcomes and breaches are never skipped to.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from hhc_chassis.access import Role
from hhc_contracts.vocabulary import (
    Classification,
    EnforcementRoute,
    EnforcementStep,
    EvidenceLevel,
    PerpetratorKind,
    Track,
    is_recognised,
)
from hhc_enforcement.evidence import EvidenceItem, meets, missing_for, rate

ROUTE_FOR_PERPETRATOR: Mapping[PerpetratorKind, EnforcementRoute] = {
    PerpetratorKind.CUSTOMER: EnforcementRoute.TENANCY_ENFORCEMENT,
    PerpetratorKind.NOT_CUSTOMER: EnforcementRoute.POLICE_AND_CIVIL,
    PerpetratorKind.UNKNOWN: EnforcementRoute.POLICE_AND_CIVIL,
    PerpetratorKind.ACTING_FOR_LANDLORD: EnforcementRoute.CONTRACT_MANAGEMENT,
    PerpetratorKind.STAFF: EnforcementRoute.STAFF_DISCIPLINARY,
}


def route_for(kind: PerpetratorKind) -> EnforcementRoute | None:
    """The route for ``kind``; none for a kind this vocabulary does not know (2.5: no
    enforcement without knowing whom it is against)."""
    return ROUTE_FOR_PERPETRATOR.get(kind) if is_recognised(kind) else None


def routes_for(kinds: Iterable[PerpetratorKind]) -> dict[EnforcementRoute, PerpetratorKind]:
    """One route per kind of alleged perpetrator, with the first kind that called for it."""
    routes: dict[EnforcementRoute, PerpetratorKind] = {}
    for kind in kinds:
        route = route_for(kind)
        if route is not None:
            routes.setdefault(route, kind)
    return routes


@dataclass(frozen=True, slots=True)
class StepRule:
    route: EnforcementRoute
    evidence: EvidenceLevel
    """The least the evidence log must reach (2.5)."""
    decided_by: frozenset[Role]
    """Roles any one of which a decider must hold."""
    deciders: int
    """How many different people must decide."""
    review_after: timedelta | None
    """When the case is next reviewed after the step; None: the route has ended."""
    clause: str
    rung: int | None = None
    """Its place on the tenancy ladder (module docstring)."""
    target: timedelta | None = None
    """How soon after the report the step is due."""


_LEGAL = frozenset({Role.LEGAL_OFFICER, Role.MANAGER})
_MANAGER = frozenset({Role.MANAGER})
_P_AND_L = frozenset({Role.PEOPLE_AND_LEARNING})
_DAY = timedelta(hours=24)
_1_WEEK = timedelta(days=7)
_2_WEEKS = timedelta(days=14)
_4_WEEKS = timedelta(days=28)

_T = EnforcementRoute.TENANCY_ENFORCEMENT
_P = EnforcementRoute.POLICE_AND_CIVIL
_C = EnforcementRoute.CONTRACT_MANAGEMENT
_S = EnforcementRoute.STAFF_DISCIPLINARY
_NONE = EvidenceLevel.NONE
_SOME = EvidenceLevel.SOME
_SUBSTANTIAL = EvidenceLevel.SUBSTANTIAL
_STRONG = EvidenceLevel.STRONG

# fmt: off
STEP_RULES: Mapping[EnforcementStep, StepRule] = {
    # step:
    #   route, evidence, decided by, how many people, review after, clause, rung, target
    EnforcementStep.ADVICE_OR_VERBAL_WARNING: StepRule(
        _T, _SOME,        _LEGAL,   1, _4_WEEKS, "2.5, 2.6, 3.3.2",      rung=1),
    EnforcementStep.WRITTEN_WARNING: StepRule(
        _T, _SUBSTANTIAL, _LEGAL,   1, _4_WEEKS, "2.5, 2.6, 3.3.2",      rung=2),
    EnforcementStep.ACCEPTABLE_BEHAVIOUR_AGREEMENT: StepRule(
        _T, _SUBSTANTIAL, _LEGAL,   1, _4_WEEKS, "2.5, 2.6, 3.3.2",      rung=3),
    EnforcementStep.INJUNCTION: StepRule(
        _T, _STRONG,      _LEGAL,   1, _4_WEEKS, "2.5, 2.6, 3.3.2, 4.2", rung=4),
    EnforcementStep.EX_PARTE_INJUNCTION: StepRule(
        _T, _STRONG,      _LEGAL,   1, _1_WEEK,  "2.5, 3.3.1, 4.2",      rung=4, target=_DAY),
    EnforcementStep.NOTICE_OF_SEEKING_POSSESSION: StepRule(
        _T, _STRONG,      _LEGAL,   2, _4_WEEKS, "2.5, 2.6, 3.3.2, 4.2", rung=5),
    EnforcementStep.POSSESSION_CLAIM: StepRule(
        _T, _STRONG,      _LEGAL,   2, _4_WEEKS, "2.5, 2.6, 3.3.2, 4.2", rung=6),
    EnforcementStep.OUTCOME_ORDER_GRANTED: StepRule(
        _T, _NONE,        _LEGAL,   1, _4_WEEKS, "2.6, 4.2"),
    EnforcementStep.OUTCOME_SUSPENDED: StepRule(
        _T, _NONE,        _LEGAL,   1, _4_WEEKS, "2.6, 4.2"),
    EnforcementStep.OUTCOME_DISMISSED: StepRule(
        _T, _NONE,        _LEGAL,   1, _4_WEEKS, "2.6, 4.2"),
    EnforcementStep.BREACH_REPORTED: StepRule(
        _T, _SOME,        _LEGAL,   1, _1_WEEK,  "2.6, 4.2"),
    EnforcementStep.POLICE_REFERRAL: StepRule(
        _P, _SOME,        _LEGAL,   1, _2_WEEKS, "1.4, 2.6"),
    EnforcementStep.CIVIL_REMEDY: StepRule(
        _P, _STRONG,      _LEGAL,   1, _4_WEEKS, "2.5, 2.6"),
    EnforcementStep.CONTRACT_MANAGEMENT_REFERRAL: StepRule(
        _C, _SOME,        _MANAGER, 1, _2_WEEKS, "1.3, 2.5"),
    EnforcementStep.CONTRACT_OUTCOME: StepRule(
        _C, _NONE,        _MANAGER, 1, None,     "1.3"),
    EnforcementStep.DISCIPLINARY_HANDED_OVER: StepRule(
        _S, _SOME,        _MANAGER, 1, _4_WEEKS, "2.6, 4.3"),
    EnforcementStep.DISCIPLINARY_MILESTONE: StepRule(
        _S, _NONE,        _P_AND_L, 1, _4_WEEKS, "2.6, 4.3"),
    EnforcementStep.DISCIPLINARY_CONCLUDED: StepRule(
        _S, _NONE,        _P_AND_L, 1, None,     "2.6, 4.3"),
}
# fmt: on

STEPS_OF_ROUTE: Mapping[EnforcementRoute, tuple[EnforcementStep, ...]] = {
    route: tuple(step for step, rule in STEP_RULES.items() if rule.route is route)
    for route in EnforcementRoute
}

RUNGS: Mapping[int, EnforcementStep] = {
    rule.rung: step
    for step, rule in STEP_RULES.items()
    if rule.rung is not None and step is not EnforcementStep.EX_PARTE_INJUNCTION
}
"""The step each rung names (an ex parte injunction is a kind of rung 4, never skipped)."""

STRAIGHT_TO_COURT = STEP_RULES[EnforcementStep.INJUNCTION].rung or 0
"""Going straight to this rung or above needs serious hate crime (module docstring)."""

OUTCOMES: frozenset[EnforcementStep] = frozenset(
    {
        EnforcementStep.OUTCOME_ORDER_GRANTED,
        EnforcementStep.OUTCOME_SUSPENDED,
        EnforcementStep.OUTCOME_DISMISSED,
    }
)
ORDERS_AND_AGREEMENTS: frozenset[EnforcementStep] = frozenset(
    {
        EnforcementStep.ACCEPTABLE_BEHAVIOUR_AGREEMENT,
        EnforcementStep.INJUNCTION,
        EnforcementStep.EX_PARTE_INJUNCTION,
        EnforcementStep.OUTCOME_ORDER_GRANTED,
        EnforcementStep.OUTCOME_SUSPENDED,
    }
)
"""What a breach can be of."""


class RefusalCode(StrEnum):
    """Why a step was refused; the HTTP answer each suggests is in its docstring."""

    STEP_NOT_ON_ROUTE = "step-not-on-route"
    """422: the step belongs to another route (no tenancy steps against staff, say)."""
    REASON_NEEDED = "reason-needed"
    """422: every decision records why."""
    DECIDER_ROLE = "decider-role"
    """403: a decider lacks a role that may decide the step."""
    DECIDER_NEEDED = "decider-needed"
    """422: nobody decided."""
    SECOND_DECIDER_NEEDED = "second-decider-needed"
    """422: the step needs two different people (notice, possession)."""
    STEP_NOT_ALLOWED_NOW = "step-not-allowed-now"
    """409: not at this point of the case's history."""
    IMMEDIATE_DANGER_ONLY = "immediate-danger-only"
    """409: an ex parte injunction is for immediate danger (3.3.1)."""
    SKIP_NEEDS_REASON = "skip-needs-reason"
    """422: rungs are skipped only with a recorded reason."""
    SKIP_NEEDS_SERIOUS_HATE_CRIME = "skip-needs-serious-hate-crime"
    """422: straight to an injunction or to possession only for serious hate crime."""
    EVIDENCE_MISSING = "evidence-missing"
    """422: the evidence log does not reach the step's threshold; ``missing`` says why."""


@dataclass(frozen=True, slots=True)
class Refusal:
    code: RefusalCode
    message: str
    missing: tuple[str, ...] = ()
    """For ``evidence-missing``: what evidence is missing, in words."""


@dataclass(frozen=True, slots=True)
class Decider:
    """Someone deciding a step: their subject and roles, as their token gives them."""

    subject: str
    roles: frozenset[Role]


@dataclass(frozen=True, slots=True)
class Proposal:
    """A step someone asks to take."""

    route: EnforcementRoute
    step: EnforcementStep
    reason: str
    """Why: recorded with the decision."""
    deciders: tuple[Decider, ...]
    skip_reason: str | None = None
    """Why rungs are skipped, when the step is more than one rung up."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A step decided: who, why, when, on what evidence, and what follows."""

    route: EnforcementRoute
    step: EnforcementStep
    clause: str
    decided_by: tuple[str, ...]
    reason: str
    decided_at: datetime
    evidence_level: EvidenceLevel
    review_at: datetime | None
    """None: the route has ended (``StepRule.review_after``)."""
    skipped: tuple[EnforcementStep, ...] = ()
    skip_reason: str | None = None
    target_at: datetime | None = None
    """When the step was due (an ex parte injunction: 24 hours from the report)."""
    within_target: bool | None = None


def _a(step: EnforcementStep) -> str:
    """The step in words, with its article: "an injunction", "a written warning"."""
    words = step.value.replace("_", " ")
    return f"an {words}" if words[0] in "aeiou" else f"a {words}"


@dataclass(frozen=True, slots=True)
class _Skip:
    """The step is further up the ladder than the next rung."""

    skipped: tuple[EnforcementStep, ...]
    straight: bool
    """Nothing was done before: straight to the step."""


_NOW = _Skip((), straight=False)


@dataclass(frozen=True, slots=True)
class _Tenancy:
    """Where a tenancy case stands, from its history."""

    reached: int
    claim_pending: bool
    order_or_agreement: bool
    ended: bool


def _tenancy(history: Sequence[EnforcementStep]) -> _Tenancy:
    reached, claim_pending, order_or_agreement, ended = 0, False, False, False
    for step in history:
        rule = STEP_RULES.get(step)
        reached = max(reached, (rule.rung if rule else None) or 0)
        if step is EnforcementStep.POSSESSION_CLAIM:
            claim_pending = True
        if step in OUTCOMES:
            claim_pending = False
        order_or_agreement = order_or_agreement or step in ORDERS_AND_AGREEMENTS
        ended = ended or step is EnforcementStep.OUTCOME_ORDER_GRANTED
    return _Tenancy(reached, claim_pending, order_or_agreement, ended)


def _not_now(message: str) -> Refusal:
    return Refusal(RefusalCode.STEP_NOT_ALLOWED_NOW, message)


def _tenancy_place(
    step: EnforcementStep, history: Sequence[EnforcementStep], *, immediate_danger: bool
) -> _Skip | Refusal:
    case = _tenancy(history)
    if step is EnforcementStep.EX_PARTE_INJUNCTION:
        if immediate_danger:
            return _NOW
        return Refusal(
            RefusalCode.IMMEDIATE_DANGER_ONLY,
            "an ex parte injunction is applied for when someone is in immediate danger or "
            "risk of harm (3.3.1)",
        )
    if step is EnforcementStep.BREACH_REPORTED:
        if case.order_or_agreement:
            return _NOW
        return _not_now("a breach needs an agreement or an order to breach")
    if case.ended:
        return _not_now("an outright possession order ended the ladder: only a breach may follow")
    if step in OUTCOMES:
        if case.claim_pending:
            return _NOW
        return _not_now("an outcome needs a possession claim awaiting one")
    if step is EnforcementStep.POSSESSION_CLAIM and case.claim_pending:
        return _not_now("a possession claim already awaits its outcome")
    rung = STEP_RULES[step].rung or 0
    if rung <= case.reached + 1:
        return _NOW
    skipped = tuple(RUNGS[passed] for passed in range(case.reached + 1, rung))
    return _Skip(skipped, straight=case.reached == 0)


def _not_on_route(route: EnforcementRoute, step: EnforcementStep) -> Refusal:
    return Refusal(
        RefusalCode.STEP_NOT_ON_ROUTE,
        f"{_a(step)} is not a step of {route.value.replace('_', ' ')}",
    )


def _place(
    route: EnforcementRoute,
    step: EnforcementStep,
    history: Sequence[EnforcementStep],
    *,
    immediate_danger: bool,
) -> _Skip | Refusal:
    """Whether ``step`` may follow ``history`` on ``route``, and what it would skip."""
    rule = STEP_RULES.get(step)
    if rule is None or rule.route is not route:
        return _not_on_route(route, step)
    match route:
        case EnforcementRoute.TENANCY_ENFORCEMENT:
            return _tenancy_place(step, history, immediate_danger=immediate_danger)
        case EnforcementRoute.POLICE_AND_CIVIL:
            return _NOW
        case EnforcementRoute.CONTRACT_MANAGEMENT:
            if (
                step is EnforcementStep.CONTRACT_OUTCOME
                and EnforcementStep.CONTRACT_MANAGEMENT_REFERRAL not in history
            ):
                return _not_now("an outcome needs a referral to the contract owner first")
            return _NOW
        case EnforcementRoute.STAFF_DISCIPLINARY:
            handed_over = EnforcementStep.DISCIPLINARY_HANDED_OVER in history
            if EnforcementStep.DISCIPLINARY_CONCLUDED in history:
                return _not_now("the disciplinary process has concluded")
            if step is EnforcementStep.DISCIPLINARY_HANDED_OVER and handed_over:
                return _not_now("the case is already with People and Learning")
            if step is not EnforcementStep.DISCIPLINARY_HANDED_OVER and not handed_over:
                return _not_now(
                    "People and Learning report milestones once the case is handed over"
                )
            return _NOW


def allowed_next(
    route: EnforcementRoute, history: Sequence[EnforcementStep], *, immediate_danger: bool = False
) -> frozenset[EnforcementStep]:
    """The steps ``route`` may take after ``history`` without skipping a rung."""
    return frozenset(
        step
        for step in STEPS_OF_ROUTE.get(route, ())
        if _place(route, step, history, immediate_danger=immediate_danger) == _NOW
    )


def _deciders_refusal(step: EnforcementStep, deciders: Sequence[Decider]) -> Refusal | None:
    rule = STEP_RULES[step]
    roles = " or ".join(sorted(role.value.replace("_", " ") for role in rule.decided_by))
    for decider in deciders:
        if not decider.roles & rule.decided_by:
            return Refusal(
                RefusalCode.DECIDER_ROLE,
                f"{decider.subject} may not decide {_a(step)}: it needs a {roles}",
            )
    people = {decider.subject.strip() for decider in deciders} - {""}
    if not people:
        return Refusal(RefusalCode.DECIDER_NEEDED, f"{_a(step)} needs a {roles} to decide")
    if len(people) < rule.deciders:
        return Refusal(
            RefusalCode.SECOND_DECIDER_NEEDED,
            f"{_a(step)} needs {rule.deciders} different people to decide it",
        )
    return None


def decide(
    proposal: Proposal,
    history: Sequence[EnforcementStep],
    *,
    evidence: Collection[EvidenceItem],
    immediate_danger: bool,
    serious_hate_crime: bool,
    reported_at: datetime,
    now: datetime,
) -> Decision | Refusal:
    """Take ``proposal`` after ``history`` (the case's steps so far, oldest first), or say
    why not. Checked in this order: the route, the reason, the deciders, the step's place
    on the ladder (and any skip), the evidence (2.5)."""
    step, rule = proposal.step, STEP_RULES.get(proposal.step)
    if rule is None or rule.route is not proposal.route:
        return _not_on_route(proposal.route, step)
    reason = proposal.reason.strip()
    if not reason:
        return Refusal(RefusalCode.REASON_NEEDED, "a decision records why it was taken")
    deciders = proposal.deciders
    refusal = _deciders_refusal(step, deciders)
    if refusal is not None:
        return refusal
    place = _place(proposal.route, step, history, immediate_danger=immediate_danger)
    if isinstance(place, Refusal):
        return place
    skip_reason = (proposal.skip_reason or "").strip()
    if place.skipped:
        passed = ", ".join(skipped.value.replace("_", " ") for skipped in place.skipped)
        if not skip_reason:
            return Refusal(
                RefusalCode.SKIP_NEEDS_REASON,
                f"{_a(step)} now skips {passed}: record why",
            )
        if place.straight and (rule.rung or 0) >= STRAIGHT_TO_COURT and not serious_hate_crime:
            return Refusal(
                RefusalCode.SKIP_NEEDS_SERIOUS_HATE_CRIME,
                f"going straight to {_a(step)} is for serious hate crime",
            )
    level = rate(evidence)
    if not meets(level, rule.evidence):
        return Refusal(
            RefusalCode.EVIDENCE_MISSING,
            f"{_a(step)} needs {rule.evidence.value} evidence; the log holds {level.value} (2.5)",
            tuple(missing_for(rule.evidence, evidence)),
        )
    target_at = reported_at + rule.target if rule.target else None
    return Decision(
        route=proposal.route,
        step=step,
        clause=rule.clause,
        decided_by=tuple(who for who in dict.fromkeys(d.subject.strip() for d in deciders) if who),
        reason=reason,
        decided_at=now,
        evidence_level=level,
        review_at=now + rule.review_after if rule.review_after else None,
        skipped=place.skipped,
        skip_reason=skip_reason if place.skipped else None,
        target_at=target_at,
        within_target=now <= target_at if target_at else None,
    )


# Item 5: an enforcement record only where the policy says.

NO_ENFORCEMENT: Mapping[Track, str] = {
    Track.ONLINE_ADVICE_ONLY: "3.1: advice only; personal communications are not investigated",
    Track.CROSS_REFERRAL: "1.2: the report belongs to another policy",
    Track.HATE_CRIME_REPORTING_CENTRE: "3.2.6: advice and referrals for non-customers",
}


def opens_enforcement(
    *,
    track: Track,
    classification: Classification,
    perpetrator_kinds: Iterable[PerpetratorKind],
    validity_confirmed: bool = False,
) -> bool:
    """Whether a report opens an enforcement record.

    Never for online abuse only (3.1), a report cross-referred to another policy (1.2),
    or the Hate Crime Reporting Centre (3.2.6). An anonymous report only once its
    validity investigation has found it valid (3.2.5). Otherwise, when someone is named
    whom a route is for (``route_for``). A concern about a customer (3.2.5) opens one at
    once: the record holds the investigation, and no step is taken without evidence.
    A track or classification this vocabulary does not know opens none (2.5)."""
    if not is_recognised(track) or not is_recognised(classification):
        return False
    if track in NO_ENFORCEMENT:
        return False
    if track is Track.ANONYMOUS_VALIDITY_CHECK and not validity_confirmed:
        return False
    return bool(routes_for(perpetrator_kinds))


@dataclass(frozen=True, slots=True)
class Perpetrator:
    kind: PerpetratorKind
    reference: str | None = None
    """The landlord's own reference for them: a tenancy reference, an employee number, a
    contract reference. None while they are not identified."""


@dataclass(frozen=True, slots=True)
class OpenCase:
    """An enforcement case not yet closed."""

    enforcement_case_id: UUID
    case_id: UUID
    route: EnforcementRoute
    perpetrator: Perpetrator


def reference_key(perpetrator: Perpetrator) -> str | None:
    """Their reference as compared: spacing and case ignored; None while not identified."""
    return " ".join((perpetrator.reference or "").split()).casefold() or None


def same_perpetrator(a: Perpetrator, b: Perpetrator) -> bool:
    """Both identified, on the same route, by the same reference."""
    route = route_for(a.kind)
    reference = reference_key(a)
    return (
        route is not None
        and route is route_for(b.kind)
        and reference is not None
        and reference == reference_key(b)
    )


def case_to_join(
    perpetrator: Perpetrator, *, case_id: UUID, open_cases: Iterable[OpenCase]
) -> UUID | None:
    """The open enforcement case a further report about ``perpetrator`` adds to, or None
    to open one (issue 11, item 5): the same perpetrator's, from any case; else, when one
    of the two is not identified, the same case's on the same route."""
    cases = tuple(open_cases)
    for case in cases:
        if same_perpetrator(case.perpetrator, perpetrator):
            return case.enforcement_case_id
    route = route_for(perpetrator.kind)
    for case in cases:
        unidentified = reference_key(perpetrator) is None or reference_key(case.perpetrator) is None
        if case.case_id == case_id and case.route is route and unidentified:
            return case.enforcement_case_id
    return None
