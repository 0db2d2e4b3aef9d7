"""The ladder over HTTP: propose a step, decide it (two different people for a notice of
seeking possession or a possession claim), and record it as taken (policy 2.5, 2.6,
3.3.1, 4.2, 4.3; issue 11, items 3 and 6).

A decision is not a deed. Deciding publishes ``enforcement.step-decided``; only the
member of staff who carried the step out, recording it, publishes
``enforcement.action-taken``, which answers the risk action that asked for it (an ex parte
injunction answers risk's ex parte injunction; the first step of the tenancy ladder, its
request for enforcement against a customer perpetrator).

The ladder's refusals answer as ``ladder.RefusalCode`` says: 409 for a step not allowed
now, 422 naming what is wrong (with what evidence is missing), 403 for a decider whose
roles may not decide the step. Each route looks the case up through what it names
(enforcement case, proposal, decision) and checks and audits the look at it first.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from hhc_chassis.access import Caller, Permission, Role
from hhc_chassis.auth import authorised
from hhc_chassis.events import new_envelope
from hhc_chassis.http import invalid
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import runtime_of
from hhc_contracts import Envelope
from hhc_contracts.tolerance import StrictInput
from hhc_contracts.v1 import DecisionPersonalData, EnforcementActionTaken, EnforcementStepDecided
from hhc_contracts.vocabulary import EnforcementStep
from hhc_enforcement import store
from hhc_enforcement.ladder import (
    STEP_RULES,
    Decider,
    Decision,
    Proposal,
    Refusal,
    RefusalCode,
    decide,
)
from hhc_enforcement.lookup import open_case_of
from hhc_enforcement.rules import answers, check_proposal, needs_second_decider
from hhc_enforcement.views import (
    ProposalOut,
    StepOut,
    decision_out,
    facts_for_decision,
    proposal_out,
)

router = APIRouter(tags=["enforcement decisions"])

EnforcementDecider = Annotated[Caller, Depends(authorised(Permission.DECIDE_ENFORCEMENT))]

CLOCK_LEEWAY = timedelta(minutes=1)
DECISION_FIELDS = ("enforcement", "decisions")
STEP_FIELDS = ("enforcement", "steps")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]

_STATUS: Mapping[RefusalCode, int] = {
    RefusalCode.STEP_NOT_ON_ROUTE: 422,
    RefusalCode.REASON_NEEDED: 422,
    RefusalCode.DECIDER_ROLE: 403,
    RefusalCode.DECIDER_NEEDED: 422,
    RefusalCode.SECOND_DECIDER_NEEDED: 422,
    RefusalCode.STEP_NOT_ALLOWED_NOW: 409,
    RefusalCode.IMMEDIATE_DANGER_ONLY: 409,
    RefusalCode.SKIP_NEEDS_REASON: 422,
    RefusalCode.SKIP_NEEDS_SERIOUS_HATE_CRIME: 422,
    RefusalCode.EVIDENCE_MISSING: 422,
}
"""The HTTP answer to each of the ladder's refusals (``ladder.RefusalCode``)."""

_FIELD: Mapping[RefusalCode, str] = {
    RefusalCode.REASON_NEEDED: "reason",
    RefusalCode.SKIP_NEEDS_REASON: "skip_reason",
    RefusalCode.SKIP_NEEDS_SERIOUS_HATE_CRIME: "serious_hate_crime",
    RefusalCode.SECOND_DECIDER_NEEDED: "agree",
    RefusalCode.DECIDER_NEEDED: "agree",
}
"""The body field a refusal is about; the step, for any other."""

REFUSAL_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Your roles may not decide this step (the ladder's decided_by)"},
    404: {"description": "No such case, or one you may not reach (the same answer)"},
    409: {"description": "The ladder does not allow the step now"},
    422: {
        "description": "What is wrong, in detail[0]: the field (loc), why (msg), the "
        "ladder's code (type) and, for evidence, what is missing (missing)"
    },
}


