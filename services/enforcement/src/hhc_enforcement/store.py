"""Enforcement's tables: reading what a decision needs, writing what it decided. Every
function runs on the caller's connection, in the caller's transaction; none decides."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from hhc_chassis.disposal import Erasure
from hhc_contracts.v1 import ReportReceived
from hhc_contracts.vocabulary import (
    ActionKind,
    Classification,
    EnforcementRoute,
    EnforcementStep,
    EvidenceKind,
    EvidenceStrength,
    PerpetratorKind,
    Track,
)
from hhc_enforcement.evidence import EvidenceItem
from hhc_enforcement.ladder import (
    Decision,
    OpenCase,
    Perpetrator,
    reference_key,
    same_perpetrator,
)
from hhc_enforcement.rules import ANSWERED_BY, ReportFacts, routes_answering

_ENFORCEMENT_CASES_OF_CASE = "SELECT enforcement_case_id FROM enforcement_cases WHERE case_id = $1"

ERASURES = (
    # Policy 3.5.2: a case erased at intake (intake.case-erased) keeps nothing here in
    # words: reasons, notes, summaries, order terms, what the evidence is and where it is
    # kept, the references that lead to a person (crime numbers, a perpetrator's tenancy or
    # employee reference). Rows stay, anonymised: the ladder's steps, decisions, evidence
    # kinds and strengths, hearings, orders' dates and reminders are the enforcement
    # history that is counted, and who of staff decided what. Each statement changes only
    # what is still there.
    Erasure(
        "validity_reasons",
        "UPDATE validity_findings SET reason = '' WHERE case_id = $1 AND reason <> ''",
    ),
    # An alleged perpetrator is the case's only while no other case concerns them: one
    # named in another survivor's case stays as that case knows them.
    Erasure(
        "perpetrators",
        """UPDATE perpetrators p SET reference = NULL, reference_key = NULL, description = NULL
           WHERE (p.reference IS NOT NULL OR p.description IS NOT NULL)
             AND EXISTS (SELECT 1 FROM perpetrator_cases l
                         WHERE l.perpetrator_id = p.perpetrator_id AND l.case_id = $1)
             AND NOT EXISTS (SELECT 1 FROM perpetrator_cases l
                             WHERE l.perpetrator_id = p.perpetrator_id AND l.case_id <> $1)""",
    ),
    Erasure(
        "evidence_items",
        """UPDATE evidence_items
           SET source = '', reference = NULL, storage_reference = NULL, summary = NULL
           WHERE case_id = $1
             AND (source <> '' OR reference IS NOT NULL OR storage_reference IS NOT NULL
                  OR summary IS NOT NULL)""",
    ),
    Erasure(
        "proposal_reasons",
        """UPDATE enforcement_proposals SET reason = '', skip_reason = NULL
           WHERE case_id = $1 AND (reason <> '' OR skip_reason IS NOT NULL)""",
    ),
    Erasure(
        "decision_reasons",
        """UPDATE enforcement_decisions SET reason = '', skip_reason = NULL
           WHERE case_id = $1 AND (reason <> '' OR skip_reason IS NOT NULL)""",
    ),
    Erasure(
        "step_notes",
        f"""UPDATE enforcement_steps SET note = NULL
            WHERE enforcement_case_id IN ({_ENFORCEMENT_CASES_OF_CASE}) AND note IS NOT NULL""",
    ),
    Erasure(
        "order_terms",
        "UPDATE court_orders SET terms = NULL WHERE case_id = $1 AND terms IS NOT NULL",
    ),
    Erasure(
        "breach_summaries",
        "UPDATE breaches SET summary = NULL WHERE case_id = $1 AND summary IS NOT NULL",
    ),
    Erasure(
        "closure_reasons",
        """UPDATE enforcement_cases SET closed_reason = NULL
           WHERE case_id = $1 AND closed_reason IS NOT NULL""",
    ),
)
"""What enforcement erases of a case (policy 3.5.2); each statement takes the case id ($1)."""

REPORTED = "report"
"""``recorded_by`` / ``linked_by`` of what a report, not a person, recorded."""


async def lock_case(connection: asyncpg.Connection, case_id: UUID) -> None:
    """Serialise, until the transaction ends, whatever opens or joins enforcement cases
    for ``case_id`` (a report's handler, staff recording perpetrators or validity)."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtext('hhc-enforcement:case:' || $1::uuid::text))", case_id
    )


