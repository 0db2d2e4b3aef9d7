"""Opening and joining cases: decide purely (domain), then store and emit in the caller's
transaction. Used by the HTTP API, the web form and the inbound topic alike."""

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from hhc_chassis.case_access import move_case, remembered, scope_of_report
from hhc_chassis.db import Write, write_together
from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue, staged
from hhc_contracts import Envelope
from hhc_contracts.submission import Consent, ReportSubmitted
from hhc_contracts.v1 import (
    CaseTeamChanged,
    ConsentChanged,
    ConsentPersonalData,
    ReportPersonalData,
    ReportReceived,
)
from hhc_contracts.vocabulary import ConsentGiver, ConsentState, PartnerKind
from hhc_intake.domain import (
    NOT_ASKED,
    CaseConsent,
    ConsentStatement,
    Route,
    TeamAssignment,
    case_reference,
    classify,
    consent_of_report,
    merge_consent,
    recorded_consent,
    reporter_receives_feedback,
    route,
    routing_facts,
)
from hhc_intake.lifecycle import FurtherReport, further_report_on, status_of
from hhc_intake.lifecycle_store import INTAKE, reopen, resume
from hhc_intake.status import code_hash, new_status_code

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Accepted:
    case_id: UUID
    reference: str
    status_code: str | None = None
    """Shown once to a reporter who gets feedback, for looking up the status (3.2.3)."""
    linked_case_id: UUID | None = None
    """The closed case a new case follows on from (a further report after the window)."""
    reopened: bool = False
    """The further report reopened its closed case."""


def statement_of(consent: Consent) -> ConsentStatement:
    return ConsentStatement(
        share_with_partners=consent.share_with_partners,
        by_partner_kind=consent.by_partner_kind,
        given_by=consent.given_by,
    )


def report_consent(report: ReportSubmitted, case_id: UUID) -> ConsentStatement:
    """What the report says about consent, if its reporter may say it (3.5.2). The HTTP API
    and the web form refuse consent from anyone else; a report from another system is
    taken all the same (a lost report hurts someone), its consent ignored, and that
    logged, without personal data: staff are to ask the survivor."""
    stated = statement_of(report.consent)
    taken = consent_of_report(report.reporter.role, stated)
    if taken.silent and not stated.silent:
        log.warning(
            "consent stated by a reporter who is not the survivor ignored (3.5.2)",
            extra={
                "case_id": str(case_id),
                "reporter_role": report.reporter.role.value,
                "channel": report.channel.value,
            },
        )
    return taken


def route_of(report: ReportSubmitted) -> Route:
    return route(routing_facts(report))


def report_received(
    report: ReportSubmitted,
    *,
    case_id: UUID,
    report_id: UUID,
    reference: str,
    received_at: datetime,
    decided: Route,
    further_report: bool,
    team: str,
    taken_by: str | None,
    consent: CaseConsent,
    linked_case_id: UUID | None = None,
) -> ReportReceived:
    """The event a report makes; personal data only in its personal part. ``consent``:
    the case's after the report."""
    survivor, incident, access = report.survivor, report.incident, report.survivor.access
    return ReportReceived(
        case_id=case_id,
        report_id=report_id,
        reference=reference,
        further_report=further_report,
        channel=report.channel,
        reporter_role=report.reporter.role,
        survivor_is_customer=survivor.is_customer,
        survivor_is_staff=survivor.is_staff,
        perpetrator_kinds=[p.kind for p in report.alleged_perpetrators],
        categories=incident.categories,
        perceived_motivation=incident.perceived_motivation,
        classification=classify(incident.categories, incident.perceived_motivation),
        track=decided.track,
        track_clauses=list(decided.clauses),
        immediate_danger=report.immediate_danger,
        vulnerable_adult=survivor.at_risk,
        children_in_household=survivor.children_in_household,
        female_staff_requested=survivor.female_staff_requested,
        capacity_concern=survivor.capacity_concern,
        ongoing=incident.ongoing,
        consent_to_share=consent.to_share,
        consent_by_partner_kind=dict(consent.by_partner_kind),
        consent_given_by=consent.given_by,
        related_policy=incident.related_policy,
        reporter_receives_feedback=reporter_receives_feedback(report.reporter.role),
        incident_occurred_at=incident.occurred_at,
        received_at=received_at,
        team=team,
        taken_by=taken_by,
        linked_case_id=linked_case_id,
        personal=ReportPersonalData(
            survivor_name=survivor.name,
            survivor_phone=survivor.phone,
            survivor_email=survivor.email,
            survivor_tenancy_reference=survivor.tenancy_reference,
            reporter_name=report.reporter.name,
            reporter_contact=report.reporter.contact,
            description=incident.description,
            location=incident.location,
            witnesses=[
                ", ".join(part for part in (w.name, w.contact) if part) for w in report.witnesses
            ],
            preferred_contact_method=access.preferred_contact_method,
            safe_contact_method=access.safe_contact_method,
            safe_contact_times=access.safe_contact_times,
            language=access.language,
            interpreter_needed=access.interpreter_needed,
            british_sign_language=access.british_sign_language,
            accessible_formats=access.accessible_formats,
        ),
    )


