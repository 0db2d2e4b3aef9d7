"""The delivery worker against a real PostgreSQL (a fresh, migrated database per test) and
real partners on this machine: a webhook endpoint and a STARTTLS mail server. Nothing is
mocked. Each test drives ``deliver_due`` / ``chase_unacknowledged`` directly and checks
the referral's row, the outbox, and what the partner received.

Time is never waited for: a referral is made due by moving ``next_attempt_at`` to now, a
deadline passed by moving ``sent_at`` and ``acknowledge_by`` back. Referrals are inserted
with SQL as the handlers insert them."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from hhc_chassis.db import MigrationSet, create_pool, migrate
from hhc_contracts.vocabulary import DeliveryChannel, Partner
from hhc_devstack.partners import MailSink, PartnerWebhookReceiver
from hhc_referrals.catalogue import PartnerCatalogue, load_catalogue, shipped_entries
from hhc_referrals.delivery import CircuitBreaker, referral_message_id, verify_signature
from hhc_referrals.lifecycle import Step
from hhc_referrals.settings import ReferralsSettings
from hhc_referrals.sharing import CASE_DETAIL_FIELDS
from hhc_referrals.store import move
from hhc_referrals.worker import DETAILS_GRACE, SHARED_BY_SERVICE, DeliveryWorker

SECRET = b"shared-with-adult-social-services"
OTHER_SECRET = b"shared-with-childrens-social-services"
SENDER = "referrals@landlord.test"
REFERRALS_MIGRATIONS = MigrationSet(name="referrals", package="hhc_referrals")
WEBHOOK_PARTNER = Partner.ADULT_SOCIAL_SERVICES
OTHER_WEBHOOK_PARTNER = Partner.CHILDRENS_SOCIAL_SERVICES
EMAIL_PARTNER = Partner.STOP_HATE_UK
MADE = "referrals.referral-made"
STATUS_CHANGED = "referrals.referral-status-changed"

NARRATIVE = "He shouted at me on the stairs again and spat at my door."
DETAILS: dict[str, object] = {
    "case_reference": "HHC-2025-000123",
    "survivor_name": "Ada Example",
    "survivor_phone": "07700 900123",
    "survivor_email": None,  # no value: never sent
    "survivor_tenancy_reference": "T-998877",
    "survivor_is_customer": True,
    "safe_contact_method": "phone",
    "safe_contact_times": "   ",  # blank: no value
    "language": "pl",
    "interpreter_needed": True,
    "british_sign_language": False,
    "accessible_formats": [],  # empty: no value
    "location": "Flat 3, 12 Example Road",
    "description": NARRATIVE,
    "categories": ["race"],
    "perceived_motivation": ["race"],
    "classification": "hate_incident",
    "perpetrator_kinds": ["neighbour"],
    "immediate_danger": False,
    "vulnerable_adult": True,
    "children_in_household": False,
    "capacity_concern": False,  # False says something: sent
    "ongoing": True,
    "incident_occurred_at": "2025-03-01T20:15:00+00:00",
    "received_at": "2025-03-02T09:00:00+00:00",
}
WITHOUT_VALUE = frozenset({"survivor_email", "safe_contact_times", "accessible_formats"})


# Partners, catalogue, settings, database


@pytest.fixture
def partner() -> Iterator[PartnerWebhookReceiver]:
    """Adult Social Services' webhook endpoint."""
    with PartnerWebhookReceiver(secret=SECRET, verify=verify_signature) as receiver:
        yield receiver


@pytest.fixture
def other_partner() -> Iterator[PartnerWebhookReceiver]:
    """Children's Social Services' webhook endpoint."""
    with PartnerWebhookReceiver(secret=OTHER_SECRET, verify=verify_signature) as receiver:
        yield receiver


@pytest.fixture
def mail() -> Iterator[MailSink]:
    """Stop Hate UK's mail server, requiring STARTTLS."""
    with MailSink(starttls=True) as sink:
        yield sink


