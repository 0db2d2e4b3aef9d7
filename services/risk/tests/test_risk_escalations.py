"""Escalations that reach someone (issue 12): an overdue action is mailed to the case
team's manager through a real local SMTP server (STARTTLS), again and again until the
manager acknowledges it; the on-call safeguarding lead, not configured here, is shown as
such, and when configured is told by a signed webhook; with the mail server down nothing
is claimed as sent.

Risk is served in-process (its overdue scheduler and escalation worker running) against a
fresh database; a case and its overdue action are inserted as the handlers store them.
The SMTP outage drives the worker directly, as referrals' delivery worker tests do.
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from hhc_chassis.access import CaseScope
from hhc_chassis.case_access import remember_case
from hhc_chassis.db import MigrationSet, create_pool, migrate
from hhc_chassis.delivery import verify_signature
from hhc_contracts import Envelope
from hhc_devstack.infrastructure import create_database, free_port
from hhc_devstack.partners import MailSink, PartnerWebhookReceiver, ReceivedMail
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually, serving_service
from hhc_risk.app import definition
from hhc_risk.escalations import EscalationWorker, open_escalations, reach_newly_configured
from hhc_risk.settings import NotificationTarget, RiskSettings

TEAM = "north"
MANAGER_MAIL = "manager.north@landlord.test"
SENDER = "risk@landlord.test"
REPEAT_EVERY = timedelta(milliseconds=300)


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    with MailSink(starttls=True) as sink:
        yield sink


def settings_for(database_url: str, broker: Broker, mail: MailSink, **more: Any) -> RiskSettings:
    assert mail.ca_file is not None
    return RiskSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-risk-escalations-{uuid.uuid4().hex[:8]}",
        smtp_host=mail.host,
        smtp_port=mail.port,
        smtp_ca_file=mail.ca_file,
        smtp_sender=SENDER,
        notify_managers={TEAM: NotificationTarget(email=MANAGER_MAIL)},
        escalation_repeat_every=REPEAT_EVERY,
        escalation_poll_seconds=0.05,
        overdue_poll_seconds=0.2,
        **more,
    )


@dataclass(frozen=True)
class Risk:
    url: str
    settings: RiskSettings


@pytest.fixture(scope="module")
async def risk(postgres_server_url: str, broker: Broker, mail: MailSink) -> AsyncIterator[Risk]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = settings_for(database_url, broker, mail, case_link_base="https://hhc.test")
    async with serving_service(definition(settings)) as urls:
        yield Risk(urls.staff, settings)


async def an_overdue_visit(connection: asyncpg.Connection) -> tuple[uuid.UUID, uuid.UUID, str]:
    """A case of the team in immediate danger, its visit (3.3.1) due an hour ago: case id,
    action id, reference."""
    case_id, action_id = uuid.uuid4(), uuid.uuid4()
    reference = f"HHC-2026-{uuid.uuid4().int % 1_000_000:06d}"
    reported_at = datetime.now(UTC) - timedelta(hours=25)
    async with connection.transaction():
        await remember_case(connection, case_id, CaseScope(team=TEAM, safeguarding=True))
        await connection.execute(
            """INSERT INTO cases (case_id, survivor_is_customer, immediate_danger,
                                  consent_to_share, reported_at, reference)
               VALUES ($1, true, true, 'given', $2, $3)""",
            case_id,
            reported_at,
            reference,
        )
        await connection.execute(
            """INSERT INTO actions (action_id, case_id, kind, applies_to, clause,
                                    carried_out_by, required_at, due_at)
               VALUES ($1, $2, 'visit_with_risk_assessment', 'customers_only', '3.3.1',
                       'landlord', $3::timestamptz, $3::timestamptz + interval '24 hours')""",
            action_id,
            case_id,
            reported_at,
        )
    return case_id, action_id, reference


async def escalate(
    connection: asyncpg.Connection,
    case_id: uuid.UUID,
    action_id: uuid.UUID,
    settings: RiskSettings,
    escalated_to: str,
) -> None:
    """The visit's escalations, as the overdue scheduler opens them."""
    async with connection.transaction():
        await open_escalations(
            connection,
            action_id=action_id,
            case_id=case_id,
            kind="visit_with_risk_assessment",
            due_at=datetime.now(UTC) - timedelta(hours=1),
            escalated_to=escalated_to,
            team=TEAM,
            settings=settings,
            detected_at=datetime.now(UTC),
        )


