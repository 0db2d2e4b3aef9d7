"""How a referral reaches a partner, against a real webhook endpoint and a real mail
server on this machine (no HTTP or SMTP is mocked), and the pure parts: signatures, the
retry schedule and the circuit breaker."""

import dataclasses
import hashlib
import hmac
import json
import random
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest

from hhc_devstack.partners import MailSink, PartnerWebhookReceiver
from hhc_referrals.delivery import (
    Breakers,
    BreakerState,
    CircuitBreaker,
    Delivered,
    DeliveryOutcome,
    FailedPermanently,
    FailedTemporarily,
    SmtpServer,
    WebhookTarget,
    deliver_email,
    deliver_webhook,
    next_attempt_delay,
    sign,
    verify_signature,
)

SECRET = b"shared-with-the-partner"
DOCUMENT: dict[str, object] = {
    "referral_id": "placeholder",
    "partner": "stop_hate_uk",
    "summary": "Referral under an information sharing protocol",
    "basis": "consent",
}
SENDER = "referrals@landlord.test"


@pytest.fixture
def receiver() -> Iterator[PartnerWebhookReceiver]:
    with PartnerWebhookReceiver(secret=SECRET, verify=verify_signature) as partner:
        yield partner


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def send(
    client: httpx.AsyncClient,
    url: str,
    *,
    referral_id: UUID | None = None,
    secret: bytes = SECRET,
    timeout_seconds: float = 5.0,
) -> DeliveryOutcome:
    return await deliver_webhook(
        client,
        WebhookTarget(url, secret, timeout_seconds),
        referral_id=referral_id or uuid4(),
        document=DOCUMENT,
        now=datetime.now(UTC),
    )


# Webhook


async def test_webhook_delivered_signed_with_the_referral_as_idempotency_key(
    receiver: PartnerWebhookReceiver, client: httpx.AsyncClient
) -> None:
    referral_id = uuid4()

    outcome = await send(client, receiver.url, referral_id=referral_id)

    assert outcome == Delivered("HTTP 202")
    [request] = receiver.received
    assert request.method == "POST"
    assert request.path == "/hhc/referrals"
    assert request.signature_valid
    assert request.headers["idempotency-key"] == str(referral_id)
    assert request.headers["x-hhc-referral-id"] == str(referral_id)
    assert request.headers["content-type"] == "application/json"
    # Compact, keys sorted, and the bytes signed are the bytes sent.
    assert request.body == json.dumps(DOCUMENT, separators=(",", ":"), sort_keys=True).encode()
    assert request.json() == DOCUMENT
    # The scheme as a partner reads it in our documentation, computed here on its own.
    fields = dict(part.split("=", 1) for part in request.headers["x-hhc-signature"].split(","))
    assert abs(int(fields["t"]) - time.time()) < 60
    signed = fields["t"].encode() + b"." + request.body
    assert fields["v1"] == hmac.new(SECRET, signed, hashlib.sha256).hexdigest()


async def test_a_repeat_carries_the_same_idempotency_key_and_409_counts_as_delivered(
    receiver: PartnerWebhookReceiver, client: httpx.AsyncClient
) -> None:
    referral_id = uuid4()
    await send(client, receiver.url, referral_id=referral_id)
    receiver.respond(status=409)  # "I already have that one"

    assert await send(client, receiver.url, referral_id=referral_id) == Delivered(
        "HTTP 409 already received"
    )
    first, second = receiver.received
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Delivered("HTTP 200")),
        (201, Delivered("HTTP 201")),
        (204, Delivered("HTTP 204")),
        (500, FailedTemporarily("HTTP 500")),
        (502, FailedTemporarily("HTTP 502")),
        (503, FailedTemporarily("HTTP 503")),
        (408, FailedTemporarily("HTTP 408")),
        (425, FailedTemporarily("HTTP 425")),
        (429, FailedTemporarily("HTTP 429")),
        (400, FailedPermanently("HTTP 400")),
        (401, FailedPermanently("HTTP 401")),
        (404, FailedPermanently("HTTP 404")),
        (422, FailedPermanently("HTTP 422")),
        (301, FailedPermanently("HTTP 301")),  # not followed: data goes where configured
    ],
)
async def test_partner_answer_decides_the_outcome(
    receiver: PartnerWebhookReceiver,
    client: httpx.AsyncClient,
    status: int,
    expected: DeliveryOutcome,
) -> None:
    receiver.respond(status=status)

    assert await send(client, receiver.url) == expected
    assert len(receiver.received) == 1


