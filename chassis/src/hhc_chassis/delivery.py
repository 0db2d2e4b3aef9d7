"""Delivering a message to someone outside the service: a signed webhook or an email
over STARTTLS, the retry schedule, and a circuit breaker per destination. Referrals use
it to reach partners (policy 3.3, 3.6), risk to reach managers with escalations, intake
to offer the survivor the satisfaction survey (5.1).

No database and no broker here: callers record the outcome and decide when to try
again. Outcomes carry short codes and status lines only, never the message's content,
since they are written to logs and tables.

Personal data never travels in clear (3.5.1): webhooks go over HTTPS (plain HTTP only to
this machine, for tests), email only after STARTTLS when the server requires it.
"""

import contextlib
import email.utils
import hashlib
import hmac
import json
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from uuid import UUID

import aiosmtplib
import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

# Outcomes


@dataclass(frozen=True, slots=True)
class Delivered:
    detail: str


@dataclass(frozen=True, slots=True)
class FailedTemporarily:
    reason: str


@dataclass(frozen=True, slots=True)
class FailedPermanently:
    reason: str


DeliveryOutcome = Delivered | FailedTemporarily | FailedPermanently


# Webhook

SIGNATURE_HEADER = "X-HHC-Signature"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Worth asking again: the partner timed out, is not ready yet, or is throttling us.
TEMPORARY_CLIENT_ERRORS = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    secret: bytes = field(repr=False)
    timeout_seconds: float = 10.0


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`` (Stripe's scheme)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(
    secret: bytes, header: str, body: bytes, *, now: int, tolerance_seconds: int = 300
) -> bool:
    """What a partner does with the header. Several ``v1`` are allowed (while a secret
    is rotated); any one that matches will do."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, equals, value = part.strip().partition("=")
        if not equals:
            return False
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                return False
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _mac(secret, timestamp, body)
    matches = [hmac.compare_digest(expected, c) for c in candidates if c.isascii()]
    return any(matches)


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def encode_document(document: Mapping[str, object]) -> bytes:
    """The body exactly as sent and signed: compact JSON with sorted keys."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


async def deliver_webhook(
    client: httpx.AsyncClient,
    target: WebhookTarget,
    *,
    idempotency_key: UUID,
    document: Mapping[str, object],
    now: datetime,
    headers: Mapping[str, str] | None = None,
) -> DeliveryOutcome:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        url = httpx.URL(target.url)
    except httpx.InvalidURL:
        return FailedPermanently("invalid-url")
    if not _secure_enough(url):
        return FailedPermanently("insecure-url")
    body = encode_document(document)
    sent_headers = {
        **(headers or {}),
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(target.secret, int(now.timestamp()), body),
        "Idempotency-Key": str(idempotency_key),
    }
    try:
        # Streamed so the partner's answer body is never read: only its status matters.
        # Redirects are not followed: personal data goes where it was configured to go.
        async with client.stream(
            "POST",
            url,
            content=body,
            headers=sent_headers,
            timeout=target.timeout_seconds,
            follow_redirects=False,
        ) as response:
            status = response.status_code
    except httpx.TransportError as error:  # timeouts, refused connections, TLS
        return FailedTemporarily(type(error).__name__)
    return classify_http_status(status)


def classify_http_status(status: int) -> DeliveryOutcome:
    line = f"HTTP {status}"
    if 200 <= status < 300:
        return Delivered(line)
    if status == 409:  # the receiver already has it under this idempotency key
        return Delivered(f"{line} already received")
    if status in TEMPORARY_CLIENT_ERRORS or status >= 500:
        return FailedTemporarily(line)
    return FailedPermanently(line)


def _secure_enough(url: httpx.URL) -> bool:
    if url.scheme == "https":
        return True
    return url.scheme == "http" and url.host in LOOPBACK_HOSTS


# Email


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    sender: str
    starttls: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0
    ca_file: str | None = None  # None: the system's trust store


async def deliver_email(
    server: SmtpServer, *, recipient: str, message_id: str, subject: str, text: str
) -> DeliveryOutcome:
    """Send one mail. ``message_id`` (see :func:`message_id_for`) is the same for every
    attempt at one message, so that a repeat is recognisable."""
    message = email_message(
        sender=server.sender,
        recipient=recipient,
        message_id=message_id,
        subject=subject,
        text=text,
    )
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        timeout=server.timeout_seconds,
        start_tls=False,  # done below, so that its absence is told apart
    )
    try:
        await client.connect()
        try:
            if server.starttls:
                await client.ehlo()
                if not client.supports_extension("starttls"):
                    return FailedPermanently("starttls-unavailable")
                await client.starttls(tls_context=ssl.create_default_context(cafile=server.ca_file))
            if server.username is not None:
                await client.login(server.username, server.password or "")
            await client.send_message(message, sender=server.sender, recipients=[recipient])
            # Taken: a failing goodbye must not make it look undelivered.
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
        finally:
            client.close()
    except aiosmtplib.SMTPRecipientsRefused as error:
        return _classify_smtp_code(min(refused.code for refused in error.recipients))
    except aiosmtplib.SMTPResponseException as error:
        return _classify_smtp_code(error.code)
    except OSError as error:  # refused, timed out, disconnected, TLS failed
        return FailedTemporarily(type(error).__name__)
    except aiosmtplib.SMTPException as error:  # e.g. no AUTH offered: configuration
        return FailedPermanently(type(error).__name__)
    return Delivered(f"SMTP accepted {message['Message-ID']}")