@dataclass(frozen=True, slots=True)
class NewCase:
    """A report accepted, and what is left to write of it: a new case's rows and event
    (none when written already), to make in one round trip with the caller's own."""

    accepted: Accepted
    writes: Sequence[Write]


async def open_case(
    connection: asyncpg.Connection,
    report: ReportSubmitted,
    *,
    received_at: datetime,
    teams: TeamAssignment,
    taken_by: str | None = None,
    cause: Envelope | None = None,
    linked_case_id: UUID | None = None,
) -> Accepted:
    """A new case for a new report: routed, classified, given to a team, stored, and
    announced (:func:`new_case`, written)."""
    case = await new_case(
        connection,
        report,
        received_at=received_at,
        teams=teams,
        taken_by=taken_by,
        cause=cause,
        linked_case_id=linked_case_id,
    )
    await write_together(connection, case.writes)
    return case.accepted


async def new_case(
    connection: asyncpg.Connection,
    report: ReportSubmitted,
    *,
    received_at: datetime,
    teams: TeamAssignment,
    taken_by: str | None = None,
    cause: Envelope | None = None,
    linked_case_id: UUID | None = None,
) -> NewCase:
    """A new case for a new report: routed, classified, given to a team and numbered; its
    rows and its event, to write. ``taken_by``: the member of staff who took it, if one
    did. A reporter who gets feedback is given a status code; only its hash is stored.
    ``linked_case_id``: the closed case this one follows on from."""
    case_id = uuid.uuid4()
    team = teams.team_for(report.area)
    sequence_number = await connection.fetchval("SELECT nextval('case_reference_seq')")
    reference = case_reference(received_at.year, sequence_number)
    decided = route_of(report)
    consent = merge_consent(NOT_ASKED, report_consent(report, case_id))
    event = report_received(
        report,
        case_id=case_id,
        report_id=uuid.uuid4(),
        reference=reference,
        received_at=received_at,
        decided=decided,
        further_report=False,
        team=team,
        taken_by=taken_by,
        consent=consent,
        linked_case_id=linked_case_id,
    )
    status_code = new_status_code() if event.reporter_receives_feedback else None
    case_row: Write = (
        """INSERT INTO cases (case_id, reference, track, track_clauses, classification,
                              consent_to_share, consent_by_partner_kind, consent_given_by,
                              opened_at, reporter_receives_feedback, related_policy, team,
                              status_code_hash, linked_case_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9, $10, $11, $12, $13, $14)""",
        (
            case_id,
            reference,
            event.track.value,
            event.track_clauses,
            event.classification.value,
            consent.to_share.value,
            _kinds_json(consent),
            consent.given_by.value if consent.given_by else None,
            received_at,
            event.reporter_receives_feedback,
            event.related_policy.value if event.related_policy else None,
            team,
            code_hash(status_code) if status_code else None,
            linked_case_id,
        ),
    )
    return NewCase(
        Accepted(case_id, reference, status_code, linked_case_id=linked_case_id),
        [
            case_row,
            remembered(case_id, scope_of_report(event, team=team)),
            _consent_row(case_id, consent, report.consent, received_at),
            _report_row(event, report, further_report=False),
            staged([new_envelope(event, case_id=case_id, occurred_at=received_at, cause=cause)]),
        ],
    )