async def lock_reference(connection: asyncpg.Connection, key: str) -> None:
    """Serialise identifying perpetrators by the same reference."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtext('hhc-enforcement:reference:' || $1::text))", key
    )


# --------------------------------------------------------------------------- reports


async def store_report(connection: asyncpg.Connection, report: ReportReceived) -> bool:
    """Keep what enforcement decides on; False when the report was kept already."""
    inserted = await connection.fetchval(
        """INSERT INTO case_reports (report_id, case_id, received_at, track, classification,
                                     immediate_danger, perpetrator_kinds)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (report_id) DO NOTHING RETURNING true""",
        report.report_id,
        report.case_id,
        report.received_at,
        report.track.value,
        report.classification.value,
        report.immediate_danger,
        [kind.value for kind in report.perpetrator_kinds],
    )
    return bool(inserted)


async def report_facts(
    connection: asyncpg.Connection, case_ids: Sequence[UUID]
) -> list[ReportFacts]:
    rows = await connection.fetch(
        """SELECT received_at, track, classification, immediate_danger FROM case_reports
           WHERE case_id = ANY($1::uuid[]) ORDER BY received_at""",
        list(case_ids),
    )
    return [
        ReportFacts(
            received_at=row["received_at"],
            track=Track(row["track"]),
            classification=Classification(row["classification"]),
            immediate_danger=row["immediate_danger"],
        )
        for row in rows
    ]


async def latest_finding(connection: asyncpg.Connection, case_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        """SELECT * FROM validity_findings WHERE case_id = $1
           ORDER BY recorded_at DESC, finding_id LIMIT 1""",
        case_id,
    )
    return row


async def validity_confirmed(connection: asyncpg.Connection, case_id: UUID) -> bool:
    finding = await latest_finding(connection, case_id)
    return finding is not None and finding["valid"]


async def record_finding(
    connection: asyncpg.Connection,
    *,
    case_id: UUID,
    valid: bool,
    reason: str,
    recorded_by: str,
    recorded_at: datetime,
) -> asyncpg.Record:
    row: asyncpg.Record = await connection.fetchrow(
        """INSERT INTO validity_findings (finding_id, case_id, valid, reason, recorded_by,
                                          recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        uuid.uuid4(),
        case_id,
        valid,
        reason,
        recorded_by,
        recorded_at,
    )
    return row


# --------------------------------------------------------------------------- perpetrators


@dataclass(frozen=True, slots=True)
class PerpetratorRow:
    perpetrator_id: UUID
    kind: PerpetratorKind
    reference: str | None
    description: str | None
    known_since: datetime
    recorded_by: str
    identified_by: str | None
    identified_at: datetime | None
    merged_into: UUID | None

    @property
    def as_ladder(self) -> Perpetrator:
        return Perpetrator(self.kind, self.reference)


def _perpetrator(row: asyncpg.Record) -> PerpetratorRow:
    return PerpetratorRow(
        perpetrator_id=row["perpetrator_id"],
        kind=PerpetratorKind(row["kind"]),
        reference=row["reference"],
        description=row["description"],
        known_since=row["known_since"],
        recorded_by=row["recorded_by"],
        identified_by=row["identified_by"],
        identified_at=row["identified_at"],
        merged_into=row["merged_into"],
    )


async def perpetrator(
    connection: asyncpg.Connection, perpetrator_id: UUID, *, for_update: bool = False
) -> PerpetratorRow | None:
    row = await connection.fetchrow(
        "SELECT * FROM perpetrators WHERE perpetrator_id = $1"
        + (" FOR UPDATE" if for_update else ""),
        perpetrator_id,
    )
    return _perpetrator(row) if row else None


async def perpetrators_on_case(
    connection: asyncpg.Connection, case_id: UUID
) -> list[PerpetratorRow]:
    """The case's perpetrators now (not those merged into another), first known first."""
    rows = await connection.fetch(
        """SELECT p.* FROM perpetrators p
           WHERE p.merged_into IS NULL AND EXISTS (
               SELECT 1 FROM perpetrator_cases l WHERE l.perpetrator_id = p.perpetrator_id
                   AND l.case_id = $1 AND l.left_at IS NULL)
           ORDER BY p.known_since, p.perpetrator_id""",
        case_id,
    )
    return [_perpetrator(row) for row in rows]


