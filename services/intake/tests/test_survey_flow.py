"""The satisfaction survey from closure to answer (policy 5.1), against intake served
in-process with a real PostgreSQL, the session's broker and a real STARTTLS mail server on
this machine; the page in headless Chromium with JavaScript off, checked with axe-core.

A case is closed the way intake announces it: an ``intake.case-status-changed`` (closed)
put in intake's own outbox, which its relay publishes and its consumer hears.
"""

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, expect
from pydantic import SecretStr, ValidationError

from hhc_chassis.events import new_envelope
from hhc_chassis.outbox import enqueue
from hhc_contracts import Envelope, Topic
from hhc_contracts.v1 import CaseStatusChanged
from hhc_contracts.vocabulary import CaseStatus, ClosureReason
from hhc_devstack.browser import serious_violations
from hhc_devstack.infrastructure import create_database
from hhc_devstack.partners import MailSink, ReceivedMail
from hhc_devstack.pytest_plugin import (
    Broker,
    TokenFactory,
    bearer,
    eventually,
    kafka_consumer,
    serving_service,
)
from hhc_intake.app import definition
from hhc_intake.settings import IntakeSettings

from .conftest import Intake, from_client, new_kek

PUBLIC_BASE = "https://report.pinecourt.test"
"""The survey links' base, as the public listener is reached from outside."""
SENDER = "surveys@pinecourt.test"
LINK = re.compile(re.escape(PUBLIC_BASE) + r"(/survey/[A-Za-z0-9_-]{43})")
NO_SUCH_MAILBOX = "gone@example.test"
COMMENT = "The officer listened and the noise at night has stopped."


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    with MailSink(starttls=True, reject=[NO_SUCH_MAILBOX]) as sink:
        yield sink


@pytest.fixture(scope="module")
async def surveyed(
    postgres_server_url: str, broker: Broker, mail: MailSink
) -> AsyncIterator[Intake]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = IntakeSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-intake-survey-{uuid.uuid4().hex[:8]}",
        public_form_secret=SecretStr("test-form-secret"),
        smtp_host=mail.host,
        smtp_port=mail.port,
        smtp_ca_file=mail.ca_file,
        smtp_sender=SENDER,
        public_base_url=PUBLIC_BASE,
        survey_mail_poll_seconds=0.2,
        case_key_kek=new_kek(),
    )
    async with serving_service(definition(settings)) as urls:
        assert urls.public is not None
        yield Intake(urls.staff, urls.public, database_url)


def report_body(
    *, role: str = "survivor", method: str, email: str | None = None, phone: str | None = None
) -> dict[str, Any]:
    reporter: dict[str, Any] = {"role": role}
    if role == "third_party":
        reporter |= {"name": "B. Friend", "contact": "friend@example.test"}
    return {
        "channel": "telephone",
        "reporter": reporter,
        "survivor": {
            "is_customer": True,
            "name": "A. Resident",
            "email": email,
            "phone": phone,
            "access": {"safe_contact_method": method},
        },
        "alleged_perpetrators": [{"kind": "customer"}],
        "incident": {"categories": ["verbal_abuse"]},
        "immediate_danger": False,
    }


async def open_case(intake: Intake, token: str, body: dict[str, Any]) -> uuid.UUID:
    async with httpx.AsyncClient(base_url=intake.url) as staff:
        response = await staff.post("/v1/reports", json=body, headers=bearer(token))
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["case_id"])


async def close_case(intake: Intake, case_id: uuid.UUID) -> uuid.UUID:
    """The closure as intake announces it; the closing event's id."""
    now = datetime.now(UTC)
    closed = CaseStatusChanged(
        case_id=case_id,
        status=CaseStatus.CLOSED,
        previous_status=CaseStatus.AWAITING_CLOSURE,
        closure_reason=ClosureReason.RESOLVED,
        changed_by="officer-7",
        changed_at=now,
    )
    envelope = new_envelope(closed, case_id=case_id, occurred_at=now)
    connection = await asyncpg.connect(
        intake.database_url, server_settings={"search_path": "intake"}
    )
    try:
        async with connection.transaction():
            await enqueue(connection, [envelope])
    finally:
        await connection.close()
    return envelope.event_id


async def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "intake"})
    try:
        rows: list[asyncpg.Record] = await connection.fetch(query, *args)
        return rows
    finally:
        await connection.close()