class CaseNotOpen(Exception):
    pass


async def add_report(
    connection: asyncpg.Connection,
    case_id: UUID,
    report: ReportSubmitted,
    *,
    received_at: datetime,
    reopen_window: timedelta,
    taken_by: str | None = None,
) -> Accepted:
    """A further report joins its case instead of opening a new one; the case keeps its
    track and team, and risk reassesses it. A report silent on consent leaves the case's
    as it was; one that says something changes it (:func:`merge_consent`), and the change
    is recorded and announced as consent recorded anew would be.

    On a closed case (:func:`~hhc_intake.lifecycle.further_report_on`): within
    ``reopen_window`` of its closure the case reopens first; after it, the report opens a
    new case of the same team, linked to the closed one."""
    case = await connection.fetchrow("SELECT * FROM cases WHERE case_id = $1 FOR UPDATE", case_id)
    if case is None:
        raise CaseNotOpen(case_id)
    outgoing: list[Envelope] = []
    reopened = False
    erased = await connection.fetchval(
        "SELECT EXISTS (SELECT FROM case_erasures WHERE case_id = $1)", case_id
    )
    # An erased case keeps no personal data and has no key left to seal any (3.5.2): a
    # further report starts a case of its own, linked by id, rather than being lost.
    further = (
        FurtherReport.NEW_LINKED_CASE
        if erased
        else further_report_on(
            status_of(case["status"]),
            case["closed_at"],
            received_at=received_at,
            window=reopen_window,
        )
    )
    match further:
        case FurtherReport.NEW_LINKED_CASE:
            return await open_case(
                connection,
                report,
                received_at=received_at,
                teams=TeamAssignment(by_area={}, default=case["team"]),
                taken_by=taken_by,
                linked_case_id=case_id,
            )
        case FurtherReport.REOPEN:
            outgoing.append(
                await reopen(
                    connection, case_id, changed_by=taken_by or INTAKE, changed_at=received_at
                )
            )
            reopened = True
        case FurtherReport.RESUME:
            outgoing.append(
                await resume(
                    connection, case_id, changed_by=taken_by or INTAKE, changed_at=received_at
                )
            )
    decided = Route(track=case["track"], clauses=tuple(case["track_clauses"]))
    stated = report_consent(report, case_id)
    consent = merge_consent(consent_of_case(case), stated)
    event = report_received(
        report,
        case_id=case_id,
        report_id=uuid.uuid4(),
        reference=case["reference"],
        received_at=received_at,
        decided=decided,
        further_report=True,
        team=case["team"],
        taken_by=taken_by,
        consent=consent,
    )
    await write_together(
        connection,
        [
            remembered(case_id, scope_of_report(event, team=case["team"])),
            _report_row(event, report, further_report=True),
        ],
    )
    report_envelope = new_envelope(event, case_id=case_id, occurred_at=received_at)
    outgoing.append(report_envelope)
    if not stated.silent:
        changed = await _record_consent(
            connection, case_id, consent, report.consent, changed_at=received_at
        )
        outgoing.append(
            new_envelope(changed, case_id=case_id, occurred_at=received_at, cause=report_envelope)
        )
    await enqueue(connection, outgoing)
    return Accepted(case_id, case["reference"], reopened=reopened)


async def change_team(
    connection: asyncpg.Connection,
    case_id: UUID,
    team: str,
    *,
    changed_by: str,
    changed_at: datetime,
) -> CaseTeamChanged:
    """A manager moves the case to another team; every service hears of it."""
    previous = await connection.fetchval(
        "SELECT team FROM cases WHERE case_id = $1 FOR UPDATE", case_id
    )
    if previous is None:
        raise CaseNotOpen(case_id)
    await connection.execute("UPDATE cases SET team = $2 WHERE case_id = $1", case_id, team)
    await move_case(connection, case_id, team)
    event = CaseTeamChanged(
        case_id=case_id,
        team=team,
        previous_team=previous,
        changed_by=changed_by,
        changed_at=changed_at,
    )
    await enqueue(connection, [new_envelope(event, case_id=case_id, occurred_at=changed_at)])
    return event


