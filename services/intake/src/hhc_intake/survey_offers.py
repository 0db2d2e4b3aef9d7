"""Offering the satisfaction survey when a case closes (policy 5.1): the consumer's
handler decides and records the offer; the survey mailer sends the mailed ones.

Intake hears its own ``intake.case-status-changed`` (closed) on ``hhc.intake.cases.v1``:
the offer follows from the closure however it was made, and a closure is offered one
survey however often its event is seen (the closing event's id is unique on the offer).

Mail is never sent inside the consumer's transaction: a slow mail server would hold the
case's partition and a database transaction open, and a rolled-back transaction would
leave a mail sent for an offer never recorded. The handler records a *pending* offer
(an outbox of its own); the mailer, a background task on every replica, claims due ones
with ``FOR UPDATE SKIP LOCKED`` and a lease (as referrals' delivery worker does), makes
the link, sends, and only when the mail server accepted the mail records it delivered
and announces ``intake.satisfaction-survey-offered`` with ``delivered=true``.

An offer that cannot be mailed (the survivor's safe method is a call, a text, a letter
or a visit; no mail server configured; the mail refused or still failing after
:data:`~hhc_intake.survey.MAX_MAIL_ATTEMPTS`) is announced with ``delivered=false`` and
waits for a member of staff to get a link and pass it on
(``POST /v1/cases/{case_id}/satisfaction-survey/link``).

If a replica dies after the mail server took the mail but before recording it, the
lease runs out and the mail goes again under the same Message-ID with a new link; the
first link then stops working. The survivor may get two mails; the newer one works.
"""

import logging
import uuid
from datetime import UTC, datetime

import asyncpg

from hhc_chassis.consumer import Handler
from hhc_chassis.delivery import (
    Delivered,
    FailedPermanently,
    SmtpServer,
    deliver_email,
    message_id_for,
    next_attempt_delay,
)
from hhc_chassis.service import BackgroundTask, Runtime
from hhc_chassis.work import poll_rounds
from hhc_contracts import Envelope
from hhc_contracts.v1 import CaseStatusChanged
from hhc_contracts.vocabulary import CaseStatus, ContactMethod
from hhc_intake.settings import IntakeSettings
from hhc_intake.survey import (
    Delivery,
    NotOffered,
    give_mail_to_staff,
    new_token,
    offer_expiry,
    survey_link,
    survey_route,
)
from hhc_intake.survey_store import (
    add_offer,
    announce_offer,
    claim_offers_to_mail,
    contacts_of_case,
    hand_to_staff,
    mail_again_later,
    mark_mailed,
    set_link,
)

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0
"""Longer than a mail takes (the SMTP timeout is 10 s a step)."""
SUBJECT = "Pine Court Housing Association: a short question about our service"
"""Says nothing of harassment: a subject line shows on a locked phone's screen."""


def survey_offer_handler(settings: IntakeSettings) -> Handler:
    """``intake.case-status-changed``: a closure offers the survivor the survey; any
    other change of status does nothing here."""
    mail_configured = settings.smtp_server() is not None

    async def on_case_status_changed(
        connection: asyncpg.Connection, envelope: Envelope, change: CaseStatusChanged
    ) -> None:
        if change.status is not CaseStatus.CLOSED:
            return
        route = survey_route(
            await contacts_of_case(connection, change.case_id), change.closure_reason
        )
        if isinstance(route, NotOffered):
            log.info(
                "satisfaction survey not offered",
                extra={"case_id": str(change.case_id), "reason": route.value},
            )
            return
        now = datetime.now(UTC)
        survey_id = uuid.uuid4()
        if route.by_email and mail_configured:
            await add_offer(
                connection,
                survey_id=survey_id,
                case_id=change.case_id,
                closure_event_id=envelope.event_id,
                method=route.method,
                delivery=Delivery.PENDING,
                created_at=now,
                expires_at=None,  # set when the link is made and mailed
            )
            return
        expires_at = offer_expiry(now, settings.survey_valid_for)
        added = await add_offer(
            connection,
            survey_id=survey_id,
            case_id=change.case_id,
            closure_event_id=envelope.event_id,
            method=route.method,
            delivery=Delivery.BY_STAFF,
            created_at=now,
            expires_at=expires_at,
        )
        if added:
            await announce_offer(
                connection,
                survey_id=survey_id,
                case_id=change.case_id,
                method=route.method,
                delivered=False,
                offered_at=now,
                expires_at=expires_at,
            )

    return on_case_status_changed


