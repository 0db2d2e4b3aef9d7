"""Each service's copy of what decides who reaches a case (:class:`CaseScope`).

Intake writes it when it opens a case; every other service keeps it from intake's case
events (report-received, case-team-changed), which the chassis keeps for any service
that reads ``hhc.intake.cases.v1``, in the transaction of the service's own handler.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from hhc_chassis.access import CaseScope
from hhc_chassis.consumer import Handler, Projection
from hhc_chassis.db import Write, write_together
from hhc_contracts import Envelope
from hhc_contracts.v1 import CaseTeamChanged, ReportReceived
from hhc_contracts.vocabulary import PerpetratorKind

UNASSIGNED_TEAM = "unassigned"


def scope_of_report(report: ReportReceived, *, team: str) -> CaseScope:
    return CaseScope(
        team=team,
        survivor_is_staff=report.survivor_is_staff,
        # 3.3.1: the concerns that call for a safeguarding alert, and immediate danger,
        # where the on-call safeguarding lead may have to act (override consent for
        # emergency intervention, 3.5.2) when the team has not in time.
        safeguarding=report.vulnerable_adult
        or report.children_in_household
        or report.capacity_concern
        or report.immediate_danger,
        taken_by=report.taken_by,
        staff_perpetrator=PerpetratorKind.STAFF in report.perpetrator_kinds,
    )


_REMEMBER_CASE = """INSERT INTO case_access (case_id, team, survivor_is_staff, safeguarding,
                                            taken_by, staff_perpetrator)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (case_id) DO UPDATE SET
                       survivor_is_staff = case_access.survivor_is_staff
                                           OR EXCLUDED.survivor_is_staff,
                       safeguarding = case_access.safeguarding OR EXCLUDED.safeguarding,
                       staff_perpetrator = case_access.staff_perpetrator
                                           OR EXCLUDED.staff_perpetrator,
                       updated_at = now()"""
"""A case's scope; a further report can raise a safeguarding concern or reveal that the
survivor, or an alleged perpetrator, is staff, never lower any, and never moves the
case's team."""

_MOVE_CASE = "UPDATE case_access SET team = $2, updated_at = now() WHERE case_id = $1"


def remembered(case_id: UUID, scope: CaseScope) -> Write:
    """The write of :func:`remember_case`, to make with others."""
    return (
        _REMEMBER_CASE,
        (
            case_id,
            scope.team,
            scope.survivor_is_staff,
            scope.safeguarding,
            scope.taken_by,
            scope.staff_perpetrator,
        ),
    )


async def remember_case(connection: asyncpg.Connection, case_id: UUID, scope: CaseScope) -> None:
    await write_together(connection, [remembered(case_id, scope)])


async def move_case(connection: asyncpg.Connection, case_id: UUID, team: str) -> None:
    await connection.execute(_MOVE_CASE, case_id, team)


async def load_scope(connection: asyncpg.Connection, case_id: UUID) -> CaseScope | None:
    row = await connection.fetchrow(
        """SELECT team, survivor_is_staff, safeguarding, taken_by, staff_perpetrator
           FROM case_access WHERE case_id = $1""",
        case_id,
    )
    return CaseScope(**dict(row)) if row else None


def _report_received(envelope: Envelope, report: ReportReceived) -> list[Write]:
    # An event from before teams existed names none: such a case waits in UNASSIGNED_TEAM,
    # where the data protection officer and the safeguarding lead still reach it.
    team = report.team or UNASSIGNED_TEAM
    return [remembered(report.case_id, scope_of_report(report, team=team))]


def _team_changed(envelope: Envelope, change: CaseTeamChanged) -> list[Write]:
    return [(_MOVE_CASE, (change.case_id, change.team))]


CASE_ACCESS_WRITES: Mapping[str, Callable[[Envelope, Any], Sequence[Write]]] = {
    "intake.report-received": _report_received,
    "intake.case-team-changed": _team_changed,
}


def with_case_access(handlers: Mapping[str, Handler]) -> dict[str, Handler]:
    """The service's handlers, each case event also kept in ``case_access``: written with
    the batch's other projections (one statement per batch), after the service's own
    handler, which never reads it in the same transaction."""
    combined: dict[str, Handler] = dict(handlers)
    for event_type, keep in CASE_ACCESS_WRITES.items():
        combined[event_type] = _kept_with(keep, handlers.get(event_type))
    return combined


def _kept_with(keep: Callable[[Envelope, Any], Sequence[Write]], own: Handler | None) -> Projection:
    if not isinstance(own, Projection):
        return Projection(keep, handler=own)
    own_writes = own.writes
    return Projection(
        lambda envelope, payload: [*keep(envelope, payload), *own_writes(envelope, payload)],
        handler=own.handler,
    )