def refused(refusal: Refusal) -> HTTPException:
    """The ladder's refusal as an HTTP answer: ``{"detail": [{"loc", "msg", "type",
    "missing"}]}``, or the message alone for 403."""
    status = _STATUS.get(refusal.code, 422)
    if status == 403:
        return HTTPException(403, refusal.message)
    field = _FIELD.get(refusal.code, "step")
    return HTTPException(
        status,
        [
            {
                "loc": ["body", field],
                "msg": refusal.message,
                "type": refusal.code.value,
                "missing": list(refusal.missing),
            }
        ],
    )


class ProposalIn(StrictInput):
    """A step of the ladder someone proposes, and why."""

    model_config = ConfigDict(extra="forbid")

    step: EnforcementStep
    reason: Text = Field(description="Why: recorded with the decision (personal data)")
    skip_reason: Text | None = Field(
        default=None, description="Why rungs of the ladder are skipped, when they are"
    )
    serious_hate_crime: bool = Field(
        default=False,
        description="The decider judges it serious hate crime: it may justify going straight "
        "to an injunction or to possession",
    )


class AnswerIn(StrictInput):
    """A second legal officer's or manager's answer to a proposal awaiting them."""

    model_config = ConfigDict(extra="forbid")

    agree: bool


class TakenIn(StrictInput):
    """The step was carried out by the member of staff recording it."""

    model_config = ConfigDict(extra="forbid")

    taken_at: AwareDatetime | None = Field(
        default=None,
        description="When; now if not given. Not in the future, nor before the decision",
    )
    note: Text | None = Field(default=None, description="What was done (personal data)")


def _answering(answered: list[store.Request], case_id: UUID) -> list[tuple[UUID | None, UUID]]:
    """One action-taken event per risk action the step answers, on that action's case;
    one with no action when it answers none."""
    found: list[tuple[UUID | None, UUID]] = [(r.action_id, r.case_id) for r in answered]
    return found or [(None, case_id)]


def _decider(caller: Caller) -> Decider:
    return Decider(caller.subject, caller.roles)


def _decided_event(
    row: asyncpg.Record, decided: Decision, *, enforcement_case_id: UUID, case_id: UUID
) -> Envelope:
    event = EnforcementStepDecided(
        decision_id=row["decision_id"],
        enforcement_case_id=enforcement_case_id,
        case_id=case_id,
        route=decided.route,
        step=decided.step,
        decided_by=list(decided.decided_by),
        decided_at=decided.decided_at,
        evidence_level=decided.evidence_level,
        review_due_at=decided.review_at,
        skipped_steps=list(decided.skipped),
        target_due_at=decided.target_at,
        target_met=decided.within_target,
        personal=DecisionPersonalData(reason=decided.reason, skip_reason=decided.skip_reason),
    )
    return new_envelope(event, case_id=case_id, occurred_at=decided.decided_at)


async def _ladder_facts(
    connection: asyncpg.Connection, enforcement_case_id: UUID
) -> tuple[store.EnforcementCaseRow, dict[str, Any]]:
    """The enforcement case (locked for the transaction) and what ``decide`` needs of it."""
    enforcement_case = await store.enforcement_case(
        connection, enforcement_case_id, for_update=True
    )
    if enforcement_case is None:
        raise HTTPException(404, "no such enforcement case")
    if enforcement_case.closed_at is not None:
        raise HTTPException(
            409, f"the enforcement case is closed: {enforcement_case.closed_reason}"
        )
    danger, reported_at = await facts_for_decision(connection, enforcement_case)
    return enforcement_case, {
        "evidence": await store.evidence_of(connection, enforcement_case_id),
        "immediate_danger": danger,
        "reported_at": reported_at,
    }