def survey_mail_text(link: str, valid_until: datetime) -> str:
    """Plain words, nothing of the case: anyone who sees the mail learns only that the
    person dealt with the landlord."""
    return (
        "Hello,\n\n"
        "We have finished dealing with the report you made to us. We would like to know "
        "how we did. It takes about 2 minutes, and you do not have to answer.\n\n"
        f"Answer 3 short questions: {link}\n\n"
        f"The link works once, until {valid_until:%d %B %Y}.\n\n"
        "If you are in danger now, call 999.\n\n"
        "Pine Court Housing Association. Phone or text 0300 365 1111.\n"
    )


class SurveyMailer:
    def __init__(self, settings: IntakeSettings) -> None:
        self.settings = settings
        self.smtp: SmtpServer | None = settings.smtp_server()

    async def run(self, runtime: Runtime) -> None:
        await poll_rounds(
            lambda: self.mail_due(runtime.pool),
            poll_seconds=self.settings.survey_mail_poll_seconds,
            work="survey mail",
        )

    async def mail_due(self, pool: asyncpg.Pool, batch_size: int = 10) -> int:
        """Mail the due offers; how many were claimed."""
        async with pool.acquire() as connection, connection.transaction():
            claimed = await claim_offers_to_mail(
                connection, lease_seconds=LEASE_SECONDS, batch_size=batch_size
            )
        for offer in claimed:
            await self._mail(pool, offer)
        return len(claimed)

    async def _mail(self, pool: asyncpg.Pool, offer: asyncpg.Record) -> None:
        survey_id, attempts = offer["survey_id"], offer["attempts"]
        async with pool.acquire() as connection, connection.transaction():
            # Read now, not when the case closed: the newest safe contact is the one to use.
            route = survey_route(await contacts_of_case(connection, offer["case_id"]))
            if isinstance(route, NotOffered) or route.email is None or self.smtp is None:
                await self._to_staff(connection, offer, "no-safe-email", attempts)
                return
            now = datetime.now(UTC)
            token = new_token()
            expires_at = offer_expiry(now, self.settings.survey_valid_for)
            await set_link(connection, survey_id, token, issued_at=now, expires_at=expires_at)
        outcome = await deliver_email(
            self.smtp,
            recipient=route.email,
            message_id=message_id_for("survey", survey_id, sender=self.smtp.sender),
            subject=SUBJECT,
            text=survey_mail_text(survey_link(self.settings.public_base_url, token), expires_at),
        )
        async with pool.acquire() as connection, connection.transaction():
            if isinstance(outcome, Delivered):
                mailed = await mark_mailed(connection, survey_id, at=datetime.now(UTC))
                if mailed is not None:
                    await announce_offer(
                        connection,
                        survey_id=survey_id,
                        case_id=mailed["case_id"],
                        method=ContactMethod(mailed["contact_method"]),
                        delivered=True,
                        offered_at=mailed["offered_at"],
                        expires_at=mailed["expires_at"],
                    )
                return
            attempts += 1
            permanent = isinstance(outcome, FailedPermanently)
            log.warning(
                "survey mail not delivered",
                extra={"survey_id": str(survey_id), "reason": outcome.reason},
            )
            if give_mail_to_staff(attempts=attempts, permanent=permanent):
                await self._to_staff(connection, offer, outcome.reason, attempts)
            else:
                await mail_again_later(
                    connection,
                    survey_id,
                    attempts=attempts,
                    delay_seconds=next_attempt_delay(attempts, jitter=0.2).total_seconds(),
                    reason=outcome.reason,
                )

    async def _to_staff(
        self, connection: asyncpg.Connection, offer: asyncpg.Record, reason: str, attempts: int
    ) -> None:
        now = datetime.now(UTC)
        handed = await hand_to_staff(
            connection,
            offer["survey_id"],
            at=now,
            expires_at=offer_expiry(now, self.settings.survey_valid_for),
            reason=reason,
            attempts=attempts,
        )
        if handed is not None:
            await announce_offer(
                connection,
                survey_id=handed["survey_id"],
                case_id=handed["case_id"],
                method=ContactMethod(handed["contact_method"]),
                delivered=False,
                offered_at=handed["offered_at"],
                expires_at=handed["expires_at"],
            )


def survey_mailer(settings: IntakeSettings) -> BackgroundTask:
    mailer = SurveyMailer(settings)

    async def run_survey_mailer(runtime: Runtime) -> None:
        await mailer.run(runtime)

    return run_survey_mailer
