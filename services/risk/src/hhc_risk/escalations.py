"""Escalations that reach someone (issue 12): an overdue action is sent to the case team's
manager, and for the immediate-danger playbook (3.3.1) to the on-call safeguarding lead
too, by email and/or a signed webhook, again and again until someone acknowledges it.

Every replica runs the worker. A channel of an escalation is claimed with FOR UPDATE SKIP
LOCKED and leased (``next_attempt_at`` moved past the attempt), as referrals' delivery
worker does, so two replicas do not send it at the same time; a replica dying mid-send
leaves the lease to run out, and the retry carries the same Message-ID or idempotency
key. ``risk.escalation-notified`` is published only for a delivery the channel accepted.

The message carries no personal data: the case's reference and id, the action's kind and
deadline, and where to find the case.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx

from hhc_chassis.delivery import (
    Breakers,
    Delivered,
    DeliveryOutcome,
    FailedPermanently,
    WebhookTarget,
    deliver_email,
    deliver_webhook,
    message_id_for,
    next_attempt_delay,
)
from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_chassis.service import BackgroundTask, Runtime
from hhc_chassis.work import poll_rounds, see_through
from hhc_contracts.v1 import EscalationAcknowledged, EscalationNotified
from hhc_contracts.vocabulary import ActionKind, NotificationChannel
from hhc_risk.settings import NotificationTarget, RiskSettings

log = logging.getLogger(__name__)

MANAGER = "manager"
ON_CALL_SAFEGUARDING_LEAD = "on_call_safeguarding_lead"
NO_CHANNEL_CONFIGURED = "no-channel-configured"
LEASE = timedelta(minutes=2)
WEBHOOK_TIMEOUT_SECONDS = 10.0
PERMANENT_FAILURE_ATTEMPTS = 1_000
"""A permanent failure waits the longest interval: someone must fix the configuration."""


# The rules


def target_of(
    recipient_role: str, team: str | None, settings: RiskSettings
) -> NotificationTarget | None:
    """Where a recipient is reached: the team's manager from NOTIFY_MANAGERS, the lead
    from ON_CALL_SAFEGUARDING_LEAD; None when nobody configured one."""
    if recipient_role == ON_CALL_SAFEGUARDING_LEAD:
        return settings.on_call_safeguarding_lead
    if recipient_role == MANAGER and team is not None:
        return settings.notify_managers.get(team)
    return None


def channels_of(target: NotificationTarget | None) -> list[NotificationChannel]:
    """The channels a target is configured for; a webhook needs its secret to be signed."""
    if target is None:
        return []
    channels = []
    if target.email:
        channels.append(NotificationChannel.EMAIL)
    if target.webhook_url and target.webhook_secret:
        channels.append(NotificationChannel.WEBHOOK)
    return channels


def recipient_roles(escalated_to: str) -> list[str]:
    """``escalated_to`` of risk.action-overdue ("manager,on_call_safeguarding_lead")."""
    return [role for role in escalated_to.split(",") if role]


@dataclass(frozen=True, slots=True)
class Notice:
    """What an escalation says: no names, no narratives (3.5.1)."""

    escalation_id: UUID
    case_id: UUID
    case_reference: str | None
    action_id: UUID
    kind: ActionKind
    due_at: datetime
    recipient_role: str
    repeat: int
    link: str

    def subject(self) -> str:
        return f"Overdue action {self.kind} on case {self.case_reference or self.case_id}"

    def text(self) -> str:
        lines = [
            "An action of a harassment and hate crime case is overdue and is escalated to you"
            + (" (on-call safeguarding lead)." if self.recipient_role != MANAGER else "."),
            "",
            f"Case: {self.case_reference or '-'} ({self.case_id})",
            f"Action: {self.kind} ({self.action_id})",
            f"Due: {self.due_at.astimezone(UTC).isoformat()}",
            f"Case link: {self.link}",
            "",
            f"Escalation {self.escalation_id}, notice {self.repeat}. It is sent again until "
            f"acknowledged: POST /v1/escalations/{self.escalation_id}/acknowledge.",
        ]
        return "\n".join(lines) + "\n"

    def document(self) -> dict[str, object]:
        return {
            "type": "risk.escalation",
            "escalation_id": str(self.escalation_id),
            "case_id": str(self.case_id),
            "case_reference": self.case_reference,
            "action_id": str(self.action_id),
            "kind": str(self.kind),
            "due_at": self.due_at.astimezone(UTC).isoformat(),
            "recipient_role": self.recipient_role,
            "repeat": self.repeat,
            "link": self.link,
        }


def message_key(escalation_id: UUID, channel: str, repeat: int) -> UUID:
    """One key per notice: every retry of a notice carries it (one Message-ID, one
    idempotency key), each repeat a new one."""
    return uuid.uuid5(escalation_id, f"{channel}/{repeat}")


def escalation_state(
    *, acknowledged: bool, action_open: bool, no_channel: bool, notified: bool
) -> str:
    if acknowledged:
        return "acknowledged"
    if not action_open:
        return "resolved"  # completed or stopped since: nothing left to chase
    if no_channel:
        return NO_CHANNEL_CONFIGURED
    return "notified" if notified else "pending"


# Storing


async def open_escalations(
    connection: asyncpg.Connection,
    *,
    action_id: UUID,
    case_id: UUID,
    kind: str,
    due_at: datetime,
    escalated_to: str,
    team: str | None,
    settings: RiskSettings,
    detected_at: datetime,
) -> None:
    """One escalation per recipient of an overdue action, with a delivery row per channel
    configured for them, due at once. Without any, it says so and nothing is sent."""
    for role in recipient_roles(escalated_to):
        channels = channels_of(target_of(role, team, settings))
        escalation_id = await connection.fetchval(
            """INSERT INTO escalations (escalation_id, action_id, case_id, recipient_role,
                                        team, kind, due_at, created_at, no_channel)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (action_id, recipient_role, due_at) DO NOTHING
               RETURNING escalation_id""",
            uuid.uuid4(),
            action_id,
            case_id,
            role,
            team,
            kind,
            due_at,
            detected_at,
            not channels,
        )
        if escalation_id is None:
            continue
        if not channels:
            log.warning(
                "escalation has no channel configured",
                extra={"escalation_id": str(escalation_id), "recipient_role": role},
            )
            continue
        await connection.executemany(
            """INSERT INTO escalation_deliveries (escalation_id, channel, next_attempt_at)
               VALUES ($1, $2, $3)""",
            [(escalation_id, channel.value, detected_at) for channel in channels],
        )


async def reach_newly_configured(connection: asyncpg.Connection, settings: RiskSettings) -> int:
    """Escalations opened while their recipient had no channel, still unacknowledged and
    their action still open, are delivered once a channel is configured (read at start):
    a manager added to NOTIFY_MANAGERS hears of what is overdue now. How many."""
    waiting = await connection.fetch(
        """SELECT e.escalation_id, e.recipient_role, e.team FROM escalations e
           JOIN actions a ON a.action_id = e.action_id
           WHERE e.no_channel AND e.acknowledged_at IS NULL AND a.state = 'open'
           FOR UPDATE OF e SKIP LOCKED"""
    )
    reached = 0
    now = datetime.now(UTC)
    for row in waiting:
        channels = channels_of(target_of(row["recipient_role"], row["team"], settings))
        if not channels:
            continue
        await connection.executemany(
            """INSERT INTO escalation_deliveries (escalation_id, channel, next_attempt_at)
               VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
            [(row["escalation_id"], channel.value, now) for channel in channels],
        )
        await connection.execute(
            "UPDATE escalations SET no_channel = false WHERE escalation_id = $1",
            row["escalation_id"],
        )
        reached += 1
    return reached