async def same_person(
    connection: asyncpg.Connection, perpetrator: Perpetrator, *, other_than: UUID | None
) -> PerpetratorRow | None:
    """Someone already recorded by the same reference, on the same route."""
    key = reference_key(perpetrator)
    if key is None:
        return None
    rows = await connection.fetch(
        """SELECT * FROM perpetrators WHERE reference_key = $1 AND merged_into IS NULL
               AND perpetrator_id IS DISTINCT FROM $2
           ORDER BY known_since, perpetrator_id""",
        key,
        other_than,
    )
    for row in rows:
        found = _perpetrator(row)
        if same_perpetrator(found.as_ladder, perpetrator):
            return found
    return None


async def new_perpetrator(
    connection: asyncpg.Connection,
    *,
    kind: PerpetratorKind,
    known_since: datetime,
    recorded_by: str,
    reference: str | None = None,
    description: str | None = None,
) -> PerpetratorRow:
    identified = reference is not None
    row = await connection.fetchrow(
        """INSERT INTO perpetrators (perpetrator_id, kind, reference, reference_key,
                                     description, known_since, recorded_by, identified_by,
                                     identified_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
        uuid.uuid4(),
        kind.value,
        reference,
        reference_key(Perpetrator(kind, reference)),
        description,
        known_since,
        recorded_by,
        recorded_by if identified else None,
        known_since if identified else None,
    )
    return _perpetrator(row)


async def update_perpetrator(
    connection: asyncpg.Connection,
    perpetrator: PerpetratorRow,
    *,
    kind: PerpetratorKind,
    reference: str | None,
    description: str | None,
    identified_by: str | None,
    identified_at: datetime | None,
) -> PerpetratorRow:
    row = await connection.fetchrow(
        """UPDATE perpetrators SET kind = $2, reference = $3, reference_key = $4,
                                   description = $5, identified_by = $6, identified_at = $7
           WHERE perpetrator_id = $1 RETURNING *""",
        perpetrator.perpetrator_id,
        kind.value,
        reference,
        reference_key(Perpetrator(kind, reference)),
        description,
        identified_by,
        identified_at,
    )
    return _perpetrator(row)


async def mark_merged(connection: asyncpg.Connection, perpetrator_id: UUID, into: UUID) -> None:
    await connection.execute(
        "UPDATE perpetrators SET merged_into = $2 WHERE perpetrator_id = $1", perpetrator_id, into
    )


# --------------------------------------------------------------------------- links


@dataclass(frozen=True, slots=True)
class Link:
    link_id: UUID
    perpetrator_id: UUID
    case_id: UUID
    enforcement_case_id: UUID | None
    report_ids: tuple[UUID, ...]


def _link(row: asyncpg.Record) -> Link:
    return Link(
        link_id=row["link_id"],
        perpetrator_id=row["perpetrator_id"],
        case_id=row["case_id"],
        enforcement_case_id=row["enforcement_case_id"],
        report_ids=tuple(row["report_ids"]),
    )


async def current_link(
    connection: asyncpg.Connection, perpetrator_id: UUID, case_id: UUID
) -> Link | None:
    row = await connection.fetchrow(
        """SELECT * FROM perpetrator_cases
           WHERE perpetrator_id = $1 AND case_id = $2 AND left_at IS NULL""",
        perpetrator_id,
        case_id,
    )
    return _link(row) if row else None


async def current_links_of(connection: asyncpg.Connection, perpetrator_id: UUID) -> list[Link]:
    rows = await connection.fetch(
        """SELECT * FROM perpetrator_cases WHERE perpetrator_id = $1 AND left_at IS NULL
           ORDER BY linked_at, link_id""",
        perpetrator_id,
    )
    return [_link(row) for row in rows]


async def links_on_case(connection: asyncpg.Connection, case_id: UUID) -> list[Link]:
    rows = await connection.fetch(
        """SELECT * FROM perpetrator_cases WHERE case_id = $1 AND left_at IS NULL
           ORDER BY linked_at, link_id""",
        case_id,
    )
    return [_link(row) for row in rows]


async def cases_of_perpetrator(connection: asyncpg.Connection, perpetrator_id: UUID) -> list[UUID]:
    """Every case that concerns them, first linked first."""
    rows = await connection.fetch(
        """SELECT case_id FROM perpetrator_cases WHERE perpetrator_id = $1
           GROUP BY case_id ORDER BY min(linked_at)""",
        perpetrator_id,
    )
    return [row["case_id"] for row in rows]


async def link(
    connection: asyncpg.Connection,
    *,
    perpetrator_id: UUID,
    case_id: UUID,
    enforcement_case_id: UUID | None,
    report_ids: Sequence[UUID],
    linked_by: str,
    linked_at: datetime,
) -> None:
    await connection.execute(
        """INSERT INTO perpetrator_cases (link_id, perpetrator_id, case_id, enforcement_case_id,
                                          report_ids, linked_by, linked_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        uuid.uuid4(),
        perpetrator_id,
        case_id,
        enforcement_case_id,
        list(dict.fromkeys(report_ids)),
        linked_by,
        linked_at,
    )


async def add_report(connection: asyncpg.Connection, link_id: UUID, report_id: UUID | None) -> None:
    if report_id is None:
        return
    await connection.execute(
        """UPDATE perpetrator_cases SET report_ids = array_append(report_ids, $2)
           WHERE link_id = $1 AND NOT ($2 = ANY(report_ids))""",
        link_id,
        report_id,
    )


async def set_link_case(
    connection: asyncpg.Connection, link_id: UUID, enforcement_case_id: UUID
) -> None:
    await connection.execute(
        "UPDATE perpetrator_cases SET enforcement_case_id = $2 WHERE link_id = $1",
        link_id,
        enforcement_case_id,
    )


async def leave(connection: asyncpg.Connection, link_id: UUID, at: datetime) -> None:
    await connection.execute(
        "UPDATE perpetrator_cases SET left_at = $2 WHERE link_id = $1", link_id, at
    )


# --------------------------------------------------------------------------- enforcement cases


@dataclass(frozen=True, slots=True)
class EnforcementCaseRow:
    enforcement_case_id: UUID
    case_id: UUID
    route: EnforcementRoute
    perpetrator_kind: PerpetratorKind
    opened_at: datetime
    closed_at: datetime | None
    closed_reason: str | None


def _enforcement_case(row: asyncpg.Record) -> EnforcementCaseRow:
    return EnforcementCaseRow(
        enforcement_case_id=row["enforcement_case_id"],
        case_id=row["case_id"],
        route=EnforcementRoute(row["route"]),
        perpetrator_kind=PerpetratorKind(row["perpetrator_kind"]),
        opened_at=row["opened_at"],
        closed_at=row["closed_at"],
        closed_reason=row["closed_reason"],
    )


async def enforcement_case(
    connection: asyncpg.Connection, enforcement_case_id: UUID, *, for_update: bool = False
) -> EnforcementCaseRow | None:
    row = await connection.fetchrow(
        "SELECT * FROM enforcement_cases WHERE enforcement_case_id = $1"
        + (" FOR UPDATE" if for_update else ""),
        enforcement_case_id,
    )
    return _enforcement_case(row) if row else None


async def enforcement_cases_of(
    connection: asyncpg.Connection, case_id: UUID
) -> list[EnforcementCaseRow]:
    """Those opened for the case, and those its perpetrators' links joined."""
    rows = await connection.fetch(
        """SELECT * FROM enforcement_cases e
           WHERE e.case_id = $1 OR EXISTS (
               SELECT 1 FROM perpetrator_cases l
               WHERE l.enforcement_case_id = e.enforcement_case_id AND l.case_id = $1)
           ORDER BY e.opened_at, e.enforcement_case_id""",
        case_id,
    )
    return [_enforcement_case(row) for row in rows]


async def cases_concerned(connection: asyncpg.Connection, enforcement_case_id: UUID) -> list[UUID]:
    """The cases an enforcement case acts on: the one it opened for, then those joining."""
    rows = await connection.fetch(
        """SELECT case_id FROM (
               SELECT case_id, opened_at AS since FROM enforcement_cases
               WHERE enforcement_case_id = $1
               UNION ALL
               SELECT case_id, linked_at FROM perpetrator_cases
               WHERE enforcement_case_id = $1 AND left_at IS NULL) concerned
           GROUP BY case_id ORDER BY min(since)""",
        enforcement_case_id,
    )
    return [row["case_id"] for row in rows]


async def open_enforcement_case(
    connection: asyncpg.Connection,
    *,
    case_id: UUID,
    route: EnforcementRoute,
    perpetrator_kind: PerpetratorKind,
    opened_at: datetime,
) -> UUID:
    enforcement_case_id = uuid.uuid4()
    await connection.execute(
        """INSERT INTO enforcement_cases (enforcement_case_id, case_id, route, perpetrator_kind,
                                          opened_at)
           VALUES ($1, $2, $3, $4, $5)""",
        enforcement_case_id,
        case_id,
        route.value,
        perpetrator_kind.value,
        opened_at,
    )
    return enforcement_case_id


async def close_enforcement_case(
    connection: asyncpg.Connection, enforcement_case_id: UUID, *, reason: str, at: datetime
) -> None:
    await connection.execute(
        """UPDATE enforcement_cases SET closed_at = $2, closed_reason = $3
           WHERE enforcement_case_id = $1 AND closed_at IS NULL""",
        enforcement_case_id,
        at,
        reason,
    )


async def others_on(
    connection: asyncpg.Connection, enforcement_case_id: UUID, *, excluding: UUID
) -> int:
    """How many perpetrators besides ``excluding`` the enforcement case acts against now."""
    count: int = await connection.fetchval(
        """SELECT count(*) FROM perpetrator_cases
           WHERE enforcement_case_id = $1 AND left_at IS NULL AND perpetrator_id <> $2""",
        enforcement_case_id,
        excluding,
    )
    return count


async def open_cases_to_join(
    connection: asyncpg.Connection,
    *,
    case_id: UUID,
    reference_key: str | None,
    excluding: UUID,
) -> list[OpenCase]:
    """What ``ladder.case_to_join`` chooses from: each open enforcement case of the case,
    or of someone with the same reference, once per perpetrator it acts against (but
    ``excluding`` on this very case, whose placing is being decided); one of the case's
    opened before perpetrators were recorded, as against someone not identified."""
    rows = await connection.fetch(
        # Links of the case, and links of someone with the same reference: two branches
        # that each use an index (an OR across the two tables read every link), united
        # on the link's identity so that a link matching both comes once.
        """SELECT enforcement_case_id, case_id, route, kind, reference, opened_at
           FROM (
               SELECT l.perpetrator_id, e.enforcement_case_id, l.case_id, e.route, p.kind,
                      p.reference, e.opened_at
               FROM perpetrator_cases l
               JOIN enforcement_cases e USING (enforcement_case_id)
               JOIN perpetrators p USING (perpetrator_id)
               WHERE l.case_id = $1 AND l.left_at IS NULL AND e.closed_at IS NULL
                   AND l.perpetrator_id <> $3
               UNION
               SELECT l.perpetrator_id, e.enforcement_case_id, l.case_id, e.route, p.kind,
                      p.reference, e.opened_at
               FROM perpetrators p
               JOIN perpetrator_cases l USING (perpetrator_id)
               JOIN enforcement_cases e USING (enforcement_case_id)
               WHERE $2::text IS NOT NULL AND p.reference_key = $2
                   AND l.left_at IS NULL AND e.closed_at IS NULL
                   AND NOT (l.perpetrator_id = $3 AND l.case_id = $1)
           ) AS linked
           UNION ALL
           SELECT e.enforcement_case_id, e.case_id, e.route, e.perpetrator_kind, NULL,
                  e.opened_at
           FROM enforcement_cases e
           WHERE e.case_id = $1 AND e.closed_at IS NULL AND NOT EXISTS (
               SELECT 1 FROM perpetrator_cases l
               WHERE l.enforcement_case_id = e.enforcement_case_id)
           ORDER BY opened_at, enforcement_case_id""",
        case_id,
        reference_key,
        excluding,
    )
    return [
        OpenCase(
            enforcement_case_id=row["enforcement_case_id"],
            case_id=row["case_id"],
            route=EnforcementRoute(row["route"]),
            perpetrator=Perpetrator(PerpetratorKind(row["kind"]), row["reference"]),
        )
        for row in rows
    ]


async def move_evidence(connection: asyncpg.Connection, *, source: UUID, target: UUID) -> None:
    """The log of an enforcement case closed because its perpetrator's case continues as
    another: the evidence is about them, so it goes with them."""
    await connection.execute(
        "UPDATE evidence_items SET enforcement_case_id = $2 WHERE enforcement_case_id = $1",
        source,
        target,
    )


# --------------------------------------------------------------------------- risk's requests

STORE_REQUEST = """
    INSERT INTO enforcement_requests (action_id, case_id, kind, enforcement_case_id,
                                      required_at, due_at, received_at)
    VALUES ($1, $2, $3,
            (SELECT enforcement_case_id FROM (
                 SELECT e.enforcement_case_id, e.route, e.opened_at
                 FROM enforcement_cases e
                 WHERE e.case_id = $2 AND e.route = ANY($7::text[]) AND e.closed_at IS NULL
                 UNION
                 SELECT e.enforcement_case_id, e.route, e.opened_at
                 FROM perpetrator_cases l JOIN enforcement_cases e USING (enforcement_case_id)
                 WHERE l.case_id = $2 AND l.left_at IS NULL
                     AND e.route = ANY($7::text[]) AND e.closed_at IS NULL) AS open_for_case
             ORDER BY route = $8 DESC, opened_at LIMIT 1),
            $4, $5, $6)
    ON CONFLICT (action_id) DO NOTHING RETURNING true"""
"""Risk's request, linked to the open enforcement case that answers it: the case's own, or
one its alleged perpetrator's case is linked to. Two lookups by the case's id, each by an
index: one condition with OR across both tables read every open enforcement case."""


async def store_request(
    connection: asyncpg.Connection,
    *,
    action_id: UUID,
    case_id: UUID,
    kind: ActionKind,
    required_at: datetime,
    due_at: datetime,
    received_at: datetime,
) -> bool:
    inserted = await connection.fetchval(
        STORE_REQUEST,
        action_id,
        case_id,
        kind.value,
        required_at,
        due_at,
        received_at,
        [route.value for route in routes_answering(kind)],
        EnforcementRoute.TENANCY_ENFORCEMENT.value,
    )
    return bool(inserted)


async def link_requests(
    connection: asyncpg.Connection,
    *,
    case_id: UUID,
    enforcement_case_id: UUID,
    route: EnforcementRoute,
) -> None:
    """Risk's requests for the case not linked to an enforcement case yet (the action came
    before the report, or the case awaited validity) now are, where a step of ``route``
    answers them."""
    kinds = [kind.value for kind in ANSWERED_BY if route in routes_answering(kind)]
    await connection.execute(
        """UPDATE enforcement_requests SET enforcement_case_id = $2
           WHERE case_id = $1 AND enforcement_case_id IS NULL AND answered_at IS NULL
               AND kind = ANY($3::text[])""",
        case_id,
        enforcement_case_id,
        kinds,
    )


async def relink_requests(connection: asyncpg.Connection, *, source: UUID, target: UUID) -> None:
    await connection.execute(
        """UPDATE enforcement_requests SET enforcement_case_id = $2
           WHERE enforcement_case_id = $1 AND answered_at IS NULL""",
        source,
        target,
    )


@dataclass(frozen=True, slots=True)
class Request:
    action_id: UUID
    case_id: UUID
    kind: ActionKind
    enforcement_case_id: UUID | None
    required_at: datetime
    due_at: datetime
    answered_at: datetime | None
    answered_by_step_id: UUID | None


def _request(row: asyncpg.Record) -> Request:
    return Request(
        action_id=row["action_id"],
        case_id=row["case_id"],
        kind=ActionKind(row["kind"]),
        enforcement_case_id=row["enforcement_case_id"],
        required_at=row["required_at"],
        due_at=row["due_at"],
        answered_at=row["answered_at"],
        answered_by_step_id=row["answered_by_step_id"],
    )


async def requests_of(connection: asyncpg.Connection, case_ids: Sequence[UUID]) -> list[Request]:
    rows = await connection.fetch(
        """SELECT * FROM enforcement_requests WHERE case_id = ANY($1::uuid[])
           ORDER BY required_at, action_id""",
        list(case_ids),
    )
    return [_request(row) for row in rows]


async def answered_by_steps(
    connection: asyncpg.Connection, step_ids: Sequence[UUID]
) -> dict[UUID, list[UUID]]:
    """The actions each of ``step_ids`` answered."""
    rows = await connection.fetch(
        """SELECT answered_by_step_id, action_id FROM enforcement_requests
           WHERE answered_by_step_id = ANY($1::uuid[]) ORDER BY required_at, action_id""",
        list(step_ids),
    )
    answered: dict[UUID, list[UUID]] = {}
    for row in rows:
        answered.setdefault(row["answered_by_step_id"], []).append(row["action_id"])
    return answered


async def answer_requests(
    connection: asyncpg.Connection, action_ids: Sequence[UUID], *, step_id: UUID, at: datetime
) -> None:
    await connection.execute(
        """UPDATE enforcement_requests SET answered_at = $2, answered_by_step_id = $3
           WHERE action_id = ANY($1::uuid[]) AND answered_at IS NULL""",
        list(action_ids),
        at,
        step_id,
    )


# --------------------------------------------------------------------------- evidence


def evidence_item(row: asyncpg.Record) -> EvidenceItem:
    return EvidenceItem(
        kind=EvidenceKind(row["kind"]),
        strength=EvidenceStrength(row["strength"]),
        recorded_by=row["recorded_by"],
        recorded_at=row["recorded_at"],
        source=row["source"],
        storage_reference=row["storage_reference"],
        reference=row["reference"],
        occurred_at=row["occurred_at"],
        media_type=row["media_type"],
        summary=row["summary"],
    )


async def evidence_rows(
    connection: asyncpg.Connection, enforcement_case_id: UUID
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        """SELECT * FROM evidence_items WHERE enforcement_case_id = $1
           ORDER BY recorded_at, evidence_id""",
        enforcement_case_id,
    )
    return rows


async def evidence_of(
    connection: asyncpg.Connection, enforcement_case_id: UUID
) -> list[EvidenceItem]:
    return [evidence_item(row) for row in await evidence_rows(connection, enforcement_case_id)]


async def add_evidence(
    connection: asyncpg.Connection,
    *,
    evidence_id: UUID,
    enforcement_case_id: UUID,
    case_id: UUID,
    item: EvidenceItem,
) -> asyncpg.Record:
    row: asyncpg.Record = await connection.fetchrow(
        """INSERT INTO evidence_items (evidence_id, enforcement_case_id, case_id, kind, strength,
                                       source, occurred_at, reference, storage_reference,
                                       media_type, summary, recorded_by, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *""",
        evidence_id,
        enforcement_case_id,
        case_id,
        item.kind.value,
        item.strength.value,
        item.source,
        item.occurred_at,
        item.reference,
        item.storage_reference,
        item.media_type,
        item.summary,
        item.recorded_by,
        item.recorded_at,
    )
    return row


# --------------------------------------------------------------------------- the ladder


async def history_of(
    connection: asyncpg.Connection, enforcement_case_id: UUID
) -> list[EnforcementStep]:
    """The ladder's steps recorded as taken, oldest first (rows from before the ladder,
    with no step, count for nothing)."""
    rows = await connection.fetch(
        """SELECT step FROM enforcement_steps
           WHERE enforcement_case_id = $1 AND step IS NOT NULL
           ORDER BY taken_at, recorded_at, step_id""",
        enforcement_case_id,
    )
    return [EnforcementStep(row["step"]) for row in rows]


async def steps_of(
    connection: asyncpg.Connection, enforcement_case_ids: Sequence[UUID]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        """SELECT * FROM enforcement_steps WHERE enforcement_case_id = ANY($1::uuid[])
           ORDER BY taken_at, step_id""",
        list(enforcement_case_ids),
    )
    return rows


async def proposal(
    connection: asyncpg.Connection, proposal_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        "SELECT * FROM enforcement_proposals WHERE proposal_id = $1"
        + (" FOR UPDATE" if for_update else ""),
        proposal_id,
    )
    return row


async def proposals_of(
    connection: asyncpg.Connection, enforcement_case_ids: Sequence[UUID]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        """SELECT * FROM enforcement_proposals WHERE enforcement_case_id = ANY($1::uuid[])
           ORDER BY proposed_at, proposal_id""",
        list(enforcement_case_ids),
    )
    return rows


async def decision(connection: asyncpg.Connection, decision_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        "SELECT * FROM enforcement_decisions WHERE decision_id = $1", decision_id
    )
    return row


async def decisions_of(
    connection: asyncpg.Connection, enforcement_case_ids: Sequence[UUID]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        """SELECT * FROM enforcement_decisions WHERE enforcement_case_id = ANY($1::uuid[])
           ORDER BY decided_at, decision_id""",
        list(enforcement_case_ids),
    )
    return rows


async def add_proposal(
    connection: asyncpg.Connection,
    *,
    enforcement_case_id: UUID,
    case_id: UUID,
    step: EnforcementStep,
    reason: str,
    skip_reason: str | None,
    serious_hate_crime: bool,
    proposed_by: str,
    proposed_by_roles: Sequence[str],
    proposed_at: datetime,
    pending: bool,
) -> asyncpg.Record | None:
    """The proposal stored; None when one for the same step already awaits its second
    decider."""
    row: asyncpg.Record | None = await connection.fetchrow(
        """INSERT INTO enforcement_proposals (proposal_id, enforcement_case_id, case_id, step,
                                              reason, skip_reason, serious_hate_crime,
                                              proposed_by, proposed_by_roles, proposed_at,
                                              status, answered_by, answered_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (enforcement_case_id, step) WHERE status = 'pending' DO NOTHING
           RETURNING *""",
        uuid.uuid4(),
        enforcement_case_id,
        case_id,
        step.value,
        reason,
        skip_reason,
        serious_hate_crime,
        proposed_by,
        sorted(proposed_by_roles),
        proposed_at,
        "pending" if pending else "decided",
        None if pending else proposed_by,
        None if pending else proposed_at,
    )
    return row


async def answer_proposal(
    connection: asyncpg.Connection,
    proposal_id: UUID,
    *,
    status: str,
    answered_by: str,
    answered_at: datetime,
) -> asyncpg.Record:
    row: asyncpg.Record = await connection.fetchrow(
        """UPDATE enforcement_proposals SET status = $2, answered_by = $3, answered_at = $4
           WHERE proposal_id = $1 RETURNING *""",
        proposal_id,
        status,
        answered_by,
        answered_at,
    )
    return row


async def add_decision(
    connection: asyncpg.Connection,
    *,
    enforcement_case_id: UUID,
    case_id: UUID,
    proposal_id: UUID,
    decided: Decision,
    serious_hate_crime: bool,
) -> asyncpg.Record:
    row: asyncpg.Record = await connection.fetchrow(
        """INSERT INTO enforcement_decisions (decision_id, enforcement_case_id, case_id,
                                              proposal_id, route, step, clause, decided_by,
                                              reason, skip_reason, skipped_steps,
                                              serious_hate_crime, evidence_level, decided_at,
                                              review_at, target_at, within_target)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           RETURNING *""",
        uuid.uuid4(),
        enforcement_case_id,
        case_id,
        proposal_id,
        decided.route.value,
        decided.step.value,
        decided.clause,
        list(decided.decided_by),
        decided.reason,
        decided.skip_reason,
        [step.value for step in decided.skipped],
        serious_hate_crime,
        decided.evidence_level.value,
        decided.decided_at,
        decided.review_at,
        decided.target_at,
        decided.within_target,
    )
    return row


async def step_of_decision(
    connection: asyncpg.Connection, decision_id: UUID
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        "SELECT * FROM enforcement_steps WHERE decision_id = $1", decision_id
    )
    return row


async def add_step(
    connection: asyncpg.Connection,
    *,
    enforcement_case_id: UUID,
    step: EnforcementStep,
    decision_id: UUID,
    recorded_by: str,
    recorded_at: datetime,
    taken_at: datetime,
    note: str | None,
) -> asyncpg.Record:
    row: asyncpg.Record = await connection.fetchrow(
        """INSERT INTO enforcement_steps (step_id, enforcement_case_id, action, taken_at, step,
                                          decision_id, recorded_by, recorded_at, note)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
        uuid.uuid4(),
        enforcement_case_id,
        step.value,
        taken_at,
        step.value,
        decision_id,
        recorded_by,
        recorded_at,
        note,
    )
    return row