@pytest.fixture
def catalogue(
    tmp_path: Path, partner: PartnerWebhookReceiver, other_partner: PartnerWebhookReceiver
) -> PartnerCatalogue:
    """The shipped catalogue, with a deployment's file pointing the two social services
    at the local endpoints (email partners keep their addresses: the sink takes all)."""
    endpoints = {
        WEBHOOK_PARTNER: (partner, SECRET),
        OTHER_WEBHOOK_PARTNER: (other_partner, OTHER_SECRET),
    }
    entries = []
    for entry in shipped_entries():
        if entry.id in endpoints:
            receiver, secret = endpoints[entry.id]
            listed = entry.model_dump(mode="json", exclude_none=True)
            listed.pop("webhook_secret_env", None)
            listed |= {"webhook_url": receiver.url, "webhook_secret": secret.decode()}
            entries.append(listed)
    path = tmp_path / "partners.json"
    path.write_text(json.dumps({"partners": entries}))
    return load_catalogue(path)


@pytest.fixture
def settings(database_url: str, mail: MailSink) -> ReferralsSettings:
    assert mail.ca_file is not None
    return ReferralsSettings(
        database_url=database_url,
        smtp_host=mail.host,
        smtp_port=mail.port,
        smtp_starttls=True,
        smtp_ca_file=mail.ca_file,
        smtp_sender=SENDER,
        delivery_poll_seconds=0.05,
    )


