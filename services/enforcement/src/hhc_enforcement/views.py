"""What enforcement's API shows: perpetrators, the evidence log, proposals, decisions,
steps taken, risk's requests, and a case's enforcement as a whole. Staff only; every
route that shows these checks and audits the look at the case first."""

from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from hhc_contracts.vocabulary import (
    ActionKind,
    EnforcementRoute,
    EnforcementStep,
    EvidenceKind,
    EvidenceLevel,
    EvidenceStrength,
    PerpetratorKind,
)
from hhc_enforcement import store
from hhc_enforcement.evidence import rate
from hhc_enforcement.ladder import STEP_RULES, allowed_next
from hhc_enforcement.rules import awaits_validity, danger_clock
from hhc_enforcement.store import PerpetratorRow


class PerpetratorOut(BaseModel):
    perpetrator_id: UUID
    kind: PerpetratorKind
    identified: bool
    """Their reference is known (a tenancy reference, employee number, contract)."""
    reference: str | None
    description: str | None
    """What is known of them (personal data)."""
    known_since: datetime
    recorded_by: str
    """Who recorded them: a member of staff, or 'report'."""
    identified_by: str | None
    identified_at: datetime | None
    enforcement_case_id: UUID | None
    """The enforcement case acting for them on this case; None while an anonymous report
    awaits its validity (3.2.5)."""
    report_ids: list[UUID]
    """The reports of this case that name them."""
    alleged_in_cases: int
    """How many cases concern them, this one included."""


async def perpetrator_out(
    connection: asyncpg.Connection, perpetrator: PerpetratorRow, case_id: UUID
) -> PerpetratorOut:
    current = await store.current_link(connection, perpetrator.perpetrator_id, case_id)
    return PerpetratorOut(
        perpetrator_id=perpetrator.perpetrator_id,
        kind=perpetrator.kind,
        identified=perpetrator.reference is not None,
        reference=perpetrator.reference,
        description=perpetrator.description,
        known_since=perpetrator.known_since,
        recorded_by=perpetrator.recorded_by,
        identified_by=perpetrator.identified_by,
        identified_at=perpetrator.identified_at,
        enforcement_case_id=current.enforcement_case_id if current else None,
        report_ids=list(current.report_ids) if current else [],
        alleged_in_cases=len(
            await store.cases_of_perpetrator(connection, perpetrator.perpetrator_id)
        ),
    )


async def perpetrators_out(connection: asyncpg.Connection, case_id: UUID) -> list[PerpetratorOut]:
    return [
        await perpetrator_out(connection, perpetrator, case_id)
        for perpetrator in await store.perpetrators_on_case(connection, case_id)
    ]


class EvidenceOut(BaseModel):
    evidence_id: UUID
    enforcement_case_id: UUID
    kind: EvidenceKind
    strength: EvidenceStrength
    source: str
    occurred_at: datetime | None
    reference: str | None
    storage_reference: str | None
    """Where the photograph, recording or document is kept; never the file."""
    media_type: str | None
    summary: str | None
    recorded_by: str
    recorded_at: datetime


def evidence_out(row: asyncpg.Record) -> EvidenceOut:
    return EvidenceOut(**{name: row[name] for name in EvidenceOut.model_fields})


class EvidenceLogOut(BaseModel):
    enforcement_case_id: UUID
    evidence_level: EvidenceLevel
    """The log as a whole (``hhc_enforcement.evidence.rate``)."""
    items: list[EvidenceOut]


class DecisionOut(BaseModel):
    decision_id: UUID
    enforcement_case_id: UUID
    proposal_id: UUID
    route: EnforcementRoute
    step: EnforcementStep
    clause: str
    decided_by: list[str]
    reason: str
    skip_reason: str | None
    skipped_steps: list[EnforcementStep]
    serious_hate_crime: bool
    evidence_level: EvidenceLevel
    decided_at: datetime
    review_at: datetime | None
    target_at: datetime | None
    """When the step was due: an ex parte injunction, 24 hours from the report (3.3.1)."""
    within_target: bool | None
    taken: bool
    """A member of staff recorded it as carried out."""


def decision_out(row: asyncpg.Record, *, taken: bool) -> DecisionOut:
    fields = {name: row[name] for name in DecisionOut.model_fields if name in row}
    return DecisionOut(**fields, taken=taken)


class ProposalOut(BaseModel):
    proposal_id: UUID
    enforcement_case_id: UUID
    step: EnforcementStep
    status: str
    """pending (awaiting a second decider), decided, or declined."""
    reason: str
    skip_reason: str | None
    serious_hate_crime: bool
    proposed_by: str
    proposed_at: datetime
    answered_by: str | None
    answered_at: datetime | None
    decision: DecisionOut | None = None


def proposal_out(row: asyncpg.Record, decision: DecisionOut | None = None) -> ProposalOut:
    fields = {name: row[name] for name in ProposalOut.model_fields if name in row}
    return ProposalOut(**fields, decision=decision)


class StepOut(BaseModel):
    step_id: UUID
    step: EnforcementStep | None
    """None for what the service recorded by itself before steps were people's."""
    action: str
    decision_id: UUID | None
    recorded_by: str | None
    taken_at: datetime
    recorded_at: datetime | None
    note: str | None
    answers_action_ids: list[UUID]
    """Risk's actions this step answered."""