@router.post(
    "/v1/enforcement-cases/{enforcement_case_id}/proposals",
    response_model=ProposalOut,
    status_code=201,
    summary="Propose a step of the ladder: decided at once when one person decides it; a "
    "notice of seeking possession or a possession claim awaits a second decider",
    responses=REFUSAL_RESPONSES,
)
async def propose(
    enforcement_case_id: UUID, given: ProposalIn, request: Request, caller: EnforcementDecider
) -> ProposalOut:
    case_id = await open_case_of(
        request,
        caller,
        Permission.DECIDE_ENFORCEMENT,
        "enforcement case",
        enforcement_case_id,
        DECISION_FIELDS,
    )
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        enforcement_case, facts = await _ladder_facts(connection, enforcement_case_id)
        proposal = Proposal(
            route=enforcement_case.route,
            step=given.step,
            reason=given.reason,
            deciders=(_decider(caller),),
            skip_reason=given.skip_reason,
        )
        history = await store.history_of(connection, enforcement_case_id)
        checked = check_proposal(
            proposal, history, serious_hate_crime=given.serious_hate_crime, now=now, **facts
        )
        if isinstance(checked, Refusal):
            raise refused(checked)
        pending = needs_second_decider(given.step)
        row = await store.add_proposal(
            connection,
            enforcement_case_id=enforcement_case_id,
            case_id=case_id,
            step=given.step,
            reason=given.reason,
            skip_reason=given.skip_reason,
            serious_hate_crime=given.serious_hate_crime,
            proposed_by=caller.subject,
            proposed_by_roles=[role.value for role in caller.roles],
            proposed_at=now,
            pending=pending,
        )
        if row is None:
            raise HTTPException(409, "a proposal of this step already awaits its second decider")
        if pending:
            return proposal_out(row)
        decision = await store.add_decision(
            connection,
            enforcement_case_id=enforcement_case_id,
            case_id=case_id,
            proposal_id=row["proposal_id"],
            decided=checked,
            serious_hate_crime=given.serious_hate_crime,
        )
        await enqueue(
            connection,
            [
                _decided_event(
                    decision,
                    checked,
                    enforcement_case_id=enforcement_case_id,
                    case_id=case_id,
                )
            ],
        )
        return proposal_out(row, decision_out(decision, taken=False))


@router.post(
    "/v1/proposals/{proposal_id}/decision",
    response_model=ProposalOut,
    summary="A second, different legal officer or manager agrees (the step is decided, on "
    "the evidence of now) or does not (the proposal is declined)",
    responses=REFUSAL_RESPONSES,
)
async def answer_proposal(
    proposal_id: UUID, answer: AnswerIn, request: Request, caller: EnforcementDecider
) -> ProposalOut:
    case_id = await open_case_of(
        request, caller, Permission.DECIDE_ENFORCEMENT, "proposal", proposal_id, DECISION_FIELDS
    )
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        found = await store.proposal(connection, proposal_id)
        assert found is not None  # open_case_of found it
        enforcement_case, facts = await _ladder_facts(connection, found["enforcement_case_id"])
        found = await store.proposal(connection, proposal_id, for_update=True)
        assert found is not None
        if found["status"] != "pending":
            raise HTTPException(409, f"the proposal was {found['status']} already")
        if not answer.agree:
            row = await store.answer_proposal(
                connection,
                proposal_id,
                status="declined",
                answered_by=caller.subject,
                answered_at=now,
            )
            return proposal_out(row)
        proposer = Decider(
            found["proposed_by"],
            frozenset(Role(role) for role in found["proposed_by_roles"] if role in set(Role)),
        )
        proposal = Proposal(
            route=enforcement_case.route,
            step=EnforcementStep(found["step"]),
            reason=found["reason"],
            deciders=(proposer, _decider(caller)),
            skip_reason=found["skip_reason"],
        )
        history = await store.history_of(connection, enforcement_case.enforcement_case_id)
        decided = decide(
            proposal,
            history,
            serious_hate_crime=found["serious_hate_crime"],
            now=now,
            **facts,
        )
        if isinstance(decided, Refusal):
            raise refused(decided)
        row = await store.answer_proposal(
            connection, proposal_id, status="decided", answered_by=caller.subject, answered_at=now
        )
        decision = await store.add_decision(
            connection,
            enforcement_case_id=enforcement_case.enforcement_case_id,
            case_id=case_id,
            proposal_id=proposal_id,
            decided=decided,
            serious_hate_crime=found["serious_hate_crime"],
        )
        await enqueue(
            connection,
            [
                _decided_event(
                    decision,
                    decided,
                    enforcement_case_id=enforcement_case.enforcement_case_id,
                    case_id=case_id,
                )
            ],
        )
        return proposal_out(row, decision_out(decision, taken=False))


