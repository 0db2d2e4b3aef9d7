"""Each service's copy of what decides who reaches a case (:class:`CaseScope`).

Intake writes it when it opens a case; every other service keeps it from intake's case
events (report-received, case-team-changed), which the chassis handles for any service
that reads ``hhc.intake.cases.v1``, before the service's own handler.
"""

from collections.abc import Mapping
from uuid import UUID

import asyncpg

from hhc_chassis.access import CaseScope
from hhc_chassis.consumer import Handler
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


async def remember_case(connection: asyncpg.Connection, case_id: UUID, scope: CaseScope) -> None:
    """Record a case's scope; a further report can raise a safeguarding concern or reveal
    that the survivor, or an alleged perpetrator, is staff, never lower any, and never
    moves the case's team."""
    await connection.execute(
        """INSERT INTO case_access (case_id, team, survivor_is_staff, safeguarding, taken_by,
                                    staff_perpetrator)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (case_id) DO UPDATE SET
               survivor_is_staff = case_access.survivor_is_staff OR EXCLUDED.survivor_is_staff,
               safeguarding = case_access.safeguarding OR EXCLUDED.safeguarding,
               staff_perpetrator = case_access.staff_perpetrator OR EXCLUDED.staff_perpetrator,
               updated_at = now()""",
        case_id,
        scope.team,
        scope.survivor_is_staff,
        scope.safeguarding,
        scope.taken_by,
        scope.staff_perpetrator,
    )


async def move_case(connection: asyncpg.Connection, case_id: UUID, team: str) -> None:
    await connection.execute(
        "UPDATE case_access SET team = $2, updated_at = now() WHERE case_id = $1", case_id, team
    )


async def load_scope(connection: asyncpg.Connection, case_id: UUID) -> CaseScope | None:
    row = await connection.fetchrow(
        """SELECT team, survivor_is_staff, safeguarding, taken_by, staff_perpetrator
           FROM case_access WHERE case_id = $1""",
        case_id,
    )
    return CaseScope(**dict(row)) if row else None


async def _on_report_received(
    connection: asyncpg.Connection, envelope: Envelope, report: ReportReceived
) -> None:
    # An event from before teams existed names none: such a case waits in UNASSIGNED_TEAM,
    # where the data protection officer and the safeguarding lead still reach it.
    await remember_case(
        connection, report.case_id, scope_of_report(report, team=report.team or UNASSIGNED_TEAM)
    )


async def _on_team_changed(
    connection: asyncpg.Connection, envelope: Envelope, change: CaseTeamChanged
) -> None:
    await move_case(connection, change.case_id, change.team)


CASE_ACCESS_HANDLERS: Mapping[str, Handler] = {
    "intake.report-received": _on_report_received,
    "intake.case-team-changed": _on_team_changed,
}


def with_case_access(handlers: Mapping[str, Handler]) -> dict[str, Handler]:
    """The service's handlers, each case event first kept in ``case_access``."""
    combined: dict[str, Handler] = dict(handlers)
    for event_type, keep in CASE_ACCESS_HANDLERS.items():
        own = handlers.get(event_type)
        combined[event_type] = keep if own is None else _both(keep, own)
    return combined


def _both(first: Handler, second: Handler) -> Handler:
    async def handle(connection: asyncpg.Connection, envelope: Envelope, payload: object) -> None:
        await first(connection, envelope, payload)
        await second(connection, envelope, payload)

    return handle
