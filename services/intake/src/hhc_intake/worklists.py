"""Worklists: the cases not closed that the caller reaches, most urgent first (overdue
actions, then the soonest due), with what risk says of them (:mod:`risk_projection`).

One query per page, whatever the number of cases: each case's open actions are summed up
in a lateral subquery over an index of open actions. Who reaches which case is decided by
:func:`hhc_chassis.access.reaches` on every row, never by SQL alone; the SQL only narrows
the rows read to the caller's team where their roles reach no other.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from hhc_chassis import audit
from hhc_chassis.access import Caller, CaseScope, Permission, Role, reaches, roles_granting
from hhc_chassis.auth import authorised
from hhc_chassis.http import invalid
from hhc_chassis.service import runtime_of
from hhc_contracts.vocabulary import ActionKind, CaseStatus, RiskLevel

router = APIRouter(tags=["worklists"])

_TEAM = r"^[a-z0-9][a-z0-9_-]*$"
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"

WorklistReader = Annotated[Caller, Depends(authorised(Permission.READ_WORKLIST))]

_TEAM_ROLES = frozenset({Role.CASEWORKER, Role.MANAGER})
"""Roles that reach only their own team's cases (hhc_chassis.access.role_reaches)."""

_PAGE = """
WITH listed AS (
    SELECT c.case_id, c.reference, c.status, c.owner, c.team, c.opened_at,
           s.team AS scope_team, s.survivor_is_staff, s.safeguarding, s.taken_by,
           s.staff_perpetrator,
           r.risk_level,
           a.next_kind, a.next_due_at,
           coalesce(a.overdue_count, 0) AS overdue_count,
           coalesce(a.overdue_kinds, '{}') AS overdue_kinds,
           CASE WHEN coalesce(a.overdue_count, 0) > 0 THEN 0 ELSE 1 END AS urgency
    FROM cases c
    JOIN case_access s USING (case_id)
    LEFT JOIN case_risk r USING (case_id)
    LEFT JOIN LATERAL (
        SELECT (array_agg(x.kind ORDER BY x.due_at NULLS LAST, x.action_id))[1] AS next_kind,
               min(x.due_at) AS next_due_at,
               count(*) FILTER (WHERE x.overdue) AS overdue_count,
               array_agg(DISTINCT x.kind) FILTER (WHERE x.overdue) AS overdue_kinds
        FROM case_actions x
        WHERE x.case_id = c.case_id AND x.ended_at IS NULL
    ) a ON true
    WHERE c.status <> 'closed'
      AND ($1::text IS NULL OR c.team = $1)
      AND ($2::text IS NULL OR c.owner = $2)
      AND (NOT $9::boolean OR c.owner IS NULL)
      AND ($3::text IS NULL OR s.team = $3)
)
SELECT * FROM listed
WHERE $4::int IS NULL
   OR (urgency, coalesce(next_due_at, 'infinity'), opened_at, case_id)
      > ($4, coalesce($5::timestamptz, 'infinity'), $6::timestamptz, $7::uuid)
ORDER BY urgency, coalesce(next_due_at, 'infinity'), opened_at, case_id
LIMIT $8
"""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ends, in the list's order."""

    urgency: int
    next_due_at: datetime | None
    opened_at: datetime
    case_id: UUID

    def encode(self) -> str:
        raw = json.dumps(
            [
                self.urgency,
                self.next_due_at.isoformat() if self.next_due_at else None,
                self.opened_at.isoformat(),
                str(self.case_id),
            ]
        )
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, cursor: str) -> "Position":
        try:
            urgency, due, opened, case_id = json.loads(base64.urlsafe_b64decode(cursor))
            if urgency not in (0, 1):
                raise ValueError(urgency)
            return cls(
                int(urgency),
                _instant(due) if due else None,
                _instant(opened),
                UUID(case_id),
            )
        except (binascii.Error, ValueError, TypeError, OverflowError) as error:
            raise invalid("cursor", "not a cursor this list gave", where="query") from error

    @classmethod
    def of(cls, row: asyncpg.Record) -> "Position":
        return cls(row["urgency"], row["next_due_at"], row["opened_at"], row["case_id"])


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment.astimezone(UTC)