async def case_events(broker: Broker, case_id: uuid.UUID, *types: str) -> dict[str, bytes]:
    """The raw record of each of ``types`` for the case, as on the broker."""
    found: dict[str, bytes] = {}
    async with kafka_consumer(broker.bootstrap_servers, Topic.INTAKE_CASES.value) as consumer:

        async def collect() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    try:
                        envelope = Envelope.model_validate_json(record.value)
                    except ValidationError:
                        continue  # other tests' poison messages share the topic
                    if envelope.case_id == case_id and envelope.event_type in types:
                        found[envelope.event_type] = record.value
            return len(found) == len(types)

        await eventually(collect, timeout=60, message=f"no {types} for the case")
    return found


def mail_to(mail: MailSink, address: str) -> list[ReceivedMail]:
    return [m for m in mail.received if address in m.rcpt_tos]


def answers(**overrides: str) -> dict[str, str]:
    return {"handling": "4", "safer": "yes", "comments": COMMENT} | overrides


async def test_closing_mails_the_survivor_a_link_that_takes_answers_once(
    surveyed: Intake, mail: MailSink, broker: Broker, issue_token: TokenFactory
) -> None:
    adviser = issue_token("adviser", team="north")
    survivor = f"survivor-{uuid.uuid4().hex[:8]}@example.test"
    case_id = await open_case(surveyed, adviser, report_body(method="email", email=survivor))
    await close_case(surveyed, case_id)

    async def mailed() -> list[ReceivedMail]:
        return mail_to(mail, survivor)

    [sent] = await eventually(mailed, message="no survey mail to the survivor")
    assert sent.over_tls
    assert sent.message_id.startswith("<survey-")
    assert "harassment" not in sent.subject.lower()
    link = LINK.search(sent.body)
    assert link is not None, sent.body
    survey_page = link.group(1)

    async with httpx.AsyncClient(base_url=surveyed.public_url, headers=from_client()) as public:
        page = await public.get(survey_page)
        assert page.status_code == 200
        assert "How did we do?" in page.text
        missing = await public.post(survey_page, data=answers(safer=""))
        assert missing.status_code == 422
        assert 'href="#safer"' in missing.text
        assert "Select whether you feel safer now" in missing.text
        answered = await public.post(survey_page, data=answers())
        assert answered.status_code == 200
        assert "Thank you for your answers" in answered.text
        again = await public.post(survey_page, data=answers(handling="1"))
        assert again.status_code == 410
        assert "already been used" in again.text
        assert (await public.get(survey_page)).status_code == 410
        unknown = await public.get("/survey/" + "A" * 43)
        assert unknown.status_code == 404

    events = await case_events(
        broker, case_id, "intake.satisfaction-survey-offered", "intake.satisfaction-recorded"
    )
    offered = json.loads(events["intake.satisfaction-survey-offered"])["payload"]
    assert offered["delivered"] is True
    assert offered["contact_method"] == "email"
    recorded = json.loads(events["intake.satisfaction-recorded"])["payload"]
    assert (recorded["handling_score"], recorded["feels_safer"]) == (4, "yes")
    assert COMMENT not in events["intake.satisfaction-recorded"].decode()
    # The survivor's words are kept in the survey's answers, and nowhere else.
    [kept] = await fetch(
        surveyed.database_url,
        "SELECT a.* FROM satisfaction_answers a JOIN satisfaction_surveys s USING (survey_id) "
        "WHERE s.case_id = $1",
        case_id,
    )
    assert (kept["handling_score"], kept["comments"]) == (4, COMMENT)
    elsewhere = await fetch(
        surveyed.database_url,
        """SELECT 1 FROM outbox WHERE payload::text LIKE '%' || $1 || '%'
           UNION ALL SELECT 1 FROM reports WHERE body::text LIKE '%' || $1 || '%'""",
        COMMENT,
    )
    assert elsewhere == []

    async with httpx.AsyncClient(base_url=surveyed.url) as staff:
        manager = issue_token("manager", team="north")
        read = await staff.get(f"/v1/cases/{case_id}/satisfaction", headers=bearer(manager))
        assert read.status_code == 200
        assert [a["comments"] for a in read.json()["answers"]] == [COMMENT]
        caseworker = issue_token("caseworker", team="north")
        refused = await staff.get(f"/v1/cases/{case_id}/satisfaction", headers=bearer(caseworker))
        assert refused.status_code == 403
        # A mailed link is with the survivor: staff are given none to pass on.
        relink = await staff.post(
            f"/v1/cases/{case_id}/satisfaction-survey/link", headers=bearer(caseworker)
        )
        assert relink.status_code == 409