class RequestOut(BaseModel):
    """An action risk asked enforcement for, and whether a step taken answered it."""

    action_id: UUID
    kind: ActionKind
    enforcement_case_id: UUID | None
    required_at: datetime
    due_at: datetime
    answered_at: datetime | None
    answered_by_step_id: UUID | None


class EnforcementCaseOut(BaseModel):
    enforcement_case_id: UUID
    case_id: UUID
    """The case it was opened for."""
    route: EnforcementRoute
    perpetrator_kind: PerpetratorKind
    opened_at: datetime
    closed_at: datetime | None
    closed_reason: str | None
    perpetrator_ids: list[UUID]
    """Whom it acts against on this case."""
    evidence_level: EvidenceLevel
    evidence_items: int
    immediate_danger: bool
    decisions: list[DecisionOut]
    pending_proposals: list[ProposalOut]
    steps: list[StepOut]
    allowed_next: list[EnforcementStep]
    """The steps the ladder allows next without skipping a rung (none once closed)."""
    review_at: datetime | None
    """When the latest decision said the case is next reviewed."""


class ValidityOut(BaseModel):
    finding_id: UUID
    case_id: UUID
    valid: bool
    reason: str
    recorded_by: str
    recorded_at: datetime


class CaseEnforcementOut(BaseModel):
    case_id: UUID
    awaits_validity: bool
    """An anonymous report of the case is not yet found valid: nothing opens (3.2.5)."""
    validity: ValidityOut | None
    perpetrators: list[PerpetratorOut]
    enforcement_cases: list[EnforcementCaseOut]
    requests: list[RequestOut]


def validity_out(row: asyncpg.Record) -> ValidityOut:
    return ValidityOut(**{name: row[name] for name in ValidityOut.model_fields})


async def facts_for_decision(
    connection: asyncpg.Connection, enforcement_case: store.EnforcementCaseRow
) -> tuple[bool, datetime]:
    """Whether someone is in immediate danger, and when the ex parte clock started."""
    case_ids = await store.cases_concerned(connection, enforcement_case.enforcement_case_id)
    requests = await store.requests_of(connection, case_ids)
    return danger_clock(
        await store.report_facts(connection, case_ids),
        ex_parte_asked_at=[
            r.required_at for r in requests if r.kind is ActionKind.EX_PARTE_INJUNCTION
        ],
        opened_at=enforcement_case.opened_at,
    )


async def case_enforcement(connection: asyncpg.Connection, case_id: UUID) -> CaseEnforcementOut:
    finding = await store.latest_finding(connection, case_id)
    reports = await store.report_facts(connection, [case_id])
    cases = await store.enforcement_cases_of(connection, case_id)
    ids = [case.enforcement_case_id for case in cases]
    decisions = await store.decisions_of(connection, ids)
    proposals = await store.proposals_of(connection, ids)
    steps = await store.steps_of(connection, ids)
    requests = await store.requests_of(connection, [case_id])
    links = await store.links_on_case(connection, case_id)
    taken = {step["decision_id"] for step in steps if step["decision_id"]}
    answered = await store.answered_by_steps(connection, [step["step_id"] for step in steps])
    shown = []
    for case in cases:
        eid = case.enforcement_case_id
        history = await store.history_of(connection, eid)
        danger, _ = await facts_for_decision(connection, case)
        log = await store.evidence_of(connection, eid)
        own_decisions = [d for d in decisions if d["enforcement_case_id"] == eid]
        shown.append(
            EnforcementCaseOut(
                enforcement_case_id=eid,
                case_id=case.case_id,
                route=case.route,
                perpetrator_kind=case.perpetrator_kind,
                opened_at=case.opened_at,
                closed_at=case.closed_at,
                closed_reason=case.closed_reason,
                perpetrator_ids=[
                    link.perpetrator_id for link in links if link.enforcement_case_id == eid
                ],
                evidence_level=rate(log),
                evidence_items=len(log),
                immediate_danger=danger,
                decisions=[decision_out(d, taken=d["decision_id"] in taken) for d in own_decisions],
                pending_proposals=[
                    proposal_out(p)
                    for p in proposals
                    if p["enforcement_case_id"] == eid and p["status"] == "pending"
                ],
                steps=[
                    StepOut(
                        step_id=s["step_id"],
                        step=EnforcementStep(s["step"]) if s["step"] else None,
                        action=s["action"],
                        decision_id=s["decision_id"],
                        recorded_by=s["recorded_by"],
                        taken_at=s["taken_at"],
                        recorded_at=s["recorded_at"],
                        note=s["note"],
                        answers_action_ids=answered.get(s["step_id"], [])
                        + ([s["action_id"]] if s["action_id"] else []),
                    )
                    for s in steps
                    if s["enforcement_case_id"] == eid
                ],
                allowed_next=[]
                if case.closed_at
                else [
                    step
                    for step in STEP_RULES
                    if step in allowed_next(case.route, history, immediate_danger=danger)
                ],
                review_at=own_decisions[-1]["review_at"] if own_decisions else None,
            )
        )
    return CaseEnforcementOut(
        case_id=case_id,
        awaits_validity=awaits_validity(reports) and not (finding and finding["valid"]),
        validity=validity_out(finding) if finding else None,
        perpetrators=await perpetrators_out(connection, case_id),
        enforcement_cases=shown,
        requests=[
            RequestOut(**{name: getattr(r, name) for name in RequestOut.model_fields})
            for r in requests
        ],
    )
