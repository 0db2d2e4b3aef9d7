"""The satisfaction survey's rows (migration 0007): offers, their links and the answers.
Each function runs on the caller's connection, in the caller's transaction."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts.v1 import SatisfactionRecorded, SatisfactionSurveyOffered
from hhc_contracts.vocabulary import ContactMethod, ReporterRole
from hhc_intake.survey import Delivery, ReportContact, SurveyAnswers, token_hash


async def contacts_of_case(connection: asyncpg.Connection, case_id: UUID) -> list[ReportContact]:
    """What each of the case's reports says about reaching the survivor."""
    rows = await connection.fetch(
        """SELECT reporter_role, received_at,
                  body -> 'survivor' -> 'access' ->> 'safe_contact_method' AS method,
                  body -> 'survivor' ->> 'email' AS email,
                  body -> 'survivor' ->> 'phone' AS phone
           FROM reports WHERE case_id = $1""",
        case_id,
    )
    return [
        ReportContact(
            reporter_role=ReporterRole(row["reporter_role"]),
            received_at=row["received_at"],
            safe_contact_method=ContactMethod(row["method"]) if row["method"] else None,
            email=row["email"],
            phone=row["phone"],
        )
        for row in rows
    ]


async def add_offer(
    connection: asyncpg.Connection,
    *,
    survey_id: UUID,
    case_id: UUID,
    closure_event_id: UUID,
    method: ContactMethod,
    delivery: Delivery,
    created_at: datetime,
    expires_at: datetime | None,
) -> bool:
    """A new offer, unless this closure made one already; whether it was added. It
    replaces the case's earlier offers not yet answered."""
    added = await connection.fetchval(
        """INSERT INTO satisfaction_surveys (survey_id, case_id, closure_event_id,
                                             contact_method, delivery, created_at,
                                             offered_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (closure_event_id) DO NOTHING RETURNING true""",
        survey_id,
        case_id,
        closure_event_id,
        method.value,
        delivery.value,
        created_at,
        created_at if delivery is Delivery.BY_STAFF else None,  # a mailed one: when it went
        expires_at,
    )
    if added:
        # A case closed again after reopening: the survivor answers about the case as it
        # ended, once. An earlier offer not yet answered stops working, and one not yet
        # mailed is never mailed.
        await connection.execute(
            """UPDATE satisfaction_surveys
               SET expires_at = least(coalesce(expires_at, $3), $3), next_attempt_at = 'infinity'
               WHERE case_id = $1 AND survey_id <> $2 AND answered_at IS NULL""",
            case_id,
            survey_id,
            created_at,
        )
    return bool(added)


async def announce_offer(
    connection: asyncpg.Connection,
    *,
    survey_id: UUID,
    case_id: UUID,
    method: ContactMethod,
    delivered: bool,
    offered_at: datetime,
    expires_at: datetime,
) -> None:
    event = SatisfactionSurveyOffered(
        survey_id=survey_id,
        case_id=case_id,
        contact_method=method,
        delivered=delivered,
        offered_at=offered_at,
        expires_at=expires_at,
    )
    await enqueue(connection, [new_envelope(event, case_id=case_id, occurred_at=offered_at)])


async def claim_offers_to_mail(
    connection: asyncpg.Connection, *, lease_seconds: float, batch_size: int
) -> list[asyncpg.Record]:
    """Due offers to mail, leased: another mailer passes them by until the lease runs
    out, and then tries again if this one died on the way."""
    claimed: list[asyncpg.Record] = await connection.fetch(
        """UPDATE satisfaction_surveys
           SET next_attempt_at = now() + make_interval(secs => $2)
           WHERE survey_id IN (
               SELECT survey_id FROM satisfaction_surveys
               WHERE delivery = 'pending' AND next_attempt_at <= now()
               ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING survey_id, case_id, contact_method, attempts""",
        batch_size,
        lease_seconds,
    )
    return claimed


async def set_link(
    connection: asyncpg.Connection,
    survey_id: UUID,
    token: str,
    *,
    issued_at: datetime,
    expires_at: datetime | None = None,
) -> None:
    """The survey's link is ``token`` from now on; any earlier one stops working."""
    await connection.execute(
        """UPDATE satisfaction_surveys
           SET token_hash = $2, link_issued_at = $3, expires_at = coalesce($4, expires_at)
           WHERE survey_id = $1""",
        survey_id,
        token_hash(token),
        issued_at,
        expires_at,
    )