async def test_a_partner_slower_than_the_timeout_is_a_temporary_failure(
    receiver: PartnerWebhookReceiver, client: httpx.AsyncClient
) -> None:
    receiver.respond(status=202, delay_seconds=3)
    started = time.monotonic()

    outcome = await send(client, receiver.url, timeout_seconds=0.3)

    assert outcome == FailedTemporarily("ReadTimeout")
    assert time.monotonic() - started < 2
    receiver.wait_for(1)  # it may well have it: hence the idempotency key


async def test_a_partner_that_is_down_is_a_temporary_failure_until_it_is_back(
    receiver: PartnerWebhookReceiver, client: httpx.AsyncClient
) -> None:
    url = receiver.url
    receiver.go_down()

    assert await send(client, url) == FailedTemporarily("ConnectError")

    receiver.come_up()
    assert receiver.url == url
    assert await send(client, url) == Delivered("HTTP 202")


async def test_the_partner_rejects_a_signature_made_with_another_secret(
    receiver: PartnerWebhookReceiver, client: httpx.AsyncClient
) -> None:
    await send(client, receiver.url, secret=b"not-the-partners-secret")

    [request] = receiver.received
    assert not request.signature_valid


@pytest.mark.parametrize(
    "url",
    [
        "http://partner.example/hhc/referrals",
        "http://10.0.0.7:8080/hhc/referrals",
        "http://127.0.0.1.partner.example/hook",
        "ftp://partner.example/hook",
    ],
)
async def test_personal_data_never_goes_in_clear_to_another_machine(
    client: httpx.AsyncClient, url: str
) -> None:
    assert await send(client, url) == FailedPermanently("insecure-url")


async def test_https_to_a_partner_whose_certificate_is_trusted() -> None:
    with PartnerWebhookReceiver(secret=SECRET, verify=verify_signature, tls=True) as partner:
        assert partner.url.startswith("https://")
        assert partner.ca_file is not None
        trusting = ssl.create_default_context(cafile=str(partner.ca_file))
        async with httpx.AsyncClient(verify=trusting) as http:
            assert await send(http, partner.url) == Delivered("HTTP 202")
        assert partner.wait_for(1)[0].signature_valid


async def test_a_tls_failure_is_a_temporary_failure_and_nothing_is_sent() -> None:
    with PartnerWebhookReceiver(secret=SECRET, verify=verify_signature, tls=True) as partner:
        async with httpx.AsyncClient() as http:  # the system's trust: not this certificate
            assert await send(http, partner.url) == FailedTemporarily("ConnectError")
        assert partner.received == []


# Signatures

BODY = b'{"basis":"consent","partner":"police"}'
T = 1_700_000_000


@pytest.mark.parametrize(
    ("header", "body", "now", "valid"),
    [
        (sign(SECRET, T, BODY), BODY, T, True),
        (sign(SECRET, T, BODY), BODY, T + 300, True),  # at the edge of the tolerance
        (sign(SECRET, T, BODY), BODY, T - 300, True),
        (sign(SECRET, T, BODY), BODY.replace(b"police", b"polide"), T, False),  # tampered
        (sign(b"another secret", T, BODY), BODY, T, False),
        (sign(SECRET, T, BODY), BODY, T + 301, False),  # stale: a replay
        (sign(SECRET, T, BODY), BODY, T - 301, False),  # from the future
        (sign(SECRET, T + 1, BODY).replace(f"t={T + 1}", f"t={T}"), BODY, T, False),
        (f"v1=x,{sign(SECRET, T, BODY)}", BODY, T, True),  # one of several v1 matches
        ("", BODY, T, False),
        ("garbage", BODY, T, False),
        (f"t={T}", BODY, T, False),  # no v1
        (sign(SECRET, T, BODY).split(",")[1], BODY, T, False),  # no t
        (sign(SECRET, T, BODY).replace(f"t={T}", "t=abc"), BODY, T, False),
        (sign(SECRET, T, BODY).replace(f"t={T}", f"t=-{T}"), BODY, T, False),
        (f"t={T},{sign(SECRET, T, BODY)}", BODY, T, False),  # two timestamps
        (sign(SECRET, T, BODY) + ",v1", BODY, T, False),
        (f"t={T},v1=é", BODY, T, False),
    ],
)
def test_verify_signature(header: str, body: bytes, now: int, valid: bool) -> None:
    assert verify_signature(SECRET, header, body, now=now) is valid


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, T, BODY) == f"t={T},v1={expected}"