async def test_a_third_party_report_offers_no_survey_to_anyone(
    surveyed: Intake, mail: MailSink, issue_token: TokenFactory
) -> None:
    """3.2.3: the reporter is not told about the case, and the survivor's email they gave
    is their word, not the survivor's own safe contact."""
    adviser = issue_token("adviser", team="north")
    told = f"told-{uuid.uuid4().hex[:8]}@example.test"
    body = report_body(role="third_party", method="email", email=told)
    case_id = await open_case(surveyed, adviser, body)
    closure = await close_case(surveyed, case_id)

    async def heard() -> list[asyncpg.Record]:
        return await fetch(
            surveyed.database_url, "SELECT 1 FROM inbox WHERE event_id = $1", closure
        )

    await eventually(heard, message="intake did not handle the closure")
    assert (
        await fetch(
            surveyed.database_url, "SELECT 1 FROM satisfaction_surveys WHERE case_id = $1", case_id
        )
        == []
    )
    assert mail_to(mail, told) == []
    assert mail_to(mail, "friend@example.test") == []
    async with httpx.AsyncClient(base_url=surveyed.url) as staff:
        state = await staff.get(
            f"/v1/cases/{case_id}/satisfaction-survey",
            headers=bearer(issue_token("caseworker", team="north")),
        )
    assert state.status_code == 200
    assert state.json()["offers"] == []


async def test_mail_refused_is_not_announced_as_delivered_and_goes_to_staff(
    surveyed: Intake, mail: MailSink, issue_token: TokenFactory
) -> None:
    adviser = issue_token("adviser", team="north")
    body = report_body(method="email", email=NO_SUCH_MAILBOX)
    case_id = await open_case(surveyed, adviser, body)
    await close_case(surveyed, case_id)

    async def handed_to_staff() -> list[asyncpg.Record]:
        return await fetch(
            surveyed.database_url,
            "SELECT last_error, token_hash FROM satisfaction_surveys "
            "WHERE case_id = $1 AND delivery = 'by_staff'",
            case_id,
        )

    [offer] = await eventually(handed_to_staff, message="the refused mail stayed pending")
    assert offer["last_error"] == "SMTP 550"
    assert offer["token_hash"] is None  # the link minted for the mail is withdrawn
    announced = await fetch(
        surveyed.database_url,
        "SELECT payload FROM outbox WHERE event_type = 'intake.satisfaction-survey-offered' "
        "AND payload->>'case_id' = $1",
        str(case_id),
    )
    assert [json.loads(row["payload"])["payload"]["delivered"] for row in announced] == [False]


async def test_a_case_closed_again_replaces_the_offer_not_yet_answered(
    surveyed: Intake, issue_token: TokenFactory
) -> None:
    """Reopened and closed again: the survivor answers once, about the case as it ended."""
    adviser = issue_token("adviser", team="north")
    body = report_body(method="telephone", phone="07700 900123")
    case_id = await open_case(surveyed, adviser, body)
    caseworker = bearer(issue_token("caseworker", team="north"))
    async with httpx.AsyncClient(base_url=surveyed.url) as staff:

        async def offers(count: int) -> list[Any] | None:
            state = await staff.get(f"/v1/cases/{case_id}/satisfaction-survey", headers=caseworker)
            listed = list(state.json()["offers"])
            return listed if len(listed) == count else None

        await close_case(surveyed, case_id)
        await eventually(lambda: offers(1), message="no survey offered")
        first = await staff.post(
            f"/v1/cases/{case_id}/satisfaction-survey/link", headers=caseworker
        )
        assert first.status_code == 200, first.text
        await close_case(surveyed, case_id)
        await eventually(lambda: offers(2), message="no second offer")
    old = LINK.fullmatch(first.json()["link"])
    assert old is not None
    async with httpx.AsyncClient(base_url=surveyed.public_url, headers=from_client()) as public:
        assert (await public.get(old.group(1))).status_code == 410


# --- the page in a browser ------------------------------------------------------------