def email_message(
    *, sender: str, recipient: str, message_id: str, subject: str, text: str
) -> EmailMessage:
    """The mail as sent."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message.set_content(text)
    return message


def message_id_for(kind: str, message_key: UUID, *, sender: str) -> str:
    """``<kind-key@sender's domain>``: one Message-ID per thing sent, whatever the attempt."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{kind}-{message_key}@{domain}>"


def _classify_smtp_code(code: int) -> DeliveryOutcome:
    if 400 <= code < 500:
        return FailedTemporarily(f"SMTP {code}")
    return FailedPermanently(f"SMTP {code}")


class SmtpSettings(BaseSettings):
    """The mail server a service sends through; mixed into a service's settings."""

    smtp_host: str | None = Field(default=None, description="Mail server; none: mail not sent")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(
        default=True, description="Upgrade the connection with STARTTLS before sending"
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field(default="hhc@hhc.invalid", description="The From address")
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle the mail server's certificate is checked against"
    )

    def smtp_server(self) -> SmtpServer | None:
        if not self.smtp_host:
            return None
        return SmtpServer(
            host=self.smtp_host,
            port=self.smtp_port,
            sender=self.smtp_sender,
            starttls=self.smtp_starttls,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            ca_file=str(self.smtp_ca_file) if self.smtp_ca_file else None,
        )


# Retry schedule

_MAX_DOUBLINGS = 62  # 2**62 times any sensible base is already far beyond any cap
_rng = random.Random()


def next_attempt_delay(
    attempts: int,
    *,
    base: timedelta = timedelta(seconds=5),
    cap: timedelta = timedelta(minutes=30),
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> timedelta:
    """How long to wait after ``attempts`` failed attempts (1 or more): ``base`` doubled
    each time, never more than ``cap``. ``jitter`` in [0, 1] is the share of that delay
    drawn at random (1.0 is "full jitter"), so that destinations coming back are not met
    by every waiting message at once."""
    if attempts < 1:
        raise ValueError("attempts counts attempts made, from 1")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter is a share, from 0 to 1")
    exponential = base.total_seconds() * 2.0 ** min(attempts - 1, _MAX_DOUBLINGS)
    delay = min(exponential, cap.total_seconds())
    if jitter:
        delay -= (rng or _rng).uniform(0.0, jitter * delay)
    return timedelta(seconds=delay)


# Circuit breaker


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stops calling a destination that keeps failing, then tries one call again.

    Closed: every call is allowed; ``failure_threshold`` temporary failures in a row open
    it. Open: nothing is allowed until ``reset_after`` has passed, then it is half-open.
    Half-open: one trial call is allowed; a delivery closes it, a temporary failure opens
    it again. A trial whose result never comes (the worker died) is given up after
    ``reset_after``, and another is allowed.

    Only temporary failures count: a permanent one says the destination answered, and
    that this message needs a person, not that the destination is down.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after: timedelta = timedelta(seconds=60),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after.total_seconds()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._since = 0.0  # when it opened, or when the half-open trial was allowed

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._waited():
            return BreakerState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        if self._state is BreakerState.CLOSED:
            return True
        if not self._waited():  # open and cooling, or a half-open trial still out
            return False
        self._state = BreakerState.HALF_OPEN
        self._since = self._clock()
        return True

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0

    def record_failure(self) -> None:
        """A temporary failure."""
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def record(self, outcome: DeliveryOutcome) -> None:
        match outcome:
            case Delivered():
                self.record_success()
            case FailedTemporarily():
                self.record_failure()
            case FailedPermanently():
                if self._state is BreakerState.HALF_OPEN:
                    self._since -= self.reset_after  # the trial is over: allow another

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._since = self._clock()
        self._failures = 0

    def _waited(self) -> bool:
        return self._clock() - self._since >= self.reset_after


class Breakers(dict[str, CircuitBreaker]):
    """One breaker per destination, made on first use."""

    def __init__(self, factory: Callable[[], CircuitBreaker] = CircuitBreaker) -> None:
        super().__init__()
        self._factory = factory

    def __missing__(self, partner: str) -> CircuitBreaker:
        breaker = self[partner] = self._factory()
        return breaker
