"""Enforcement's service rules beside the ladder (policy 2.5, 3.2.5, 3.3.1, 3.3.2). Pure:
no I/O.

- **A decision is not a deed.** Risk asks enforcement for an ex parte injunction (3.3.1)
  or for enforcement against a customer perpetrator (3.3.2). Enforcement answers such an
  action only when a named member of staff records a step that answers it as taken
  (``ANSWERED_BY``); until then it stays open at risk, which escalates it when it is due.
- **Only where policy says** (``admission``): an enforcement record opens for a report
  the ladder says opens one (``ladder.opens_enforcement``); an anonymous report's
  perpetrators wait, with no enforcement case, until its validity investigation finds it
  valid (3.2.5).
- **The same person, not another record** (``namings``): a further report naming a kind
  of perpetrator the case already has names that perpetrator again; a report giving the
  kind of a perpetrator known until then as "unknown" tells what kind they are.
- **Two people for notice and possession** (``check_proposal``): a proposal waits for its
  second decider only when nothing else stands in its way; a step the ladder refuses for
  its place or its evidence is refused when it is proposed.

A value the vocabulary does not know leads to no enforcement (2.5): an unknown action
kind is no request, an unknown track or kind admits none.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from hhc_contracts.vocabulary import (
    ActionKind,
    Classification,
    EnforcementRoute,
    EnforcementStep,
    Executor,
    PerpetratorKind,
    Track,
)
from hhc_enforcement.evidence import EvidenceItem
from hhc_enforcement.ladder import (
    STEP_RULES,
    Decider,
    Decision,
    Proposal,
    Refusal,
    decide,
    opens_enforcement,
    route_for,
)

TENANCY_RUNGS: frozenset[EnforcementStep] = frozenset(
    step
    for step, rule in STEP_RULES.items()
    if rule.route is EnforcementRoute.TENANCY_ENFORCEMENT and rule.rung is not None
)
"""The steps of the tenancy ladder a case can begin with (an ex parte injunction too)."""

ANSWERED_BY: Mapping[ActionKind, frozenset[EnforcementStep]] = {
    # 3.3.1: the ex parte injunction applied for, nothing less. Against someone who is not
    # the landlord's customer there is no tenancy to act on: the injunction is a civil
    # remedy, sought on the police-and-civil route ("(PCHA customers only)" in 3.3.1 is
    # about the survivor, not the perpetrator).
    ActionKind.EX_PARTE_INJUNCTION: frozenset(
        {EnforcementStep.EX_PARTE_INJUNCTION, EnforcementStep.CIVIL_REMEDY}
    ),
    # 3.3.2, 2.5: enforcement against a customer perpetrator began: the first step of the
    # tenancy ladder taken, whichever the evidence allowed.
    ActionKind.PERPETRATOR_ENFORCEMENT: TENANCY_RUNGS,
}
"""Which steps, once recorded as taken, answer each action risk asks enforcement for."""


def routes_answering(kind: ActionKind) -> frozenset[EnforcementRoute]:
    """The routes with a step that answers ``kind``: a request waits for an enforcement
    case on one of them (the tenancy route first, where the perpetrator is a customer)."""
    return frozenset(STEP_RULES[step].route for step in ANSWERED_BY.get(kind, frozenset()))


def is_request(kind: ActionKind, carried_out_by: Executor) -> bool:
    """Whether a risk action is one enforcement answers: carried out by enforcement, of a
    kind it knows a step for (any other stays open at risk and is escalated there)."""
    return carried_out_by is Executor.ENFORCEMENT and kind in ANSWERED_BY


def answers(kind: ActionKind, step: EnforcementStep) -> bool:
    """Whether ``step``, taken, answers a request of ``kind``."""
    return step in ANSWERED_BY.get(kind, frozenset())


class Admission(StrEnum):
    """What a report (or a case) allows for its alleged perpetrators."""

    OPEN = "open"
    """An enforcement case acts for them."""
    AWAITS_VALIDITY = "awaits_validity"
    """They are recorded; nothing opens until the report is found valid (3.2.5)."""
    NONE = "none"
    """No enforcement: advice only (3.1), another policy (1.2), the Reporting Centre
    (3.2.6), nobody a route is for, or a value this vocabulary does not know."""


def admission(
    *,
    track: Track,
    classification: Classification,
    perpetrator_kinds: Collection[PerpetratorKind],
    validity_confirmed: bool,
) -> Admission:
    """What a report on ``track`` allows for ``perpetrator_kinds``."""

    def opens(validity_confirmed: bool) -> bool:
        return opens_enforcement(
            track=track,
            classification=classification,
            perpetrator_kinds=perpetrator_kinds,
            validity_confirmed=validity_confirmed,
        )

    if opens(validity_confirmed):
        return Admission.OPEN
    if track is Track.ANONYMOUS_VALIDITY_CHECK and opens(True):
        return Admission.AWAITS_VALIDITY
    return Admission.NONE


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What enforcement keeps of a report."""

    received_at: datetime
    track: Track
    classification: Classification
    immediate_danger: bool