class NextAction(BaseModel):
    kind: ActionKind
    due_at: datetime | None


class WorklistEntry(BaseModel):
    case_id: UUID
    reference: str
    status: CaseStatus
    owner: str | None
    team: str
    risk_level: RiskLevel | None = Field(description="Newest, as intake heard it from risk")
    next_action: NextAction | None = Field(description="The open action due soonest")
    overdue_actions: int
    overdue_kinds: list[ActionKind]
    days_open: int


class Worklist(BaseModel):
    cases: list[WorklistEntry]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: last")


def _scope(row: asyncpg.Record) -> CaseScope:
    return CaseScope(
        team=row["scope_team"],
        survivor_is_staff=row["survivor_is_staff"],
        safeguarding=row["safeguarding"],
        taken_by=row["taken_by"],
        staff_perpetrator=row["staff_perpetrator"],
    )


def _entry(row: asyncpg.Record, now: datetime) -> WorklistEntry:
    return WorklistEntry(
        case_id=row["case_id"],
        reference=row["reference"],
        status=CaseStatus(row["status"]),
        owner=row["owner"],
        team=row["team"],
        risk_level=RiskLevel(row["risk_level"]) if row["risk_level"] else None,
        next_action=NextAction(kind=ActionKind(row["next_kind"]), due_at=row["next_due_at"])
        if row["next_kind"]
        else None,
        overdue_actions=row["overdue_count"],
        overdue_kinds=sorted(ActionKind(kind) for kind in row["overdue_kinds"]),
        days_open=(now - row["opened_at"]).days,
    )


async def reached_page(
    connection: asyncpg.Connection,
    caller: Caller,
    *,
    team: str | None,
    owner: str | None,
    limit: int,
    after: Position | None,
    unowned: bool = False,
) -> tuple[list[asyncpg.Record], Position | None]:
    """Up to ``limit`` rows the caller reaches after ``after``, and where the next page
    starts (None: no more). Rows the caller does not reach are skipped, reading on."""
    granting = roles_granting(caller, Permission.READ_WORKLIST)
    only_team = caller.team if granting <= _TEAM_ROLES else None
    if granting <= _TEAM_ROLES and caller.team is None:
        return [], None
    batch = max(limit + 1, 100)
    reached: list[asyncpg.Record] = []
    while len(reached) <= limit:
        rows = await connection.fetch(
            _PAGE,
            team,
            owner,
            only_team,
            after.urgency if after else None,
            after.next_due_at if after else None,
            after.opened_at if after else None,
            after.case_id if after else None,
            batch,
            unowned,
        )
        reached.extend(
            row for row in rows if reaches(caller, Permission.READ_WORKLIST, _scope(row))
        )
        if len(rows) < batch:
            break
        after = Position.of(rows[-1])
    page = reached[:limit]
    return page, Position.of(page[-1]) if len(reached) > limit else None


@router.get(
    "/v1/worklists",
    response_model=Worklist,
    summary="Cases not closed that the caller reaches, most urgent first: overdue actions, "
    "then the soonest due",
)
async def get_worklist(
    request: Request,
    caller: WorklistReader,
    team: Annotated[str | None, Query(max_length=60, pattern=_TEAM)] = None,
    owner: Annotated[str | None, Query(max_length=200, pattern=_PRINTABLE)] = None,
    unowned: Annotated[
        bool, Query(description="Only cases nobody owns yet: for a manager to assign")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Worklist:
    after = Position.decode(cursor) if cursor else None
    async with runtime_of(request).pool.acquire() as connection:
        rows, following = await reached_page(
            connection, caller, team=team, owner=owner, limit=limit, after=after, unowned=unowned
        )
    # One record for the list: it shows references, owners and deadlines, no one's
    # personal data; opening a case from it is audited as every case look is.
    await audit.record(request, caller, case_id=None, fields=("worklist",), outcome=audit.GRANTED)
    now = datetime.now(UTC)
    return Worklist(
        cases=[_entry(row, now) for row in rows],
        next_cursor=following.encode() if following else None,
    )
