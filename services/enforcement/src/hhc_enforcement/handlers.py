"""Enforcement's handlers: decode, load, decide with the rules, store and emit in the
consumer's one transaction.

Nothing here takes a step of enforcement: a decision is a person's, and a step is taken
when the person who took it records it (``hhc_enforcement.decisions``). A report opens
or joins enforcement cases where the policy says (``rules.admission``); risk's actions for
enforcement are kept, linked to the case's enforcement case, until a step answers them.
"""

from datetime import UTC, datetime

import asyncpg

from hhc_chassis.disposal import dispose_of_case
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import ActionRequired, CaseErased, ReportReceived
from hhc_enforcement import casework, store
from hhc_enforcement.court_api import record_breaches_on_later_report
from hhc_enforcement.rules import Admission, Known, admission, is_request, namings


async def on_report_received(
    connection: asyncpg.Connection, envelope: Envelope, report: ReportReceived
) -> None:
    """Each alleged perpetrator of a kind a route is for is recorded (or, named again,
    found) and put on the enforcement case that acts for them: opened, joined, or none
    yet while an anonymous report awaits its validity (3.2.5). A report the policy
    handles otherwise (3.1, 1.2, 3.2.6) touches no perpetrator."""
    await store.lock_case(connection, report.case_id)
    if not await store.store_report(connection, report):
        return
    # A later report that the behaviour goes on is a breach of an order in force.
    await record_breaches_on_later_report(connection, report)
    allowed = admission(
        track=report.track,
        classification=report.classification,
        perpetrator_kinds=report.perpetrator_kinds,
        validity_confirmed=await store.validity_confirmed(connection, report.case_id),
    )
    if allowed is Admission.NONE:
        return
    now = datetime.now(UTC)
    known = {
        p.perpetrator_id: p for p in await store.perpetrators_on_case(connection, report.case_id)
    }
    outgoing: list[Envelope] = []
    for naming in namings(
        report.perpetrator_kinds, [Known(p.perpetrator_id, p.kind) for p in known.values()]
    ):
        if naming.known is None:
            perpetrator = await store.new_perpetrator(
                connection,
                kind=naming.kind,
                known_since=report.received_at,
                recorded_by=store.REPORTED,
            )
        else:
            perpetrator = known[naming.known]
            if naming.kind_learnt:
                perpetrator = await store.update_perpetrator(
                    connection,
                    perpetrator,
                    kind=naming.kind,
                    reference=perpetrator.reference,
                    description=perpetrator.description,
                    identified_by=perpetrator.identified_by,
                    identified_at=perpetrator.identified_at,
                )
        placed = await casework.place(
            connection,
            envelope,
            perpetrator=perpetrator,
            case_id=report.case_id,
            allowed=allowed,
            linked_by=store.REPORTED,
            now=now,
            report_ids=(report.report_id,),
        )
        outgoing += placed.events
        if naming.kind_learnt:
            outgoing += await casework.place_everywhere(
                connection, envelope, perpetrator=perpetrator, linked_by=store.REPORTED, now=now
            )
    await enqueue(connection, outgoing)


def is_for_enforcement(action: ActionRequired) -> bool:
    return is_request(action.kind, action.carried_out_by)


async def on_action_required(
    connection: asyncpg.Connection, envelope: Envelope, action: ActionRequired
) -> None:
    """Risk asks enforcement for an ex parte injunction (3.3.1) or enforcement against a
    customer perpetrator (3.3.2): kept, linked to the case's tenancy enforcement case if
    it has one (or when it opens), and answered when a person records a step that answers
    it as taken. An action or executor the vocabulary does not know is none of ours: it
    stays open at risk, which escalates it to a manager when due."""
    if not is_request(action.kind, action.carried_out_by):
        return
    await store.store_request(
        connection,
        action_id=action.action_id,
        case_id=action.case_id,
        kind=action.kind,
        required_at=action.required_at,
        due_at=action.due_at,
        received_at=datetime.now(UTC),
    )


async def on_case_erased(
    connection: asyncpg.Connection, envelope: Envelope, erased: CaseErased
) -> None:
    """Intake erased the case (3.5.2): what enforcement keeps of it in words goes, here and
    in the outbox, and the audit is told how much. Serialised with whatever opens or joins
    the case's enforcement cases, so no perpetrator is linked in between."""
    await store.lock_case(connection, erased.case_id)
    await dispose_of_case(
        connection,
        service="enforcement",
        case_id=erased.case_id,
        basis=erased.basis,
        erasures=store.ERASURES,
        at=datetime.now(UTC),
        cause=envelope,
    )