@pytest.fixture
async def pool(settings: ReferralsSettings) -> AsyncIterator[asyncpg.Pool]:
    """The service's own pool (its schema on the search path) on a migrated database."""
    await migrate(settings, [REFERRALS_MIGRATIONS])
    opened = await create_pool(settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def worker(catalogue: PartnerCatalogue, settings: ReferralsSettings) -> DeliveryWorker:
    return DeliveryWorker(catalogue, settings)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


# Referrals as the handlers write them, and what the database says


@dataclass(frozen=True)
class Inserted:
    referral_id: UUID
    case_id: UUID
    action_id: UUID
    further_action_id: UUID


async def insert_ready_referral(
    pool: asyncpg.Pool,
    catalogue: PartnerCatalogue,
    partner: Partner,
    *,
    details: Mapping[str, object] | None = DETAILS,
    decided_ago: timedelta = timedelta(0),
) -> Inserted:
    """A ready referral on consent, decided ``decided_ago`` and due now, with the case's
    details (none yet: ``details=None``), the action that opened it and a further action
    it answers too (a second report's)."""
    entry = catalogue.get(partner)
    assert entry is not None
    inserted = Inserted(uuid4(), uuid4(), uuid4(), uuid4())
    async with pool.acquire() as connection, connection.transaction():
        if details is not None:
            await insert_details(connection, inserted.case_id, details)
        await connection.execute(
            """INSERT INTO referrals (referral_id, case_id, action_id, partner, partner_kind,
                                      channel, status, basis, immediate_danger,
                                      override_proposed, decided_at, next_attempt_at,
                                      updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, 'ready', 'consent', false, false,
                       now() - $7::interval, now(), now())""",
            inserted.referral_id,
            inserted.case_id,
            inserted.action_id,
            partner.value,
            entry.kind.value,
            entry.channel.value,
            decided_ago,
        )
        await connection.execute(
            """INSERT INTO referral_actions (action_id, referral_id, linked_at)
               VALUES ($1, $3, now() - interval '1 minute'), ($2, $3, now())""",
            inserted.action_id,
            inserted.further_action_id,
            inserted.referral_id,
        )
    return inserted


async def insert_details(
    connection: asyncpg.Connection | asyncpg.Pool, case_id: UUID, details: Mapping[str, object]
) -> None:
    """The case's details, as referrals' handler of intake's report stores them."""
    await connection.execute(
        "INSERT INTO case_details (case_id, details, received_at) VALUES ($1, $2, now())",
        case_id,
        dict(details),
    )


async def make_due(pool: asyncpg.Pool, referral_id: UUID) -> None:
    """What waiting out the backoff would do."""
    await pool.execute(
        "UPDATE referrals SET next_attempt_at = now() WHERE referral_id = $1", referral_id
    )


async def row_of(pool: asyncpg.Pool, referral_id: UUID) -> asyncpg.Record:
    row = await pool.fetchrow(
        """SELECT *, next_attempt_at - now() AS due_in FROM referrals
           WHERE referral_id = $1""",
        referral_id,
    )
    assert row is not None
    return row


async def events(pool: asyncpg.Pool, event_type: str | None = None) -> list[dict[str, Any]]:
    """Envelopes in the outbox, oldest first."""
    rows = await pool.fetch("SELECT event_type, message_key, payload FROM outbox ORDER BY id")
    found = [row["payload"] for row in rows if event_type in (None, row["event_type"])]
    for row in rows:
        assert row["message_key"] == row["payload"]["case_id"]  # one case stays in order
    return found


def expected_fields(catalogue: PartnerCatalogue, partner: Partner) -> list[str]:
    """The partner's allowed fields that have a value in DETAILS, in the canonical order."""
    entry = catalogue.get(partner)
    assert entry is not None
    return [
        name
        for name in CASE_DETAIL_FIELDS
        if name in entry.allowed_fields and name not in WITHOUT_VALUE
    ]


def shown(value: object) -> str:
    """A field's value as a mail shows it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def assert_backing_off(row: asyncpg.Record, *, attempts: int) -> None:
    """Still ready, not sent, and not due again before the backoff after ``attempts``
    (5 s doubled per attempt, capped at 30 min)."""
    assert row["status"] == "ready"
    assert row["sent_at"] is None
    assert row["shared_fields"] is None
    assert row["attempts"] == attempts
    delay = min(timedelta(seconds=5 * 2 ** (attempts - 1)), timedelta(minutes=30))
    assert delay - timedelta(seconds=2) < row["due_in"] <= delay


# 1. Delivered by webhook


async def test_webhook_delivery_marks_sent_shares_only_allowed_fields_and_announces_once(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
) -> None:
    referral = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)

    assert await worker.deliver_due(pool, client) == 1

    shared = expected_fields(catalogue, WEBHOOK_PARTNER)
    # The partner: one signed request, keyed by the referral, with exactly those fields.
    [request] = partner.received
    assert request.signature_valid
    assert verify_signature(
        SECRET, request.headers["x-hhc-signature"], request.body, now=int(time.time())
    )
    assert request.headers["idempotency-key"] == str(referral.referral_id)
    document = request.json()
    assert isinstance(document, dict)
    assert document["referral_id"] == str(referral.referral_id)
    assert document["partner"] == WEBHOOK_PARTNER.value
    assert document["basis"] == "consent"
    assert document["details"] == {name: DETAILS[name] for name in shared}
    assert "survivor_tenancy_reference" not in document["details"]  # not allowed
    assert "capacity_concern" in document["details"]  # False is a value
    # The row: sent, what was shared, when, by whom, how; no longer due.
    row = await row_of(pool, referral.referral_id)
    assert row["status"] == "sent"
    assert row["sent_at"] is not None
    assert row["shared_fields"] == shared
    assert row["shared_by"] == SHARED_BY_SERVICE
    assert row["channel"] == DeliveryChannel.WEBHOOK.value
    assert row["delivery_detail"] == "HTTP 202"
    assert row["next_attempt_at"] is None
    assert row["last_error"] is None
    assert row["acknowledge_by"] == row["sent_at"] + timedelta(days=1)
    # The outbox: referral-made, only now, answering the further action too.
    [envelope] = await events(pool)
    assert envelope["event_type"] == MADE
    made = envelope["payload"]
    assert made["referral_id"] == str(referral.referral_id)
    assert made["action_id"] == str(referral.action_id)
    assert made["shared_fields"] == row["shared_fields"]
    assert made["covers_action_ids"] == [str(referral.further_action_id)]
    assert made["channel"] == DeliveryChannel.WEBHOOK.value
    # Nothing further to do.
    assert await worker.deliver_due(pool, client) == 0
    assert len(partner.received) == 1


async def test_a_referral_decided_before_its_case_details_arrive_waits_for_them_untried(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
) -> None:
    """Risk's action and intake's report come on different topics: a referral may be ready
    before the details it shares. That is not a failed attempt, and costs no backoff."""
    referral = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER, details=None)

    assert await worker.deliver_due(pool, client) == 0
    row = await row_of(pool, referral.referral_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("ready", 0, None)
    assert row["due_in"] <= timedelta(0)  # still due: nothing was leased
    assert partner.received == []

    await insert_details(pool, referral.case_id, DETAILS)

    assert await worker.deliver_due(pool, client) == 1
    assert len(partner.received) == 1
    assert (await row_of(pool, referral.referral_id))["status"] == "sent"


async def test_case_details_still_missing_after_the_grace_make_a_failed_attempt(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
) -> None:
    """Past the grace, missing details are a fault to see: tried, failed with the reason,
    backed off, nothing sent."""
    referral = await insert_ready_referral(
        pool,
        catalogue,
        WEBHOOK_PARTNER,
        details=None,
        decided_ago=DETAILS_GRACE + timedelta(seconds=1),
    )

    assert await worker.deliver_due(pool, client) == 1

    row = await row_of(pool, referral.referral_id)
    assert row["last_error"] == "no-case-details"
    assert_backing_off(row, attempts=1)
    assert partner.received == []
    assert await events(pool) == []


# 2. Partner down, then back


async def test_partner_down_backs_off_then_delivers_once_when_back_and_due(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
) -> None:
    referral = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)
    partner.go_down()

    assert await worker.deliver_due(pool, client) == 1

    row = await row_of(pool, referral.referral_id)
    assert_backing_off(row, attempts=1)
    assert row["last_error"] == "ConnectError"
    assert await events(pool, MADE) == []
    # Back, but not yet due: left alone.
    partner.come_up()
    assert await worker.deliver_due(pool, client) == 0
    assert partner.received == []

    await make_due(pool, referral.referral_id)
    assert await worker.deliver_due(pool, client) == 1
    assert await worker.deliver_due(pool, client) == 0

    assert len(partner.received) == 1
    row = await row_of(pool, referral.referral_id)
    assert row["status"] == "sent"
    assert row["last_error"] is None
    [made] = await events(pool, MADE)
    assert made["payload"]["referral_id"] == str(referral.referral_id)


# 3. Partner errors: 5xx is temporary, 4xx permanent


async def test_server_error_is_retried_with_backoff_under_the_same_key(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
) -> None:
    referral = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)
    partner.respond(status=500)

    await worker.deliver_due(pool, client)

    row = await row_of(pool, referral.referral_id)
    assert_backing_off(row, attempts=1)
    assert row["last_error"] == "HTTP 500"
    assert await events(pool, MADE) == []

    partner.respond(status=202)
    await make_due(pool, referral.referral_id)
    await worker.deliver_due(pool, client)

    first, second = partner.received
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert second.headers["idempotency-key"] == str(referral.referral_id)
    assert (await row_of(pool, referral.referral_id))["status"] == "sent"
    assert len(await events(pool, MADE)) == 1


async def test_client_error_is_permanent_and_retried_only_at_the_longest_interval(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
) -> None:
    referral = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)
    partner.respond(status=400)

    await worker.deliver_due(pool, client)
    await make_due(pool, referral.referral_id)
    await worker.deliver_due(pool, client)

    assert len(partner.received) == 2
    row = await row_of(pool, referral.referral_id)
    assert row["status"] == "ready"
    assert row["last_error"] == "HTTP 400"
    assert row["attempts"] == 2
    # Not the 10 s a second temporary failure would wait: the cap, for a person to act.
    assert timedelta(minutes=29) < row["due_in"] <= timedelta(minutes=30)
    assert await events(pool) == []


# 4. Slow partner


async def test_partner_slower_than_the_timeout_is_a_temporary_failure(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
) -> None:
    referral = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)
    worker.webhook_timeout_seconds = 0.3
    partner.respond(status=202, delay_seconds=30)  # answers, but far too late

    started = time.monotonic()
    await worker.deliver_due(pool, client)

    assert time.monotonic() - started < 5  # the worker's timeout, not the default 10 s
    assert len(partner.received) == 1  # it arrived; no answer came in time
    row = await row_of(pool, referral.referral_id)
    assert_backing_off(row, attempts=1)
    assert row["last_error"] == "ReadTimeout"
    assert await events(pool) == []


# 5. A partner detects a forged or wrongly keyed request


async def test_partner_with_another_secret_detects_the_signature_and_refusal_is_permanent(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
) -> None:
    referral = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)
    partner.secret = b"the-partner-holds-another-key"
    # What a partner does with a request it cannot verify (the receiver cannot decide
    # that itself: it is told to answer 401).
    partner.respond(status=401)

    await worker.deliver_due(pool, client)

    [request] = partner.received
    assert not request.signature_valid
    row = await row_of(pool, referral.referral_id)
    assert row["status"] == "ready"
    assert row["last_error"] == "HTTP 401"
    assert timedelta(minutes=29) < row["due_in"] <= timedelta(minutes=30)
    assert await events(pool) == []


# 6. Email over STARTTLS


async def test_email_partner_gets_one_mail_over_starttls_with_only_allowed_fields(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    mail: MailSink,
) -> None:
    referral = await insert_ready_referral(pool, catalogue, EMAIL_PARTNER)
    entry = catalogue.get(EMAIL_PARTNER)
    assert entry is not None
    assert entry.email is not None

    assert await worker.deliver_due(pool, client) == 1

    [message] = mail.received
    assert message.over_tls
    assert message.rcpt_tos == (entry.email,)
    assert message.message_id == referral_message_id(referral.referral_id, sender=SENDER)
    shared = expected_fields(catalogue, EMAIL_PARTNER)
    _, header, fields = message.body.replace("\r\n", "\n").strip().split("\n\n")
    assert dict(line.split(": ", 1) for line in header.splitlines()) == {
        "referral_id": str(referral.referral_id),
        "partner": EMAIL_PARTNER.value,
        "basis": "consent",
        "sharing_agreement": entry.sharing_agreement,
    }
    assert fields.splitlines() == [f"{name}: {shown(DETAILS[name])}" for name in shared]
    # The narrative, and what Stop Hate UK is not allowed, never leave.
    assert NARRATIVE not in message.body
    assert "description" not in message.body
    assert str(DETAILS["location"]) not in message.body
    assert str(DETAILS["survivor_tenancy_reference"]) not in message.body
    row = await row_of(pool, referral.referral_id)
    assert row["status"] == "sent"
    assert row["channel"] == DeliveryChannel.EMAIL.value
    assert row["shared_fields"] == shared
    assert row["delivery_detail"] == f"SMTP accepted {message.message_id}"
    [made] = await events(pool, MADE)
    assert made["payload"]["channel"] == DeliveryChannel.EMAIL.value
    assert made["payload"]["shared_fields"] == shared
    assert await worker.deliver_due(pool, client) == 0
    assert len(mail.received) == 1


# 7. Circuit breaker


async def test_open_circuit_spares_the_failing_partner_and_not_the_others(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
    other_partner: PartnerWebhookReceiver,
) -> None:
    threshold = CircuitBreaker().failure_threshold
    failing = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)
    partner.respond(status=503)
    for _ in range(threshold):
        await make_due(pool, failing.referral_id)
        await worker.deliver_due(pool, client)
    assert len(partner.received) == threshold
    # A referral that has waited, a new one never tried, and one to another partner.
    fresh = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)
    elsewhere = await insert_ready_referral(pool, catalogue, OTHER_WEBHOOK_PARTNER)
    await make_due(pool, failing.referral_id)

    assert await worker.deliver_due(pool, client) == 3

    assert len(partner.received) == threshold  # not called again
    row = await row_of(pool, failing.referral_id)
    assert row["last_error"] == "circuit-open"
    assert_backing_off(row, attempts=threshold)  # not counted as an attempt
    row = await row_of(pool, fresh.referral_id)
    assert row["last_error"] == "circuit-open"
    assert row["attempts"] == 0
    assert timedelta(seconds=3) < row["due_in"] <= timedelta(seconds=5)
    [request] = other_partner.received
    assert request.headers["idempotency-key"] == str(elsewhere.referral_id)
    assert (await row_of(pool, elsewhere.referral_id))["status"] == "sent"
    [made] = await events(pool, MADE)
    assert made["payload"]["referral_id"] == str(elsewhere.referral_id)


# 8. Two replicas


async def test_a_second_worker_does_not_claim_a_referral_in_flight(
    pool: asyncpg.Pool,
    catalogue: PartnerCatalogue,
    settings: ReferralsSettings,
    client: httpx.AsyncClient,
    partner: PartnerWebhookReceiver,
) -> None:
    first, second = DeliveryWorker(catalogue, settings), DeliveryWorker(catalogue, settings)
    referral = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)
    partner.respond(status=202, delay_seconds=1.5)  # holds its answer while we look

    delivering = asyncio.create_task(first.deliver_due(pool, client))
    await partner.wait_for_async(1)  # the first worker's request is with the partner
    assert await second.deliver_due(pool, client) == 0
    assert await delivering == 1

    [request] = partner.received
    assert request.headers["idempotency-key"] == str(referral.referral_id)
    assert (await row_of(pool, referral.referral_id))["status"] == "sent"
    assert len(await events(pool, MADE)) == 1


async def test_two_workers_claiming_at_once_deliver_each_referral_once(
    pool: asyncpg.Pool,
    catalogue: PartnerCatalogue,
    settings: ReferralsSettings,
    partner: PartnerWebhookReceiver,
) -> None:
    referrals = [await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER) for _ in range(6)]
    workers = [DeliveryWorker(catalogue, settings) for _ in range(2)]

    async with httpx.AsyncClient() as one, httpx.AsyncClient() as two:
        claimed = await asyncio.gather(
            workers[0].deliver_due(pool, one), workers[1].deliver_due(pool, two)
        )

    assert sum(claimed) == len(referrals)
    keys = sorted(request.headers["idempotency-key"] for request in partner.received)
    assert keys == sorted(str(referral.referral_id) for referral in referrals)
    made = await events(pool, MADE)
    assert sorted(event["payload"]["referral_id"] for event in made) == keys


# 9. Withdrawn while in flight


async def test_withdrawn_while_in_flight_is_not_announced_but_the_disclosure_is_recorded(
    pool: asyncpg.Pool,
    worker: DeliveryWorker,
    client: httpx.AsyncClient,
    catalogue: PartnerCatalogue,
    partner: PartnerWebhookReceiver,
) -> None:
    referral = await insert_ready_referral(pool, catalogue, WEBHOOK_PARTNER)
    partner.respond(status=202, delay_seconds=1.5)

    delivering = asyncio.create_task(worker.deliver_due(pool, client))
    await partner.wait_for_async(1)
    # Consent withdrawn now, as the consent handler does it.
    async with pool.acquire() as connection, connection.transaction():
        current = await connection.fetchrow(
            "SELECT * FROM referrals WHERE referral_id = $1 FOR UPDATE", referral.referral_id
        )
        await move(
            connection, current, Step.CONSENT_WITHDRAWN, at=current["decided_at"], cause=None
        )
    await delivering

    row = await row_of(pool, referral.referral_id)
    assert row["status"] == "withdrawn"
    # The partner has it: what it was given, when and by whom stays on record (3.5.2).
    assert row["sent_at"] is not None
    assert row["shared_fields"] == expected_fields(catalogue, WEBHOOK_PARTNER)
    assert row["shared_by"] == SHARED_BY_SERVICE
    assert row["delivery_detail"] == "delivered after withdrawal"
    # But it is not announced as made: only the withdrawal is.
    assert [event["event_type"] for event in await events(pool)] == [STATUS_CHANGED]
    assert await worker.deliver_due(pool, client) == 0
    assert len(partner.received) == 1


# 10. Chasing and escalating


async def insert_sent_referral(
    pool: asyncpg.Pool,
    *,
    sent_ago: timedelta,
    window: timedelta = timedelta(days=1),
    status: str = "sent",
    chased: bool = False,
) -> UUID:
    referral_id = uuid4()
    await pool.execute(
        """INSERT INTO referrals (referral_id, case_id, action_id, partner, partner_kind,
                                  channel, status, basis, decided_at, sent_at, acknowledge_by,
                                  acknowledged_at, chased_at, shared_fields, shared_by)
           VALUES ($1, $2, $3, $4, 'statutory', 'webhook', $5, 'consent',
                   now() - $6::interval, now() - $6::interval, now() - $6::interval + $7,
                   CASE WHEN $5 = 'acknowledged' THEN now() END,
                   CASE WHEN $8 THEN now() - $6::interval + $7 END,
                   '{case_reference}', 'referrals service')""",
        referral_id,
        uuid4(),
        uuid4(),
        WEBHOOK_PARTNER.value,
        status,
        sent_ago,
        window,
        chased,
    )
    return referral_id


async def move_back(pool: asyncpg.Pool, referral_id: UUID, by: timedelta) -> None:
    """As if ``by`` had passed since."""
    await pool.execute(
        """UPDATE referrals SET sent_at = sent_at - $2::interval,
                              acknowledge_by = acknowledge_by - $2::interval
           WHERE referral_id = $1""",
        referral_id,
        by,
    )


async def test_unacknowledged_referral_is_chased_then_escalated_once_each(
    pool: asyncpg.Pool, worker: DeliveryWorker
) -> None:
    late = await insert_sent_referral(pool, sent_ago=timedelta(hours=30))
    on_time = await insert_sent_referral(pool, sent_ago=timedelta(hours=1))
    acknowledged = await insert_sent_referral(
        pool, sent_ago=timedelta(days=10), status="acknowledged"
    )

    await worker.chase_unacknowledged(pool)
    await worker.chase_unacknowledged(pool)  # nothing more is due yet

    row = await row_of(pool, late)
    assert row["chased_at"] is not None
    assert row["escalated_at"] is None
    [chased] = await events(pool)
    assert chased["event_type"] == STATUS_CHANGED
    assert chased["payload"]["referral_id"] == str(late)
    assert chased["payload"]["note"] == "chased"
    assert chased["payload"]["status"] == chased["payload"]["previous_status"] == "sent"

    await move_back(pool, late, timedelta(hours=20))  # 50 h: past twice the day
    await worker.chase_unacknowledged(pool)
    await worker.chase_unacknowledged(pool)

    assert (await row_of(pool, late))["escalated_at"] is not None
    notes = [(e["payload"]["referral_id"], e["payload"]["note"]) for e in await events(pool)]
    assert notes == [(str(late), "chased"), (str(late), "escalated")]
    for untouched in (on_time, acknowledged):
        row = await row_of(pool, untouched)
        assert row["chased_at"] is None
        assert row["escalated_at"] is None


async def test_referrals_waiting_to_be_escalated_do_not_crowd_out_new_chases(
    pool: asyncpg.Pool, worker: DeliveryWorker
) -> None:
    """More chased referrals than one round takes, all due earlier than a newly late one
    and none yet due for escalation: the newly late one is still chased."""
    for _ in range(101):
        await insert_sent_referral(pool, sent_ago=timedelta(hours=40), chased=True)
    newly_late = await insert_sent_referral(pool, sent_ago=timedelta(hours=25))

    await worker.chase_unacknowledged(pool)

    assert (await row_of(pool, newly_late))["chased_at"] is not None
    [chased] = await events(pool)
    assert chased["payload"]["referral_id"] == str(newly_late)
