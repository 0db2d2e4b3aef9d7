"""A case from first report to closure, across the five services as processes (issue 12):
an overdue visit escalated to the team's manager by email (a real local SMTP server with
STARTTLS), the case on its team's worklist, closed with the manager's agreement because
its risk is high, the survivor's satisfaction answered in a browser with JavaScript off
(policy 5.1), and the month's report showing the case in JSON, CSV and HTML with its
small counts suppressed (5.2)."""

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, expect

from hhc_devstack.browser import serious_violations
from hhc_devstack.partners import ReceivedMail
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually
from hhc_devstack.system import ServiceProcesses

from .conftest import LocalPartners, report_body, wait_for_timeline

pytestmark = pytest.mark.system

TEAM = "north"
MANAGER_MAIL = f"north-manager-{uuid.uuid4().hex[:8]}@example.test"
SURVIVOR_MAIL = f"survivor-{uuid.uuid4().hex[:8]}@example.test"
SURVEY_LINK = re.compile(r"(/survey/[A-Za-z0-9_-]{43})")


@pytest.fixture
def broker(isolated_broker: Broker) -> Broker:
    """A broker of this test's own: the month's report counts every case the system has
    heard of, and on the session's broker one CI run counted a case that was not this
    test's (a second risk level; its source not found), so only the test's events exist."""
    return isolated_broker


@pytest.fixture
def system_env() -> dict[str, str]:
    return {
        "NOTIFY_MANAGERS": json.dumps({TEAM: {"email": MANAGER_MAIL}}),
        "ESCALATION_POLL_SECONDS": "0.5",
        "SURVEY_MAIL_POLL_SECONDS": "0.5",
    }


@pytest.fixture
async def no_script(browser: Browser) -> AsyncIterator[tuple[BrowserContext, BrowserContext]]:
    """The survivor's browser, JavaScript off; and one for axe-core, which is a script."""
    person = await browser.new_context(java_script_enabled=False)
    checker = await browser.new_context(bypass_csp=True)
    for context in (person, checker):
        context.set_default_timeout(15_000)
    yield person, checker
    await person.close()
    await checker.close()


def mail_to(
    local_partners: LocalPartners, address: str
) -> Callable[[], Awaitable[list[ReceivedMail]]]:
    async def received() -> list[ReceivedMail]:
        return [mail for mail in local_partners.mail.received if address in mail.rcpt_tos]

    return received


