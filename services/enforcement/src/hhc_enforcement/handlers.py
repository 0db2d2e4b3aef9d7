"""Enforcement's handlers: decide with the rules, store and emit in one transaction."""

import uuid
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope
from hhc_contracts.v1 import (
    ActionRequired,
    EnforcementActionTaken,
    EnforcementCaseOpened,
    ReportReceived,
)
from hhc_contracts.vocabulary import EnforcementRoute, Executor, PerpetratorKind
from hhc_enforcement.rules import STEP_FOR_ACTION, routes_to_open


async def _open_case(
    connection: asyncpg.Connection,
    cause: Envelope,
    *,
    case_id: UUID,
    route: EnforcementRoute,
    perpetrator_kind: PerpetratorKind,
    opened_at: datetime,
) -> tuple[UUID, list[Envelope]]:
    """The enforcement case for (case, route), opening it if there is none yet."""
    opened = await connection.fetchrow(
        """INSERT INTO enforcement_cases (enforcement_case_id, case_id, route, perpetrator_kind,
                                          opened_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (case_id, route) DO UPDATE SET perpetrator_kind = EXCLUDED.perpetrator_kind
               WHERE enforcement_cases.perpetrator_kind = 'unknown'
           RETURNING enforcement_case_id, (xmax = 0) AS inserted""",
        uuid.uuid4(),
        case_id,
        route.value,
        perpetrator_kind.value,
        opened_at,
    )
    if opened is None or not opened["inserted"]:
        existing: UUID = await connection.fetchval(
            "SELECT enforcement_case_id FROM enforcement_cases WHERE case_id = $1 AND route = $2",
            case_id,
            route.value,
        )
        return existing, []
    opened_id: UUID = opened["enforcement_case_id"]
    event = EnforcementCaseOpened(
        enforcement_case_id=opened_id,
        case_id=case_id,
        perpetrator_kind=perpetrator_kind,
        route=route,
        opened_at=opened_at,
    )
    return opened_id, [new_envelope(event, case_id=case_id, occurred_at=opened_at, cause=cause)]


async def on_report_received(
    connection: asyncpg.Connection, envelope: Envelope, report: ReportReceived
) -> None:
    outgoing: list[Envelope] = []
    for route, kind in routes_to_open(report.perpetrator_kinds).items():
        _, events = await _open_case(
            connection,
            envelope,
            case_id=report.case_id,
            route=route,
            perpetrator_kind=kind,
            opened_at=datetime.now(UTC),
        )
        outgoing.extend(events)
    await enqueue(connection, outgoing)


async def on_action_required(
    connection: asyncpg.Connection, envelope: Envelope, action: ActionRequired
) -> None:
    step = STEP_FOR_ACTION.get(action.kind)
    # An action or executor the vocabulary does not know gets no step here: one would be
    # invented. The action stays open at risk, which escalates it to a manager when due.
    if action.carried_out_by is not Executor.ENFORCEMENT or step is None:
        return
    existing = await connection.fetchval(
        "SELECT enforcement_case_id FROM enforcement_cases WHERE case_id = $1 "
        "ORDER BY opened_at LIMIT 1",
        action.case_id,
    )
    outgoing: list[Envelope] = []
    if existing is not None:
        enforcement_case_id: UUID = existing
    else:
        # The report may not have reached us yet (another topic): open the case with the
        # perpetrator unknown; the report fills it in when it arrives.
        enforcement_case_id, outgoing = await _open_case(
            connection,
            envelope,
            case_id=action.case_id,
            route=EnforcementRoute.TENANCY_ENFORCEMENT,
            perpetrator_kind=PerpetratorKind.UNKNOWN,
            opened_at=datetime.now(UTC),
        )
    taken_at = datetime.now(UTC)
    await connection.execute(
        """INSERT INTO enforcement_steps (step_id, enforcement_case_id, action, action_id,
                                          taken_at)
           VALUES ($1, $2, $3, $4, $5)""",
        uuid.uuid4(),
        enforcement_case_id,
        step,
        action.action_id,
        taken_at,
    )
    taken = EnforcementActionTaken(
        enforcement_case_id=enforcement_case_id,
        case_id=action.case_id,
        action=step,
        action_id=action.action_id,
        taken_at=taken_at,
    )
    outgoing.append(
        new_envelope(taken, case_id=action.case_id, occurred_at=taken_at, cause=envelope)
    )
    await enqueue(connection, outgoing)