@pytest.fixture
async def browsers(browser: Browser) -> AsyncIterator[tuple[BrowserContext, BrowserContext]]:
    """One browser with JavaScript off (the person), one with it on for axe-core (the
    pages' own policy forbids scripts, so that one bypasses it)."""
    address = from_client()
    no_script = await browser.new_context(java_script_enabled=False, extra_http_headers=address)
    scripted = await browser.new_context(bypass_csp=True, extra_http_headers=address)
    for context in (no_script, scripted):
        context.set_default_timeout(15_000)
    yield no_script, scripted
    await no_script.close()
    await scripted.close()


async def test_a_link_passed_on_by_phone_answered_without_javascript(
    surveyed: Intake,
    browsers: tuple[BrowserContext, BrowserContext],
    axe_script: Path,
    issue_token: TokenFactory,
) -> None:
    """A survivor safe to reach only by phone: nothing is mailed, the offer is announced as
    not delivered, and a caseworker gets a link to read out; a newer link replaces it."""
    adviser = issue_token("adviser", team="north")
    body = report_body(method="telephone", phone="07700 900123", email="not-safe@example.test")
    case_id = await open_case(surveyed, adviser, body)
    await close_case(surveyed, case_id)
    caseworker = bearer(issue_token("caseworker", team="north"))
    async with httpx.AsyncClient(base_url=surveyed.url) as staff:

        async def offered() -> list[Any]:
            state = await staff.get(f"/v1/cases/{case_id}/satisfaction-survey", headers=caseworker)
            return list(state.json()["offers"])

        [offer] = await eventually(offered, message="no survey offered")
        assert (offer["delivery"], offer["contact_method"]) == ("by_staff", "telephone")
        announced = await fetch(
            surveyed.database_url,
            "SELECT payload FROM outbox WHERE event_type = 'intake.satisfaction-survey-offered' "
            "AND payload->>'case_id' = $1",
            str(case_id),
        )
        assert [json.loads(row["payload"])["payload"]["delivered"] for row in announced] == [False]
        links = [
            (await staff.post(f"/v1/cases/{case_id}/satisfaction-survey/link", headers=caseworker))
            for _ in range(2)
        ]
    assert [link.status_code for link in links] == [200, 200]
    old, new = (LINK.fullmatch(link.json()["link"]) for link in links)
    assert old is not None
    assert new is not None
    no_script, scripted = browsers

    checker = await scripted.new_page()
    found: dict[str, list[str]] = {}
    await checker.goto(surveyed.public_url + old.group(1))
    await expect(checker.get_by_role("heading", name="This link does not work")).to_be_visible()
    found["replaced link"] = await serious_violations(checker, axe_script)
    await checker.goto(surveyed.public_url + new.group(1))
    found["survey"] = await serious_violations(checker, axe_script)
    await checker.get_by_role("button", name="Send answers").click()
    await expect(checker.get_by_role("alert")).to_contain_text("Select how satisfied you are")
    found["survey with the error summary"] = await serious_violations(checker, axe_script)

    page = await no_script.new_page()
    await page.goto(surveyed.public_url + new.group(1))
    handling = page.get_by_role(
        "group", name="How satisfied are you with how we handled your case?"
    )
    await handling.get_by_label("Satisfied", exact=True).check()
    await (
        page.get_by_role("group", name=re.compile("Do you feel safer"))
        .get_by_label("I am not sure")
        .check()
    )
    await page.get_by_label("Is there anything else you want to tell us?").fill(COMMENT)
    await page.get_by_role("button", name="Send answers").click()
    await expect(page.get_by_role("heading", name="Thank you for your answers")).to_be_visible()
    thanks = await page.content()

    await checker.goto(surveyed.public_url + new.group(1))
    await expect(checker.get_by_role("heading", name="already been used")).to_be_visible()
    found["used link"] = await serious_violations(checker, axe_script)
    await checker.set_content(thanks)
    found["thank you"] = await serious_violations(checker, axe_script)
    assert {name: v for name, v in found.items() if v} == {}

    [kept] = await fetch(
        surveyed.database_url,
        "SELECT a.handling_score, a.feels_safer FROM satisfaction_answers a "
        "JOIN satisfaction_surveys s USING (survey_id) WHERE s.case_id = $1",
        case_id,
    )
    assert (kept["handling_score"], kept["feels_safer"]) == (4, "unsure")