@router.post(
    "/v1/decisions/{decision_id}/taken",
    response_model=StepOut,
    status_code=201,
    summary="Record that the signed-in member of staff carried the decided step out; it "
    "answers the risk action that asked for it",
    responses={
        403: {"description": "Your roles may not take this step"},
        404: REFUSAL_RESPONSES[404],
        409: {"description": "Recorded as taken already, or the enforcement case is closed"},
    },
)
async def record_taken(
    decision_id: UUID, given: TakenIn, request: Request, caller: EnforcementDecider
) -> StepOut:
    case_id = await open_case_of(
        request, caller, Permission.DECIDE_ENFORCEMENT, "decision", decision_id, STEP_FIELDS
    )
    now = datetime.now(UTC)
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        decision = await store.decision(connection, decision_id)
        assert decision is not None  # open_case_of found it
        step = EnforcementStep(decision["step"])
        rule = STEP_RULES.get(step)
        if rule is None or not caller.roles & rule.decided_by:
            roles = " or ".join(sorted(r.value for r in (rule.decided_by if rule else ())))
            raise HTTPException(403, f"a {roles} takes this step")
        enforcement_case = await store.enforcement_case(
            connection, decision["enforcement_case_id"], for_update=True
        )
        assert enforcement_case is not None
        if enforcement_case.closed_at is not None:
            raise HTTPException(
                409, f"the enforcement case is closed: {enforcement_case.closed_reason}"
            )
        if await store.step_of_decision(connection, decision_id) is not None:
            raise HTTPException(409, "this decision was recorded as taken already")
        taken_at = given.taken_at or now
        if taken_at > now + CLOCK_LEEWAY:
            raise invalid("taken_at", "must not be in the future")
        if taken_at < decision["decided_at"] - CLOCK_LEEWAY:
            raise invalid("taken_at", "must not be before the step was decided")
        row = await store.add_step(
            connection,
            enforcement_case_id=enforcement_case.enforcement_case_id,
            step=step,
            decision_id=decision_id,
            recorded_by=caller.subject,
            recorded_at=now,
            taken_at=taken_at,
            note=given.note,
        )
        concerned = await store.cases_concerned(connection, enforcement_case.enforcement_case_id)
        answered = [
            request_
            for request_ in await store.requests_of(connection, concerned)
            if request_.answered_at is None and answers(request_.kind, step)
        ]
        await store.answer_requests(
            connection, [r.action_id for r in answered], step_id=row["step_id"], at=now
        )
        if rule.review_after is None:
            await store.close_enforcement_case(
                connection,
                enforcement_case.enforcement_case_id,
                reason=f"{step.value.replace('_', ' ')} taken",
                at=now,
            )
        events = [
            new_envelope(
                EnforcementActionTaken(
                    enforcement_case_id=enforcement_case.enforcement_case_id,
                    case_id=request_case,
                    action=step.value,
                    action_id=action_id,
                    taken_at=taken_at,
                    step=step,
                    decision_id=decision_id,
                    recorded_by=caller.subject,
                ),
                case_id=request_case,
                occurred_at=now,
            )
            for action_id, request_case in _answering(answered, case_id)
        ]
        await enqueue(connection, events)
    return StepOut(
        step_id=row["step_id"],
        step=step,
        action=row["action"],
        decision_id=decision_id,
        recorded_by=caller.subject,
        taken_at=taken_at,
        recorded_at=now,
        note=given.note,
        answers_action_ids=[r.action_id for r in answered],
    )
