"""The delivery worker: carries ready referrals to their partners, and chases the ones a
partner has not acknowledged in time.

Every replica runs it. A referral is claimed with FOR UPDATE SKIP LOCKED and leased
(``next_attempt_at`` moved past the attempt), so two replicas do not deliver it at the
same time; if a replica dies mid-delivery the lease runs out and another tries again,
under the same idempotency key, so the partner sees one referral.
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from hhc_chassis.outbox import enqueue
from hhc_chassis.service import BackgroundTask, Runtime
from hhc_chassis.work import poll_rounds, see_through
from hhc_contracts.v1 import ReferralStatusChanged
from hhc_contracts.vocabulary import DeliveryChannel, Partner, ReferralBasis, ReferralStatus
from hhc_referrals.catalogue import PartnerCatalogue, PartnerEntry
from hhc_referrals.delivery import (
    Breakers,
    Delivered,
    DeliveryOutcome,
    FailedPermanently,
    WebhookTarget,
    deliver_email,
    deliver_webhook,
    next_attempt_delay,
)
from hhc_referrals.lifecycle import Step, chase_due
from hhc_referrals.settings import ReferralsSettings
from hhc_referrals.sharing import SharedDocument, SharingRefused, share
from hhc_referrals.store import envelope_of, load_details, mark_sent

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
AUTOMATIC = frozenset({DeliveryChannel.WEBHOOK.value, DeliveryChannel.EMAIL.value})
SHARED_BY_SERVICE = "referrals service"
WEBHOOK_TIMEOUT_SECONDS = 10.0
"""Longest wait for a partner's answer; well inside the lease."""
DETAILS_GRACE = timedelta(minutes=1)
"""How long a ready referral waits for its case's details before an attempt without them
counts as failed. Risk's action and intake's report come on different topics, so under
load the referral is often decided a moment before the details it shares arrive; trying
then would only log a failure and back off by its first retry's delay (5 s)."""


def email_text(document: SharedDocument) -> str:
    """Minimal content: only what the sharing rules allow this partner. The referral's
    header (id, partner, basis, agreement), then the case's fields one a line."""
    lines = ["A referral from the Harassment and Hate Crime service.", ""]
    details = document.document.get("details")
    lines += [
        f"{name}: {_mail_value(value)}"
        for name, value in document.document.items()
        if name != "details" and value is not None
    ]
    if isinstance(details, Mapping) and details:
        lines += ["", *(f"{name}: {_mail_value(value)}" for name, value in details.items())]
    return "\n".join(lines) + "\n"


def _mail_value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