async def acknowledge(
    connection: asyncpg.Connection, *, escalation_id: UUID, by: str, at: datetime
) -> asyncpg.Record | None:
    """Record who acknowledged it and when, and publish it; None if it already was."""
    row = await connection.fetchrow(
        """UPDATE escalations SET acknowledged_at = $2, acknowledged_by = $3
           WHERE escalation_id = $1 AND acknowledged_at IS NULL RETURNING *""",
        escalation_id,
        at,
        by,
    )
    if row is None:
        return None
    event = EscalationAcknowledged(
        escalation_id=escalation_id,
        action_id=row["action_id"],
        case_id=row["case_id"],
        acknowledged_by=by,
        acknowledged_at=at,
    )
    await enqueue(connection, [new_envelope(event, case_id=row["case_id"], occurred_at=at)])
    return row


# Delivering


class EscalationWorker:
    def __init__(self, settings: RiskSettings) -> None:
        self.settings = settings
        self.smtp = settings.smtp_server()
        self.breakers = Breakers()
        self.repeat_every = settings.escalation_repeat_every * settings.deadline_scale

    async def run(self, runtime: Runtime) -> None:
        async with runtime.pool.acquire() as connection, connection.transaction():
            await reach_newly_configured(connection, self.settings)
        async with httpx.AsyncClient() as client:
            await poll_rounds(
                lambda: self.deliver_due(runtime.pool, client),
                poll_seconds=self.settings.escalation_poll_seconds,
                work="escalation",
            )

    async def deliver_due(
        self, pool: asyncpg.Pool, client: httpx.AsyncClient, batch_size: int = 20
    ) -> int:
        """Send every channel due now of an escalation still unacknowledged whose action
        is still open; how many were claimed."""
        async with pool.acquire() as connection, connection.transaction():
            claimed = await connection.fetch(
                """WITH claimed AS (
                       UPDATE escalation_deliveries SET next_attempt_at = now() + $2::interval
                       WHERE (escalation_id, channel) IN (
                           SELECT d.escalation_id, d.channel
                           FROM escalation_deliveries d
                           JOIN escalations e USING (escalation_id)
                           JOIN actions a ON a.action_id = e.action_id
                           WHERE d.next_attempt_at <= now() AND e.acknowledged_at IS NULL
                             AND a.state = 'open'
                           ORDER BY d.next_attempt_at LIMIT $1
                           FOR UPDATE OF d SKIP LOCKED)
                       RETURNING *)
                   SELECT claimed.*, e.action_id, e.case_id, e.recipient_role, e.team, e.kind,
                          e.due_at, c.reference
                   FROM claimed JOIN escalations e USING (escalation_id)
                   JOIN cases c ON c.case_id = e.case_id""",
                batch_size,
                LEASE,
            )
        await see_through(
            claimed,
            lambda row: self._deliver(pool, client, row),
            work="escalation delivery",
            key="escalation_id",
        )
        return len(claimed)

    async def _deliver(
        self, pool: asyncpg.Pool, client: httpx.AsyncClient, row: asyncpg.Record
    ) -> None:
        channel = NotificationChannel(row["channel"])
        target = target_of(row["recipient_role"], row["team"], self.settings)
        destination = f"{row['recipient_role']}/{row['team']}/{channel}"
        breaker = self.breakers[destination]
        if not breaker.allow():
            await self._failed(pool, row, "circuit-open", count_attempt=False)
            return
        notice = Notice(
            escalation_id=row["escalation_id"],
            case_id=row["case_id"],
            case_reference=row["reference"],
            action_id=row["action_id"],
            kind=ActionKind(row["kind"]),
            due_at=row["due_at"],
            recipient_role=row["recipient_role"],
            repeat=row["notified"] + 1,
            link=f"{self.settings.case_link_base}/cases/{row['case_id']}",
        )
        outcome = await self._send(client, channel, target, notice)
        breaker.record(outcome)
        if isinstance(outcome, Delivered):
            await self._notified(pool, row, channel)
        else:
            await self._failed(
                pool, row, outcome.reason, permanent=isinstance(outcome, FailedPermanently)
            )

    async def _send(
        self,
        client: httpx.AsyncClient,
        channel: NotificationChannel,
        target: NotificationTarget | None,
        notice: Notice,
    ) -> DeliveryOutcome:
        key = message_key(notice.escalation_id, channel.value, notice.repeat)
        if channel is NotificationChannel.EMAIL:
            if self.smtp is None:
                return FailedPermanently("smtp-not-configured")
            if target is None or not target.email:
                return FailedPermanently(NO_CHANNEL_CONFIGURED)
            return await deliver_email(
                self.smtp,
                recipient=target.email,
                message_id=message_id_for("escalation", key, sender=self.smtp.sender),
                subject=notice.subject(),
                text=notice.text(),
            )
        if target is None or not target.webhook_url or target.webhook_secret is None:
            return FailedPermanently(NO_CHANNEL_CONFIGURED)
        return await deliver_webhook(
            client,
            WebhookTarget(
                url=target.webhook_url,
                secret=target.webhook_secret.get_secret_value().encode(),
                timeout_seconds=WEBHOOK_TIMEOUT_SECONDS,
            ),
            idempotency_key=key,
            document=notice.document(),
            now=datetime.now(UTC),
        )

    async def _notified(
        self, pool: asyncpg.Pool, row: asyncpg.Record, channel: NotificationChannel
    ) -> None:
        """Accepted by the channel: published, and sent again after the repeat interval
        unless acknowledged by then (the claim skips acknowledged ones)."""
        async with pool.acquire() as connection, connection.transaction():
            now = datetime.now(UTC)
            attempt = await connection.fetchval(
                """UPDATE escalation_deliveries
                   SET attempts = attempts + 1, notified = notified + 1, failures = 0,
                       last_notified_at = $3::timestamptz, last_error = NULL,
                       next_attempt_at = $3::timestamptz + $4::interval
                   WHERE escalation_id = $1 AND channel = $2 RETURNING attempts""",
                row["escalation_id"],
                channel.value,
                now,
                self.repeat_every,
            )
            event = EscalationNotified(
                escalation_id=row["escalation_id"],
                action_id=row["action_id"],
                case_id=row["case_id"],
                kind=ActionKind(row["kind"]),
                recipient_role=row["recipient_role"],
                team=row["team"],
                channel=channel,
                attempt=attempt,
                notified_at=now,
            )
            await enqueue(
                connection, [new_envelope(event, case_id=row["case_id"], occurred_at=now)]
            )

    async def _failed(
        self,
        pool: asyncpg.Pool,
        row: asyncpg.Record,
        reason: str,
        *,
        permanent: bool = False,
        count_attempt: bool = True,
    ) -> None:
        """Not delivered: it stays pending and is tried again with backoff."""
        failures = row["failures"] + (1 if count_attempt else 0)
        delay = next_attempt_delay(PERMANENT_FAILURE_ATTEMPTS if permanent else max(failures, 1))
        log.warning(
            "escalation not delivered",
            extra={"escalation_id": str(row["escalation_id"]), "reason": reason},
        )
        await pool.execute(
            """UPDATE escalation_deliveries
               SET attempts = attempts + $3, failures = $4, last_error = $5,
                   next_attempt_at = now() + $6::interval
               WHERE escalation_id = $1 AND channel = $2""",
            row["escalation_id"],
            row["channel"],
            1 if count_attempt else 0,
            failures,
            reason,
            delay,
        )


def escalation_worker(settings: RiskSettings) -> BackgroundTask:
    worker = EscalationWorker(settings)

    async def run_escalation_worker(runtime: Runtime) -> None:
        await worker.run(runtime)

    return run_escalation_worker