async def mark_mailed(
    connection: asyncpg.Connection, survey_id: UUID, *, at: datetime
) -> asyncpg.Record | None:
    """Delivered: the mail server accepted it. None if it was no longer pending."""
    return await connection.fetchrow(
        """UPDATE satisfaction_surveys
           SET delivery = 'delivered', offered_at = $2, attempts = attempts + 1, last_error = NULL
           WHERE survey_id = $1 AND delivery = 'pending'
           RETURNING survey_id, case_id, contact_method, offered_at, expires_at""",
        survey_id,
        at,
    )


async def mail_again_later(
    connection: asyncpg.Connection,
    survey_id: UUID,
    *,
    attempts: int,
    delay_seconds: float,
    reason: str,
) -> None:
    await connection.execute(
        """UPDATE satisfaction_surveys
           SET attempts = $2, next_attempt_at = now() + make_interval(secs => $3), last_error = $4
           WHERE survey_id = $1 AND delivery = 'pending'""",
        survey_id,
        attempts,
        delay_seconds,
        reason,
    )


async def hand_to_staff(
    connection: asyncpg.Connection,
    survey_id: UUID,
    *,
    at: datetime,
    expires_at: datetime,
    reason: str,
    attempts: int,
) -> asyncpg.Record | None:
    """Not to be mailed after all: a member of staff passes it on. A link minted for a mail
    that may have gone is withdrawn; staff get a fresh one. None if not pending any more."""
    return await connection.fetchrow(
        """UPDATE satisfaction_surveys
           SET delivery = 'by_staff', offered_at = $2, expires_at = $3, token_hash = NULL,
               link_issued_at = NULL, last_error = $4, attempts = $5
           WHERE survey_id = $1 AND delivery = 'pending'
           RETURNING survey_id, case_id, contact_method, offered_at, expires_at""",
        survey_id,
        at,
        expires_at,
        reason,
        attempts,
    )


@dataclass(frozen=True, slots=True)
class LinkedSurvey:
    survey_id: UUID
    case_id: UUID
    answered_at: datetime | None
    expires_at: datetime | None


async def survey_by_token(
    connection: asyncpg.Connection, token: str, *, for_update: bool = False
) -> LinkedSurvey | None:
    row = await connection.fetchrow(
        "SELECT survey_id, case_id, answered_at, expires_at FROM satisfaction_surveys "
        "WHERE token_hash = $1" + (" FOR UPDATE" if for_update else ""),
        token_hash(token),
    )
    return LinkedSurvey(**dict(row)) if row else None


async def record_answers(
    connection: asyncpg.Connection, survey: LinkedSurvey, answers: SurveyAnswers, *, at: datetime
) -> None:
    """The answers, kept apart from the case; their scores, announced (5.1)."""
    await connection.execute(
        """INSERT INTO satisfaction_answers (survey_id, handling_score, feels_safer, comments,
                                             answered_at)
           VALUES ($1, $2, $3, $4, $5)""",
        survey.survey_id,
        answers.handling_score,
        answers.feels_safer.value,
        answers.comments,
        at,
    )
    await connection.execute(
        "UPDATE satisfaction_surveys SET answered_at = $2 WHERE survey_id = $1",
        survey.survey_id,
        at,
    )
    event = SatisfactionRecorded(
        survey_id=survey.survey_id,
        case_id=survey.case_id,
        handling_score=answers.handling_score,
        feels_safer=answers.feels_safer,
        answered_at=at,
    )
    await enqueue(connection, [new_envelope(event, case_id=survey.case_id, occurred_at=at)])


async def offers_of_case(connection: asyncpg.Connection, case_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        """SELECT survey_id, contact_method, delivery, created_at, offered_at, expires_at,
                  link_issued_at, attempts, last_error, answered_at
           FROM satisfaction_surveys WHERE case_id = $1 ORDER BY created_at""",
        case_id,
    )
    return rows


async def answers_of_case(connection: asyncpg.Connection, case_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        """SELECT a.survey_id, a.handling_score, a.feels_safer, a.comments, a.answered_at
           FROM satisfaction_answers a JOIN satisfaction_surveys s USING (survey_id)
           WHERE s.case_id = $1 ORDER BY a.answered_at""",
        case_id,
    )
    return rows