class DeliveryWorker:
    def __init__(self, catalogue: PartnerCatalogue, settings: ReferralsSettings) -> None:
        self.catalogue = catalogue
        self.settings = settings
        self.smtp = settings.smtp_server()
        self.breakers = Breakers()
        self.webhook_timeout_seconds = WEBHOOK_TIMEOUT_SECONDS

    async def run(self, runtime: Runtime) -> None:
        async with httpx.AsyncClient() as client:

            async def delivery_round() -> int:
                delivered = await self.deliver_due(runtime.pool, client)
                await self.chase_unacknowledged(runtime.pool)
                return delivered

            await poll_rounds(
                delivery_round, poll_seconds=self.settings.delivery_poll_seconds, work="delivery"
            )

    async def deliver_due(
        self, pool: asyncpg.Pool, client: httpx.AsyncClient, batch_size: int = 20
    ) -> int:
        async with pool.acquire() as connection, connection.transaction():
            claimed = await connection.fetch(
                """UPDATE referrals SET next_attempt_at = now() + $2::interval
                   WHERE referral_id IN (
                       SELECT referral_id FROM referrals
                       WHERE status = 'ready' AND channel = ANY($3::text[])
                         AND next_attempt_at <= now()
                         AND (EXISTS (SELECT FROM case_details
                                      WHERE case_details.case_id = referrals.case_id)
                              OR decided_at <= now() - $4::interval)
                       ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                   RETURNING *""",
                batch_size,
                LEASE,
                list(AUTOMATIC),
                DETAILS_GRACE,
            )
        await see_through(
            claimed,
            lambda referral: self._deliver(pool, client, referral),
            work="referral delivery",
            key="referral_id",
        )
        return len(claimed)

    async def _deliver(
        self, pool: asyncpg.Pool, client: httpx.AsyncClient, referral: asyncpg.Record
    ) -> None:
        partner = Partner(referral["partner"])
        entry = self.catalogue.get(partner)
        async with pool.acquire() as connection:
            details = await load_details(connection, referral["case_id"])
        if entry is None or details is None:
            # Nothing to send (intake's report still not here past the grace) or nowhere
            # to send it.
            await self._failed(
                pool, referral, "partner-not-in-catalogue" if entry is None else "no-case-details"
            )
            return
        try:
            document = share(
                entry,
                details,
                referral_id=referral["referral_id"],
                basis=ReferralBasis(referral["basis"]),
            )
        except SharingRefused:
            # The catalogue changed under a referral: someone must look at it.
            await self._failed(pool, referral, "sharing-refused", permanent=True)
            return
        # Asked only when the partner is about to be called: a half-open breaker's one
        # trial call must be made and its outcome recorded.
        breaker = self.breakers[partner.value]
        if not breaker.allow():
            await self._failed(pool, referral, "circuit-open", count_attempt=False)
            return
        outcome = await self._send(client, entry, referral, document)
        breaker.record(outcome)
        if isinstance(outcome, Delivered):
            await self._sent(pool, referral, entry, document, outcome)
        else:
            await self._failed(
                pool, referral, outcome.reason, permanent=isinstance(outcome, FailedPermanently)
            )

    async def _send(
        self,
        client: httpx.AsyncClient,
        entry: PartnerEntry,
        referral: asyncpg.Record,
        document: SharedDocument,
    ) -> DeliveryOutcome:
        now = datetime.now(UTC)
        if entry.channel is DeliveryChannel.WEBHOOK:
            secret = entry.secret()
            if entry.webhook_url is None or secret is None:
                return FailedPermanently("webhook-not-configured")
            target = WebhookTarget(
                url=entry.webhook_url, secret=secret, timeout_seconds=self.webhook_timeout_seconds
            )
            return await deliver_webhook(
                client,
                target,
                referral_id=referral["referral_id"],
                document=document.document,
                now=now,
            )
        if self.smtp is None or entry.email is None:
            return FailedPermanently("smtp-not-configured")
        return await deliver_email(
            self.smtp,
            recipient=entry.email,
            referral_id=referral["referral_id"],
            subject=f"Referral {referral['referral_id']}",
            text=email_text(document),
        )

    async def _sent(
        self,
        pool: asyncpg.Pool,
        referral: asyncpg.Record,
        entry: PartnerEntry,
        document: SharedDocument,
        outcome: Delivered,
    ) -> None:
        async with pool.acquire() as connection, connection.transaction():
            current = await connection.fetchrow(
                "SELECT * FROM referrals WHERE referral_id = $1 FOR UPDATE",
                referral["referral_id"],
            )
            if current is None:
                return
            now = datetime.now(UTC)
            if current["status"] != ReferralStatus.READY.value:
                if current["sent_at"] is None:
                    await self._record_late_disclosure(connection, current, entry, document, now)
                return  # sent by another replica, or withdrawn meanwhile
            await mark_sent(
                connection,
                current,
                Step.DELIVERED,
                at=now,
                channel=entry.channel,
                shared_fields=document.fields,
                shared_by=SHARED_BY_SERVICE,
                acknowledge_by=now + entry.acknowledge_within * self.settings.deadline_scale,
                detail=outcome.detail,
            )

    async def _record_late_disclosure(
        self,
        connection: asyncpg.Connection,
        current: asyncpg.Record,
        entry: PartnerEntry,
        document: SharedDocument,
        now: datetime,
    ) -> None:
        """Withdrawn while it was on its way: the partner has it all the same. It stays
        withdrawn and is not announced as made, but what was shared, when and by whom is
        recorded (3.5.2), not lost."""
        log.warning(
            "referral delivered after it was withdrawn",
            extra={"referral_id": str(current["referral_id"]), "status": current["status"]},
        )
        await connection.execute(
            """UPDATE referrals SET sent_at = $2, channel = $3, shared_fields = $4,
                                    shared_by = $5, delivery_detail = $6, updated_at = $2
               WHERE referral_id = $1""",
            current["referral_id"],
            now,
            entry.channel.value,
            list(document.fields),
            SHARED_BY_SERVICE,
            "delivered after withdrawal",
        )

    async def _failed(
        self,
        pool: asyncpg.Pool,
        referral: asyncpg.Record,
        reason: str,
        *,
        permanent: bool = False,
        count_attempt: bool = True,
    ) -> None:
        """Not delivered: try again later, the referral still ready and its action open.
        A permanent failure needs someone to fix the partner's entry; it is retried at
        the longest interval, so a fixed catalogue is picked up."""
        attempts = referral["attempts"] + (1 if count_attempt else 0)
        # A referral never tried yet (its partner's circuit open) waits as after one try.
        delay = next_attempt_delay(1_000 if permanent else max(attempts, 1))
        log.warning(
            "referral not delivered",
            extra={"referral_id": str(referral["referral_id"]), "reason": reason},
        )
        async with pool.acquire() as connection:
            await connection.execute(
                """UPDATE referrals SET attempts = $2, next_attempt_at = now() + $3::interval,
                                        last_error = $4
                   WHERE referral_id = $1 AND status = 'ready'""",
                referral["referral_id"],
                attempts,
                delay,
                reason,
            )

    async def chase_unacknowledged(self, pool: asyncpg.Pool) -> None:
        """Chase what is past its ``acknowledge_by``; escalate what is still not
        acknowledged twice as long after it was sent. The window is the one the referral
        was sent with (``acknowledge_by - sent_at``), as staff were shown it, whatever
        the catalogue says now. Only referrals with something due are selected, so those
        already chased and waiting to be escalated never crowd out new ones."""
        async with pool.acquire() as connection, connection.transaction():
            now: datetime = await connection.fetchval("SELECT now()")
            rows = await connection.fetch(
                """SELECT * FROM referrals
                   WHERE status = 'sent' AND acknowledge_by <= now() AND escalated_at IS NULL
                     AND (chased_at IS NULL
                          OR acknowledge_by + (acknowledge_by - sent_at) <= now())
                   ORDER BY acknowledge_by LIMIT 100 FOR UPDATE SKIP LOCKED"""
            )
            for row in rows:
                chase = chase_due(
                    status=ReferralStatus(row["status"]),
                    sent_at=row["sent_at"],
                    acknowledge_within=row["acknowledge_by"] - row["sent_at"],
                    deadline_scale=1.0,
                    chased_at=row["chased_at"],
                    escalated_at=row["escalated_at"],
                    now=now,
                )
                if chase is None:
                    continue
                column = "chased_at" if chase.note == "chased" else "escalated_at"
                await connection.execute(
                    f"UPDATE referrals SET {column} = $2 WHERE referral_id = $1",
                    row["referral_id"],
                    now,
                )
                status = ReferralStatus(row["status"])
                event = ReferralStatusChanged(
                    referral_id=row["referral_id"],
                    case_id=row["case_id"],
                    action_id=row["action_id"],
                    partner=Partner(row["partner"]),
                    status=status,
                    previous_status=status,
                    note=chase.note,
                    changed_at=now,
                )
                await enqueue(connection, [envelope_of(event, None)])


def delivery_worker(catalogue: PartnerCatalogue, settings: ReferralsSettings) -> BackgroundTask:
    worker = DeliveryWorker(catalogue, settings)

    async def run_delivery_worker(runtime: Runtime) -> None:
        await worker.run(runtime)

    return run_delivery_worker
