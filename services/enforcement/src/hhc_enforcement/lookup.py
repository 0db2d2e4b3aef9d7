"""Letting a caller at one case through something of it: an enforcement case, a proposal,
a decision, a perpetrator. The thing's case is looked up first (404, audited, when there
is none) and the look at the case is checked and audited as any (``audit.open_case_for``):
a case the caller may not reach answers 404, as one that does not exist."""

from collections.abc import Sequence
from uuid import UUID

from fastapi import Request

from hhc_chassis import audit
from hhc_chassis.access import Caller, Permission, reaches
from hhc_chassis.case_access import load_scope
from hhc_chassis.service import runtime_of

_CASE_OF = {
    "enforcement case": "SELECT case_id FROM enforcement_cases WHERE enforcement_case_id = $1",
    "proposal": "SELECT case_id FROM enforcement_proposals WHERE proposal_id = $1",
    "decision": "SELECT case_id FROM enforcement_decisions WHERE decision_id = $1",
}


async def open_case_of(
    request: Request,
    caller: Caller,
    permission: Permission,
    what: str,
    thing_id: UUID,
    fields: Sequence[str],
) -> UUID:
    """The case of an enforcement case, proposal or decision (``what``) the caller may use
    ``permission`` on, or 404."""
    case_id: UUID | None = await runtime_of(request).pool.fetchval(_CASE_OF[what], thing_id)
    return await audit.open_case_of(
        request, caller, permission, what=what, case_id=case_id, fields=fields
    )


async def open_perpetrator(
    request: Request,
    caller: Caller,
    permission: Permission,
    perpetrator_id: UUID,
    fields: Sequence[str],
) -> UUID:
    """A case of the perpetrator's the caller reaches (the first, of those they do), or
    404: someone alleged in several cases is reached through any of them."""
    pool = runtime_of(request).pool
    rows = await pool.fetch(
        """SELECT case_id FROM perpetrator_cases WHERE perpetrator_id = $1
           GROUP BY case_id ORDER BY min(linked_at)""",
        perpetrator_id,
    )
    case_ids: list[UUID] = [row["case_id"] for row in rows]
    if not case_ids:
        await audit.not_found(request, caller, what="perpetrator", fields=fields)
    chosen = case_ids[0]
    async with pool.acquire() as connection:
        for case_id in case_ids:
            scope = await load_scope(connection, case_id)
            if scope is not None and reaches(caller, permission, scope):
                chosen = case_id
                break
    await audit.open_case_for(request, caller, permission, chosen, fields=fields)
    return chosen