async def move_deadline_past(database_url: str, action_id: str) -> None:
    """The visit's 24 hours pass: the test moves the clock of one action, nothing else."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE risk.actions SET due_at = now() - interval '1 minute' WHERE action_id = $1",
            uuid.UUID(action_id),
        )
    finally:
        await connection.close()


async def test_a_case_from_report_to_closure_satisfaction_and_the_monthly_report(
    system: ServiceProcesses,
    local_partners: LocalPartners,
    issue_token: TokenFactory,
    no_script: tuple[BrowserContext, BrowserContext],
    axe_script: Path,
) -> None:
    caseworker = bearer(issue_token("caseworker", team=TEAM, subject="caseworker-1"))
    manager = bearer(issue_token("manager", team=TEAM, subject="manager-1"))
    survivor_name = f"Resident {uuid.uuid4().hex[:6]}"
    clients = {
        # The manager's token unless a request gives its own (the timeline is read so).
        service: httpx.AsyncClient(base_url=system.url(service), timeout=10, headers=manager)
        for service in ("intake", "risk", "reporting")
    }
    intake, risk, reporting = clients["intake"], clients["risk"], clients["reporting"]
    try:
        # Reported by the survivor, in immediate danger: a visit within 24 hours (3.3.1).
        survivor = {
            "is_customer": True,
            "name": survivor_name,
            "email": SURVIVOR_MAIL,
            "access": {"safe_contact_method": "email"},
        }
        taken = await intake.post(
            "/v1/reports", json=report_body(survivor=survivor), headers=caseworker
        )
        assert taken.status_code == 202, taken.text
        case_id = taken.json()["case_id"]
        assigned = await intake.put(
            f"/v1/cases/{case_id}/owner", json={"owner": "caseworker-1"}, headers=manager
        )
        assert assigned.status_code == 200, assigned.text

        async def visit() -> dict[str, Any] | None:
            actions = await risk.get(f"/v1/cases/{case_id}/actions", headers=caseworker)
            if actions.status_code == 404:  # risk has not heard of the case yet
                return None
            return next(
                (a for a in actions.json() if a["kind"] == "visit_with_risk_assessment"), None
            )

        visit_action = await eventually(visit, message="no visit planned")

        # The visit is overdue: the team's manager is told by email, until acknowledged.
        await move_deadline_past(system.database_url, visit_action["action_id"])
        [escalation_mail, *_] = await eventually(
            mail_to(local_partners, MANAGER_MAIL),
            timeout=60,
            message="the manager was not told of the overdue visit",
        )
        assert escalation_mail.over_tls
        assert "visit_with_risk_assessment" in escalation_mail.body
        assert survivor_name not in escalation_mail.body
        assert SURVIVOR_MAIL not in escalation_mail.body
        listed = await risk.get("/v1/escalations", params={"state": "all"}, headers=manager)
        [escalation] = [
            e
            for e in listed.json()
            if e["action_id"] == visit_action["action_id"] and e["recipient_role"] == "manager"
        ]
        acknowledged = await risk.post(
            f"/v1/escalations/{escalation['escalation_id']}/acknowledge", headers=manager
        )
        assert acknowledged.status_code == 200, acknowledged.text

        # On the team's worklist, owned, with the overdue visit first.
        async def on_worklist() -> dict[str, Any] | None:
            worklist = await intake.get("/v1/worklists", params={"team": TEAM}, headers=caseworker)
            assert worklist.status_code == 200, worklist.text
            entry = next((c for c in worklist.json()["cases"] if c["case_id"] == case_id), None)
            return entry if entry and entry["overdue_actions"] else None

        entry = await eventually(on_worklist, message="the overdue visit is not on the worklist")
        assert entry["owner"] == "caseworker-1"
        assert "visit_with_risk_assessment" in entry["overdue_kinds"]

        # The visit is made: the case's first response (5.2).
        completed = await risk.post(
            f"/v1/actions/{visit_action['action_id']}/complete",
            json={"outcome": "visited"},
            headers=caseworker,
        )
        assert completed.status_code == 200, completed.text
        await wait_for_timeline(reporting, case_id, "risk.first-response-recorded")

        # High risk: the caseworker asks, a manager agrees, and the clocks stop.
        asked = await intake.post(
            f"/v1/cases/{case_id}/closure", json={"reason": "resolved"}, headers=caseworker
        )
        assert asked.status_code == 202, asked.text
        agreed = await intake.post(f"/v1/cases/{case_id}/closure/agreement", headers=manager)
        assert agreed.status_code == 200, agreed.text
        case = (await intake.get(f"/v1/cases/{case_id}", headers=caseworker)).json()
        assert case["status"] == "closed"

        async def clocks_stopped() -> bool:
            actions = await risk.get(f"/v1/cases/{case_id}/actions", headers=caseworker)
            return all(a["state"] != "open" for a in actions.json())

        await eventually(clocks_stopped, message="closing did not stop the case's clocks")

        # The survivor is mailed the survey, and answers it with JavaScript off.
        [survey_mail] = await eventually(
            mail_to(local_partners, SURVIVOR_MAIL),
            timeout=60,
            message="the survivor was not offered the survey",
        )
        link = SURVEY_LINK.search(survey_mail.body)
        assert link is not None, survey_mail.body
        survey_url = system.public_url("intake") + link.group(1)
        person, checker = no_script
        axe_page = await checker.new_page()
        await axe_page.goto(survey_url)
        assert await serious_violations(axe_page, axe_script) == []
        page = await person.new_page()
        await page.goto(survey_url)
        await (
            page.get_by_role("group", name="How satisfied are you with how we handled your case?")
            .get_by_label("Very satisfied", exact=True)
            .check()
        )
        await (
            page.get_by_role("group", name=re.compile("Do you feel safer"))
            .get_by_label("Yes", exact=True)
            .check()
        )
        await page.get_by_role("button", name="Send answers").click()
        await expect(page.get_by_role("heading", name="Thank you for your answers")).to_be_visible()
        await wait_for_timeline(reporting, case_id, "intake.satisfaction-recorded")

        # The month's report shows the case in every format, its counts suppressed: one
        # case is fewer than five.
        month = case["opened_at"][:7]
        figures = await reporting.get(
            "/v1/reports/monthly", params={"month": month}, headers=manager
        )
        assert figures.status_code == 200, figures.text
        report = figures.json()
        classification = case["classification"]
        assert report["by_classification"] == {classification: None}
        assert report["cases_closed_by_reason"] == {"resolved": None}
        assert report["first_response"]["cases_received"] is None
        assert report["first_response"]["median_seconds"] is None
        assert report["satisfaction"]["responses"] is None
        assert report["by_risk_level"] == {"high": None}

        table = await reporting.get(f"/v1/reports/monthly/{month}.csv", headers=manager)
        assert table.status_code == 200, table.text
        rows = {
            (row["section"], row["item"]): row["value"]
            for row in csv.DictReader(io.StringIO(table.text))
        }
        by_section: dict[str, dict[str, str]] = {}
        for (section, item), value in rows.items():
            by_section.setdefault(section, {})[item] = value
        # One row each for the case's classification and its closure, both suppressed.
        assert list(by_section["classification"].values()) == ["fewer than 5"], rows
        assert list(by_section["closures"].values()) == ["fewer than 5"], rows
        assert by_section["first_response"]["cases received"] == "fewer than 5"

        page_html = await reporting.get(f"/v1/reports/monthly/{month}.html", headers=manager)
        assert page_html.status_code == 200, page_html.text
        assert "fewer than 5" in page_html.text
        assert "<svg" in page_html.text
        assert "<script" not in page_html.text
        await axe_page.set_content(page_html.text)
        assert await serious_violations(axe_page, axe_script) == []
        for personal in (survivor_name, SURVIVOR_MAIL):
            assert personal not in page_html.text + table.text + figures.text
    finally:
        for client in clients.values():
            await client.aclose()
