"""How a referral reaches a partner (policy 3.3, 3.5.2, 3.6): the chassis's signed
webhook and STARTTLS email, keyed by the referral, with its retry schedule and
circuit breakers (:mod:`hhc_chassis.delivery`).

There is no give-up count. A survivor's referral is not dropped because a partner was
down for a day: the worker keeps trying, at most ``cap`` apart, until the referral is
delivered, fails permanently (which a person then sees and resolves), or is withdrawn.
"""

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

import httpx

from hhc_chassis import delivery
from hhc_chassis.delivery import (
    Breakers,
    BreakerState,
    CircuitBreaker,
    Delivered,
    DeliveryOutcome,
    FailedPermanently,
    FailedTemporarily,
    SmtpServer,
    WebhookTarget,
    next_attempt_delay,
    sign,
    verify_signature,
)

__all__ = [
    "REFERRAL_ID_HEADER",
    "BreakerState",
    "Breakers",
    "CircuitBreaker",
    "Delivered",
    "DeliveryOutcome",
    "FailedPermanently",
    "FailedTemporarily",
    "SmtpServer",
    "WebhookTarget",
    "deliver_email",
    "deliver_webhook",
    "next_attempt_delay",
    "referral_message_id",
    "sign",
    "verify_signature",
]

REFERRAL_ID_HEADER = "X-HHC-Referral-Id"


def referral_message_id(referral_id: UUID, *, sender: str) -> str:
    return delivery.message_id_for("referral", referral_id, sender=sender)


async def deliver_webhook(
    client: httpx.AsyncClient,
    target: WebhookTarget,
    *,
    referral_id: UUID,
    document: Mapping[str, object],
    now: datetime,
) -> DeliveryOutcome:
    """The referral's document, signed; the referral id is its idempotency key."""
    return await delivery.deliver_webhook(
        client,
        target,
        idempotency_key=referral_id,
        document=document,
        now=now,
        headers={REFERRAL_ID_HEADER: str(referral_id)},
    )


async def deliver_email(
    server: SmtpServer, *, recipient: str, referral_id: UUID, subject: str, text: str
) -> DeliveryOutcome:
    """One mail per referral: every attempt carries the referral's Message-ID."""
    return await delivery.deliver_email(
        server,
        recipient=recipient,
        message_id=referral_message_id(referral_id, sender=server.sender),
        subject=subject,
        text=text,
    )