# Email


def smtp(sink: MailSink) -> SmtpServer:
    ca_file = str(sink.ca_file) if sink.ca_file else None
    return SmtpServer(sink.host, sink.port, SENDER, ca_file=ca_file, timeout_seconds=5.0)


async def mail(
    server: SmtpServer, recipient: str, referral_id: UUID | None = None
) -> DeliveryOutcome:
    return await deliver_email(
        server,
        recipient=recipient,
        referral_id=referral_id or uuid4(),
        subject="New referral",
        text="A referral is waiting for you in the partner portal.",
    )


async def test_email_delivered_over_starttls_with_the_referrals_message_id() -> None:
    referral_id = uuid4()
    with MailSink() as sink:
        outcome = await mail(smtp(sink), "referrals@partner.test", referral_id)

        [received] = sink.wait_for(1)
    message_id = f"<referral-{referral_id}@landlord.test>"
    assert outcome == Delivered(f"SMTP accepted {message_id}")
    assert received.over_tls
    assert received.message_id == message_id
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ("referrals@partner.test",)
    assert received.subject == "New referral"
    assert received.body.strip() == "A referral is waiting for you in the partner portal."


async def test_a_refused_recipient_is_a_permanent_failure() -> None:
    with MailSink(reject=["nobody@partner.test"]) as sink:
        assert await mail(smtp(sink), "nobody@partner.test") == FailedPermanently("SMTP 550")
        assert sink.received == []


async def test_a_deferred_recipient_is_a_temporary_failure() -> None:
    with MailSink(defer=["busy@partner.test"]) as sink:
        assert await mail(smtp(sink), "busy@partner.test") == FailedTemporarily("SMTP 451")
        assert sink.received == []


async def test_a_mail_server_that_is_down_is_a_temporary_failure() -> None:
    with MailSink() as sink:
        server = smtp(sink)
    # Stopped: nothing listens on its port any more.

    assert await mail(server, "referrals@partner.test") == FailedTemporarily("SMTPConnectError")


async def test_mail_is_not_sent_in_clear_when_the_server_offers_no_starttls() -> None:
    with MailSink(starttls=False) as sink:
        outcome = await mail(smtp(sink), "referrals@partner.test")

        assert outcome == FailedPermanently("starttls-unavailable")
        assert sink.received == []


async def test_an_untrusted_mail_server_certificate_is_a_temporary_failure() -> None:
    with MailSink() as sink:
        system_trust_only = dataclasses.replace(smtp(sink), ca_file=None)

        outcome = await mail(system_trust_only, "referrals@partner.test")

        assert outcome == FailedTemporarily("SSLCertVerificationError")
        assert sink.received == []


# Retry schedule


def test_backoff_doubles_from_the_base() -> None:
    delays = [next_attempt_delay(n) for n in range(1, 6)]

    assert delays == [timedelta(seconds=s) for s in (5, 10, 20, 40, 80)]


def test_backoff_is_capped_and_never_gives_up() -> None:
    cap = timedelta(minutes=30)

    assert next_attempt_delay(9) == timedelta(seconds=5 * 2**8)  # 21 minutes 20
    assert next_attempt_delay(10) == cap
    assert next_attempt_delay(10_000) == cap  # days of outage later: still trying