def mails_about(mail: MailSink, case_id: uuid.UUID) -> list[ReceivedMail]:
    return [m for m in mail.received if str(case_id) in m.body]


async def at_least(mail: MailSink, case_id: uuid.UUID, count: int) -> list[ReceivedMail]:
    async def enough() -> list[ReceivedMail] | None:
        found = mails_about(mail, case_id)
        return found if len(found) >= count else None

    return await eventually(enough, message=f"fewer than {count} mails about the case")


async def notified(pool: asyncpg.Pool, case_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT payload::text AS payload FROM outbox
           WHERE event_type = 'risk.escalation-notified' AND message_key = $1 ORDER BY id""",
        str(case_id),
    )
    return [Envelope.model_validate_json(row["payload"]).payload for row in rows]


async def test_an_overdue_visit_is_mailed_to_the_manager_until_acknowledged(
    risk: Risk, mail: MailSink, issue_token: TokenFactory
) -> None:
    manager = bearer(issue_token("manager", team=TEAM, subject="manager-north"))
    pool = await create_pool(risk.settings)
    try:
        async with pool.acquire() as connection:
            case_id, action_id, reference = await an_overdue_visit(connection)

        # Notified, and again after the repeat interval, over TLS, without personal data.
        first, second = (await at_least(mail, case_id, 2))[:2]
        assert first.rcpt_tos == (MANAGER_MAIL,)
        assert first.over_tls
        assert reference in first.subject
        assert "visit_with_risk_assessment" in first.body
        assert f"https://hhc.test/cases/{case_id}" in first.body
        assert first.message_id != second.message_id  # a repeat is a new message
        events = await eventually(lambda: notified(pool, case_id), message="nothing published")
        assert events[0]["action_id"] == str(action_id)
        assert (events[0]["channel"], events[0]["recipient_role"], events[0]["attempt"]) == (
            "email",
            "manager",
            1,
        )

        async with httpx.AsyncClient(base_url=risk.url, timeout=15) as client:
            listed = await client.get("/v1/escalations", headers=manager)
            assert listed.status_code == 200, listed.text
            of_case = {
                e["recipient_role"]: e for e in listed.json() if e["case_id"] == str(case_id)
            }
            # 3.3.1: the on-call safeguarding lead too, who has no channel configured here.
            assert of_case["on_call_safeguarding_lead"]["state"] == "no-channel-configured"
            assert of_case["on_call_safeguarding_lead"]["deliveries"] == []
            escalation = of_case["manager"]
            assert escalation["state"] == "notified"
            assert escalation["case_reference"] == reference
            path = f"/v1/escalations/{escalation['escalation_id']}/acknowledge"
            other_team = bearer(issue_token("manager", team="south"))
            assert (await client.post(path, headers=other_team)).status_code == 404

            acknowledged = await client.post(path, headers=manager)
            assert acknowledged.status_code == 200, acknowledged.text
            assert acknowledged.json()["state"] == "acknowledged"
            assert acknowledged.json()["acknowledged_by"] == "manager-north"
            assert (await client.post(path, headers=manager)).status_code == 409
            still_open = await client.get("/v1/escalations", headers=manager)
            assert escalation["escalation_id"] not in {
                e["escalation_id"] for e in still_open.json()
            }
        acknowledgements = await pool.fetchval(
            """SELECT count(*) FROM outbox WHERE event_type = 'risk.escalation-acknowledged'
               AND message_key = $1""",
            str(case_id),
        )
        assert acknowledgements == 1

        # Repeats stop. Another case's escalation, mailed twice after the acknowledgement
        # and twice more after that, shows the worker went on well past the interval.
        async with pool.acquire() as connection:
            other_case, _, _ = await an_overdue_visit(connection)
        await at_least(mail, other_case, 2)
        sent_by_then = len(mails_about(mail, case_id))
        await at_least(mail, other_case, 4)
        assert len(mails_about(mail, case_id)) == sent_by_then
    finally:
        await pool.close()


async def test_nothing_is_claimed_as_sent_while_the_mail_server_is_down(
    database_url: str, broker: Broker, mail: MailSink
) -> None:
    settings = settings_for(database_url, broker, mail).model_copy(
        update={"smtp_port": free_port()}  # nobody listens there
    )
    await migrate(settings, [MigrationSet(name="risk", package="hhc_risk")])
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as connection:
            case_id, action_id, _ = await an_overdue_visit(connection)
            await escalate(connection, case_id, action_id, settings, "manager")
        async with httpx.AsyncClient() as client:
            assert await EscalationWorker(settings).deliver_due(pool, client) == 1

        delivery = await pool.fetchrow(
            "SELECT *, next_attempt_at - now() AS due_in FROM escalation_deliveries"
        )
        assert delivery is not None
        assert (delivery["attempts"], delivery["notified"], delivery["failures"]) == (1, 0, 1)
        assert delivery["last_error"]
        assert delivery["due_in"] > timedelta(seconds=1)  # backing off, still pending
        assert await notified(pool, case_id) == []
    finally:
        await pool.close()


async def test_the_on_call_lead_is_told_of_a_3_3_1_action_by_a_signed_webhook(
    database_url: str, broker: Broker, mail: MailSink
) -> None:
    secret = b"on-call-webhook-secret-for-tests"
    with PartnerWebhookReceiver(secret=secret, verify=verify_signature, path="/on-call") as lead:
        settings = settings_for(
            database_url,
            broker,
            mail,
            on_call_safeguarding_lead=NotificationTarget(
                webhook_url=lead.url, webhook_secret=secret.decode()
            ),
        )
        await migrate(settings, [MigrationSet(name="risk", package="hhc_risk")])
        pool = await create_pool(settings)
        try:
            async with pool.acquire() as connection:
                case_id, action_id, reference = await an_overdue_visit(connection)
                await escalate(
                    connection, case_id, action_id, settings, "manager,on_call_safeguarding_lead"
                )
            async with httpx.AsyncClient() as client:
                # The manager by email, the lead by webhook: two channels, two deliveries.
                assert await EscalationWorker(settings).deliver_due(pool, client) == 2

            [received] = lead.received
            assert received.signature_valid
            assert received.headers["idempotency-key"]
            document = received.json()
            assert isinstance(document, dict)
            assert document["case_id"] == str(case_id)
            assert document["action_id"] == str(action_id)
            assert reference in received.body.decode()
            events = await notified(pool, case_id)
            assert {(e["recipient_role"], e["channel"]) for e in events} == {
                ("manager", "email"),
                ("on_call_safeguarding_lead", "webhook"),
            }
        finally:
            await pool.close()


async def test_a_manager_configured_later_hears_of_what_is_overdue_now(
    database_url: str, broker: Broker, mail: MailSink
) -> None:
    configured = settings_for(database_url, broker, mail)
    unconfigured = configured.model_copy(update={"notify_managers": {}})
    await migrate(configured, [MigrationSet(name="risk", package="hhc_risk")])
    pool = await create_pool(configured)
    try:
        async with pool.acquire() as connection:
            case_id, action_id, _ = await an_overdue_visit(connection)
            await escalate(connection, case_id, action_id, unconfigured, "manager")
            async with connection.transaction():
                # Restarted with the manager configured: the waiting escalation is sent.
                assert await reach_newly_configured(connection, configured) == 1
            async with connection.transaction():
                assert await reach_newly_configured(connection, configured) == 0
        async with httpx.AsyncClient() as client:
            assert await EscalationWorker(configured).deliver_due(pool, client) == 1
        [sent] = await at_least(mail, case_id, 1)
        assert sent.rcpt_tos == (MANAGER_MAIL,)
    finally:
        await pool.close()