def case_admission(
    reports: Iterable[ReportFacts],
    perpetrator_kinds: Collection[PerpetratorKind],
    *,
    validity_confirmed: bool,
) -> Admission:
    """What a case allows for perpetrators staff record on it: the most any of its
    reports allows. A case none of whose reports enforcement kept (reported before it
    kept them) allows enforcement: staff record what they know."""
    found = {
        admission(
            track=report.track,
            classification=report.classification,
            perpetrator_kinds=perpetrator_kinds,
            validity_confirmed=validity_confirmed,
        )
        for report in reports
    }
    if not found or Admission.OPEN in found:
        return Admission.OPEN
    if Admission.AWAITS_VALIDITY in found:
        return Admission.AWAITS_VALIDITY
    return Admission.NONE


def awaits_validity(reports: Iterable[ReportFacts]) -> bool:
    """Whether any report of the case is anonymous, so that its validity is investigated
    before enforcement (3.2.5)."""
    return any(report.track is Track.ANONYMOUS_VALIDITY_CHECK for report in reports)


@dataclass(frozen=True, slots=True)
class Known:
    """An alleged perpetrator the case already has."""

    perpetrator_id: UUID
    kind: PerpetratorKind


@dataclass(frozen=True, slots=True)
class Naming:
    """Whom a report names, for one alleged perpetrator of a kind a route is for."""

    kind: PerpetratorKind
    """As the report gives it."""
    known: UUID | None
    """The case's perpetrator the report names again; None: someone new to the case."""
    kind_learnt: bool = False
    """The known perpetrator was of unknown kind until this report said which."""


def namings(kinds: Sequence[PerpetratorKind], known: Sequence[Known]) -> list[Naming]:
    """Whom each alleged perpetrator of a report is, in order: the case's perpetrator of
    the same kind not yet named by this report; else, for a known kind, one of the case's
    perpetrators of unknown kind (the report tells their kind); else someone new. A kind
    no route is for (one this vocabulary does not know) names nobody (2.5)."""
    available = list(known)
    named: list[Naming] = []
    for kind in kinds:
        if route_for(kind) is None:
            continue
        same = next((k for k in available if k.kind is kind), None)
        learnt = None
        if same is None and kind is not PerpetratorKind.UNKNOWN:
            learnt = next((k for k in available if k.kind is PerpetratorKind.UNKNOWN), None)
        match = same or learnt
        if match is None:
            named.append(Naming(kind, None))
            continue
        available.remove(match)
        named.append(Naming(kind, match.perpetrator_id, kind_learnt=learnt is not None))
    return named


def danger_clock(
    reports: Iterable[ReportFacts], *, ex_parte_asked_at: Iterable[datetime], opened_at: datetime
) -> tuple[bool, datetime]:
    """Whether someone was reported in immediate danger or risk of harm (3.3.1), and when
    the clock of an ex parte injunction (24 hours from the report) started: the latest
    report of immediate danger, or risk's latest request for one; else the first report,
    else when the enforcement case opened."""
    kept = list(reports)
    in_danger = [report.received_at for report in kept if report.immediate_danger]
    in_danger += list(ex_parte_asked_at)
    if in_danger:
        return True, max(in_danger)
    return False, min((r.received_at for r in kept), default=opened_at)


def needs_second_decider(step: EnforcementStep) -> bool:
    rule = STEP_RULES.get(step)
    return rule is not None and rule.deciders > 1


SECOND_DECIDER = "\x00a second decider"
"""Stands in, in ``check_proposal`` only, for the second person a proposal waits for; no
subject of a token holds a NUL."""


def check_proposal(
    proposal: Proposal,
    history: Sequence[EnforcementStep],
    *,
    evidence: Collection[EvidenceItem],
    immediate_danger: bool,
    serious_hate_crime: bool,
    reported_at: datetime,
    now: datetime,
) -> Decision | Refusal:
    """What ``ladder.decide`` answers for ``proposal`` once every person it needs has
    agreed: a step that needs two people, proposed by one, is checked as though a second
    of the same roles agreed. A refusal is the ladder's own; a decision says the proposal
    may wait for its second decider (it is decided again, on the evidence of then, when
    they agree)."""
    deciders = proposal.deciders
    if needs_second_decider(proposal.step) and len({d.subject for d in deciders}) == 1:
        deciders = (*deciders, Decider(SECOND_DECIDER, deciders[0].roles))
    return decide(
        replace(proposal, deciders=deciders),
        history,
        evidence=evidence,
        immediate_danger=immediate_danger,
        serious_hate_crime=serious_hate_crime,
        reported_at=reported_at,
        now=now,
    )