def test_full_jitter_stays_within_the_delay_and_is_reproducible() -> None:
    drawn = [next_attempt_delay(4, jitter=1.0, rng=random.Random(7)) for _ in range(2)]
    spread = {next_attempt_delay(4, jitter=1.0, rng=random.Random(seed)) for seed in range(50)}

    assert drawn[0] == drawn[1]
    assert all(timedelta(0) <= d <= timedelta(seconds=40) for d in spread)
    assert len(spread) > 40


def test_partial_jitter_keeps_the_rest_of_the_delay() -> None:
    rng = random.Random(1)
    delays = [next_attempt_delay(4, jitter=0.25, rng=rng) for _ in range(200)]

    assert all(timedelta(seconds=30) <= d <= timedelta(seconds=40) for d in delays)
    assert min(delays) < timedelta(seconds=32)


@pytest.mark.parametrize(
    ("attempts", "jitter", "complaint"),
    [(0, 0.0, "attempts"), (1, -0.1, "jitter"), (1, 1.5, "jitter")],
)
def test_backoff_refuses_nonsense(attempts: int, jitter: float, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        next_attempt_delay(attempts, jitter=jitter)


# Circuit breaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state(cb: CircuitBreaker) -> BreakerState:
    return cb.state  # read afresh each time (mypy would hold on to the first reading)


def breaker(clock: Clock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker(
        failure_threshold=threshold, reset_after=timedelta(seconds=60), clock=clock
    )


def test_breaker_opens_after_the_threshold_of_temporary_failures() -> None:
    cb = breaker(Clock())
    for _ in range(2):
        cb.record(FailedTemporarily("HTTP 503"))
        assert cb.allow()

    cb.record(FailedTemporarily("HTTP 503"))

    assert state(cb) is BreakerState.OPEN
    assert not cb.allow()


def test_breaker_counts_failures_in_a_row_only() -> None:
    cb = breaker(Clock())
    for outcome in [FailedTemporarily("x")] * 2 + [Delivered("HTTP 200")]:
        cb.record(outcome)
    cb.record(FailedTemporarily("x"))
    cb.record(FailedTemporarily("x"))

    assert state(cb) is BreakerState.CLOSED


def test_permanent_failures_do_not_open_the_breaker() -> None:
    cb = breaker(Clock())
    for _ in range(10):
        cb.record(FailedPermanently("HTTP 400"))

    assert state(cb) is BreakerState.CLOSED
    assert cb.allow()


def test_breaker_half_opens_for_one_trial_after_reset_after_and_closes_on_success() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record_failure()

    clock.now += 59.9
    assert not cb.allow()
    clock.now += 0.1
    assert state(cb) is BreakerState.HALF_OPEN
    assert cb.allow()  # the trial
    assert not cb.allow()  # and only one

    cb.record(Delivered("HTTP 202"))

    assert state(cb) is BreakerState.CLOSED
    assert cb.allow()
    assert cb.allow()


def test_a_failed_trial_opens_the_breaker_for_another_reset_after() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record_failure()
    clock.now += 60
    assert cb.allow()

    cb.record(FailedTemporarily("ConnectError"))

    assert state(cb) is BreakerState.OPEN
    clock.now += 59
    assert not cb.allow()
    clock.now += 1
    assert cb.allow()


def test_a_trial_whose_result_never_came_is_given_up_after_reset_after() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record_failure()
    clock.now += 60
    assert cb.allow()  # the worker holding the trial dies

    clock.now += 30
    assert not cb.allow()
    clock.now += 30
    assert cb.allow()


def test_a_permanent_failure_ends_the_trial_without_closing() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record_failure()
    clock.now += 60
    assert cb.allow()

    cb.record(FailedPermanently("HTTP 400"))

    assert state(cb) is BreakerState.HALF_OPEN
    assert cb.allow()  # another trial, with another referral


def test_breakers_are_per_partner() -> None:
    clock = Clock()
    breakers = Breakers(lambda: breaker(clock, threshold=1))

    breakers["police"].record_failure()

    assert breakers["police"] is breakers["police"]
    assert not breakers["police"].allow()
    assert breakers["stop_hate_uk"].allow()
    assert set(breakers) == {"police", "stop_hate_uk"}
