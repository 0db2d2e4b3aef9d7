"""Putting alleged perpetrators on enforcement cases: which one acts for them on a case,
joining one (``ladder.case_to_join``) or opening one, or none yet (``rules.Admission``).
Shared by the report's handler and the staff endpoints; runs in the caller's transaction,
under its case lock (``store.lock_case``), and returns the events to stage with it.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from hhc_chassis.events import new_envelope
from hhc_contracts import Envelope
from hhc_contracts.v1 import EnforcementCaseOpened
from hhc_contracts.vocabulary import EnforcementRoute, PerpetratorKind
from hhc_enforcement import store
from hhc_enforcement.ladder import case_to_join, reference_key, route_for
from hhc_enforcement.rules import Admission, case_admission
from hhc_enforcement.store import PerpetratorRow


@dataclass(frozen=True, slots=True)
class Placed:
    enforcement_case_id: UUID | None
    """The enforcement case that acts for the perpetrator on the case; None while the case
    awaits validity (3.2.5) or allows none."""
    events: list[Envelope]


async def case_allows(
    connection: asyncpg.Connection, case_id: UUID, kind: PerpetratorKind
) -> Admission:
    """What the case's reports allow for a perpetrator of ``kind``
    (``rules.case_admission``)."""
    return case_admission(
        await store.report_facts(connection, [case_id]),
        [kind],
        validity_confirmed=await store.validity_confirmed(connection, case_id),
    )


async def _open(
    connection: asyncpg.Connection,
    cause: Envelope | None,
    *,
    case_id: UUID,
    perpetrator: PerpetratorRow,
    route: EnforcementRoute,
    now: datetime,
) -> tuple[UUID, Envelope]:
    opened_id = await store.open_enforcement_case(
        connection,
        case_id=case_id,
        route=route,
        perpetrator_kind=perpetrator.kind,
        opened_at=now,
    )
    event = EnforcementCaseOpened(
        enforcement_case_id=opened_id,
        case_id=case_id,
        perpetrator_kind=perpetrator.kind,
        route=route,
        opened_at=now,
    )
    return opened_id, new_envelope(event, case_id=case_id, occurred_at=now, cause=cause)


async def place(
    connection: asyncpg.Connection,
    cause: Envelope | None,
    *,
    perpetrator: PerpetratorRow,
    case_id: UUID,
    allowed: Admission,
    linked_by: str,
    now: datetime,
    report_ids: tuple[UUID, ...] = (),
) -> Placed:
    """Link ``perpetrator`` to ``case_id`` (naming ``report_ids``) on the enforcement case
    that should act for them there:

    - the one they are on, while it is open, on their route, and either
      ``case_to_join`` chooses it or it acts against nobody else;
    - else the one ``case_to_join`` chooses: the same person's from any case, or the
      case's own on the route when one of the two is not identified;
    - else a new one.

    An enforcement case they leave that then acts against nobody is closed, its evidence
    and open requests going with them. While the case awaits validity they are linked
    with no enforcement case; where it allows none, nothing is linked."""
    route = route_for(perpetrator.kind)
    current = await store.current_link(connection, perpetrator.perpetrator_id, case_id)
    if allowed is Admission.NONE or route is None:
        if current is not None:
            for report_id in report_ids:
                await store.add_report(connection, current.link_id, report_id)
        return Placed(current.enforcement_case_id if current else None, [])
    if allowed is Admission.AWAITS_VALIDITY and (
        current is None or current.enforcement_case_id is None
    ):
        if current is None:
            await store.link(
                connection,
                perpetrator_id=perpetrator.perpetrator_id,
                case_id=case_id,
                enforcement_case_id=None,
                report_ids=report_ids,
                linked_by=linked_by,
                linked_at=now,
            )
        else:
            for report_id in report_ids:
                await store.add_report(connection, current.link_id, report_id)
        return Placed(None, [])

    entries = await store.open_cases_to_join(
        connection,
        case_id=case_id,
        reference_key=reference_key(perpetrator.as_ladder),
        excluding=perpetrator.perpetrator_id,
    )
    joined = case_to_join(perpetrator.as_ladder, case_id=case_id, open_cases=entries)
    on = None
    others = 0
    if current is not None and current.enforcement_case_id is not None:
        on = await store.enforcement_case(connection, current.enforcement_case_id)
        others = await store.others_on(
            connection, current.enforcement_case_id, excluding=perpetrator.perpetrator_id
        )
    if (
        current is not None
        and on is not None
        and on.closed_at is None
        and on.route is route
        and (joined == on.enforcement_case_id or (joined is None and others == 0))
    ):
        for report_id in report_ids:
            await store.add_report(connection, current.link_id, report_id)
        return Placed(on.enforcement_case_id, [])

    events: list[Envelope] = []
    target = joined
    if target is None:
        target, opened = await _open(
            connection, cause, case_id=case_id, perpetrator=perpetrator, route=route, now=now
        )
        events.append(opened)
    await store.link_requests(connection, case_id=case_id, enforcement_case_id=target, route=route)
    if current is not None and current.enforcement_case_id is None:
        await store.set_link_case(connection, current.link_id, target)
        for report_id in report_ids:
            await store.add_report(connection, current.link_id, report_id)
        return Placed(target, events)
    carried: tuple[UUID, ...] = ()
    if current is not None:
        await store.leave(connection, current.link_id, now)
        carried = current.report_ids
    await store.link(
        connection,
        perpetrator_id=perpetrator.perpetrator_id,
        case_id=case_id,
        enforcement_case_id=target,
        report_ids=(*carried, *report_ids),
        linked_by=linked_by,
        linked_at=now,
    )
    if on is not None and others == 0:
        await left_empty(connection, on.enforcement_case_id, continued_as=target, now=now)
    return Placed(target, events)


async def left_empty(
    connection: asyncpg.Connection, enforcement_case_id: UUID, *, continued_as: UUID, now: datetime
) -> None:
    """An enforcement case whose only perpetrator now has their case on another closes;
    its evidence and risk's open requests go with them (the decisions and steps stay, as
    what was done on it)."""
    if enforcement_case_id == continued_as:
        return
    await store.close_enforcement_case(
        connection,
        enforcement_case_id,
        reason=f"continued as enforcement case {continued_as}",
        at=now,
    )
    await store.move_evidence(connection, source=enforcement_case_id, target=continued_as)
    await store.relink_requests(connection, source=enforcement_case_id, target=continued_as)


async def place_everywhere(
    connection: asyncpg.Connection,
    cause: Envelope | None,
    *,
    perpetrator: PerpetratorRow,
    linked_by: str,
    now: datetime,
) -> list[Envelope]:
    """After their kind or reference changed: each case they are on, placed anew."""
    events: list[Envelope] = []
    for current in await store.current_links_of(connection, perpetrator.perpetrator_id):
        placed = await place(
            connection,
            cause,
            perpetrator=perpetrator,
            case_id=current.case_id,
            allowed=await case_allows(connection, current.case_id, perpetrator.kind),
            linked_by=linked_by,
            now=now,
        )
        events += placed.events
    return events


async def merge(
    connection: asyncpg.Connection,
    *,
    duplicate: PerpetratorRow,
    into: PerpetratorRow,
    linked_by: str,
    now: datetime,
) -> list[Envelope]:
    """``duplicate`` was found to be ``into`` (the same reference): their cases, with the
    reports naming them, become ``into``'s, on ``into``'s enforcement case where there is
    one to join."""
    events: list[Envelope] = []
    for current in await store.current_links_of(connection, duplicate.perpetrator_id):
        await store.leave(connection, current.link_id, now)
        placed = await place(
            connection,
            None,
            perpetrator=into,
            case_id=current.case_id,
            allowed=await case_allows(connection, current.case_id, into.kind),
            linked_by=linked_by,
            now=now,
            report_ids=current.report_ids,
        )
        events += placed.events
        left = current.enforcement_case_id
        if left is not None and placed.enforcement_case_id is not None:
            others = await store.others_on(connection, left, excluding=duplicate.perpetrator_id)
            if others == 0:
                await left_empty(connection, left, continued_as=placed.enforcement_case_id, now=now)
    await store.mark_merged(connection, duplicate.perpetrator_id, into.perpetrator_id)
    return events