async def change_consent(
    connection: asyncpg.Connection, case_id: UUID, consent: Consent, *, changed_at: datetime
) -> ConsentChanged:
    """Record consent anew, as staff were told it (it can change at any time, 3.5.2; a
    withdrawal is consent refused after it was given), and announce it. It replaces the
    case's consent whole."""
    exists = await connection.fetchval(
        "SELECT true FROM cases WHERE case_id = $1 FOR UPDATE", case_id
    )
    if not exists:
        raise CaseNotOpen(case_id)
    changed = await _record_consent(
        connection,
        case_id,
        recorded_consent(statement_of(consent)),
        consent,
        changed_at=changed_at,
    )
    await enqueue(connection, [new_envelope(changed, case_id=case_id, occurred_at=changed_at)])
    return changed


def consent_of_case(case: asyncpg.Record) -> CaseConsent:
    """The consent stored on a ``cases`` row."""
    return CaseConsent(
        to_share=ConsentState(case["consent_to_share"]),
        by_partner_kind={
            PartnerKind(kind): ConsentState(state)
            for kind, state in case["consent_by_partner_kind"].items()
        },
        given_by=ConsentGiver(case["consent_given_by"]) if case["consent_given_by"] else None,
    )


async def _record_consent(
    connection: asyncpg.Connection,
    case_id: UUID,
    consent: CaseConsent,
    stated: Consent,
    *,
    changed_at: datetime,
) -> ConsentChanged:
    """The case's consent becomes ``consent``, kept in its history with the safe contact
    and who recorded it (``stated``); the event that announces it, to enqueue."""
    await write_together(
        connection,
        [
            (
                """UPDATE cases SET consent_to_share = $2,
                                  consent_by_partner_kind = $3::text::jsonb,
                                  consent_given_by = $4
                   WHERE case_id = $1""",
                (
                    case_id,
                    consent.to_share.value,
                    _kinds_json(consent),
                    consent.given_by.value if consent.given_by else None,
                ),
            ),
            _consent_row(case_id, consent, stated, changed_at),
        ],
    )
    return ConsentChanged(
        case_id=case_id,
        consent_to_share=consent.to_share,
        by_partner_kind=dict(consent.by_partner_kind),
        given_by=consent.given_by,
        safe_contact_voicemail=stated.safe_contact.voicemail,
        safe_contact_text_message=stated.safe_contact.text_message,
        safe_contact_letter=stated.safe_contact.letter,
        changed_at=changed_at,
        personal=ConsentPersonalData(recorded_by=stated.recorded_by),
    )


def _report_row(event: ReportReceived, report: ReportSubmitted, *, further_report: bool) -> Write:
    return (
        """INSERT INTO reports (report_id, case_id, received_at, channel, reporter_role, body,
                                further_report)
           VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7)""",
        (
            event.report_id,
            event.case_id,
            event.received_at,
            report.channel.value,
            report.reporter.role.value,
            report.model_dump_json(),
            further_report,
        ),
    )


def _consent_row(case_id: UUID, consent: CaseConsent, stated: Consent, at: datetime) -> Write:
    """One entry of the case's consent history: its consent from then on, the safe
    contact and who recorded it as stated."""
    return (
        """INSERT INTO consents (case_id, consent_to_share, by_partner_kind, given_by,
                                 safe_contact, recorded_by, recorded_at)
           VALUES ($1, $2, $3::text::jsonb, $4, $5::text::jsonb, $6, $7)""",
        (
            case_id,
            consent.to_share.value,
            _kinds_json(consent),
            consent.given_by.value if consent.given_by else None,
            stated.safe_contact.model_dump_json(),
            stated.recorded_by,
            at,
        ),
    )


def _kinds_json(consent: CaseConsent) -> str:
    return json.dumps({kind.value: state.value for kind, state in consent.by_partner_kind.items()})
