"""The public report pages in headless Chromium, on the public listener (policy 1.6.1,
3.2.1, 3.2.3, 3.6.2).

A person fills in and sends the form (with JavaScript off), sees their reference (and,
reporting for themselves, a status code), and the case is open with the right reporter
and track; with both they see its status; guidance is at most two clicks from the start
page; axe-core finds no serious or critical accessibility problem on any page.
"""

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from hhc_devstack.pytest_plugin import TokenFactory, bearer

from .conftest import Intake, from_client

REFERENCE = re.compile(r"HHC-\d{4}-\d{6}")
STATUS_CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}")


@pytest.fixture
async def no_script(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A browser with JavaScript turned off: the pages must work without it."""
    context = await browser.new_context(java_script_enabled=False, extra_http_headers=from_client())
    context.set_default_timeout(15_000)
    yield context
    await context.close()


@pytest.fixture
async def scripted(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A browser with JavaScript on, for injecting axe-core (the pages' own policy forbids
    scripts, so the test bypasses it)."""
    context = await browser.new_context(bypass_csp=True, extra_http_headers=from_client())
    context.set_default_timeout(15_000)
    yield context
    await context.close()


async def case_by_reference(database_url: str, reference: str) -> dict[str, Any] | None:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            """SELECT c.case_id, c.track, c.consent_to_share, c.reporter_receives_feedback,
                      r.reporter_role, r.channel, r.body::text AS body
               FROM intake.cases c JOIN intake.reports r USING (case_id)
               WHERE c.reference = $1""",
            reference,
        )
    finally:
        await connection.close()
    if row is None:
        return None
    return {**dict(row), "body": json.loads(row["body"])}


async def count_cases(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM intake.cases"))
    finally:
        await connection.close()


def group(page: Page, legend: str) -> Any:
    """A fieldset by its legend, to tell apart the many Yes and No answers."""
    return page.get_by_role("group", name=re.compile(re.escape(legend)))


async def shown_reference(page: Page) -> str:
    await expect(page.get_by_role("heading", name="Report sent")).to_be_visible()
    text = await page.locator("#reference").inner_text()
    assert REFERENCE.fullmatch(text), text
    return text


async def shown_status_code(page: Page) -> str:
    text = await page.locator("#status-code").inner_text()
    assert STATUS_CODE.fullmatch(text), text
    return text


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


async def test_report_for_yourself_without_javascript(
    no_script: BrowserContext, intake: Intake, issue_token: TokenFactory
) -> None:
    page = await no_script.new_page()
    await page.goto(intake.public_url)
    await page.get_by_role("link", name="Report for yourself").click()
    await expect(page.get_by_role("heading", name="Tell us what happened")).to_be_visible()

    await page.get_by_label("Verbal abuse, like name-calling or offensive jokes").check()
    await page.get_by_label("Threats of violence").check()
    await page.get_by_label("Race or ethnicity").check()
    await page.get_by_label("Describe what happened").fill(
        "The man next door shouts racist abuse at me when I come home."
    )
    await page.get_by_label("Where did it happen?").fill("Outside my front door")
    await page.get_by_label("Day").fill("20")
    await page.get_by_label("Month").fill("11")
    await page.get_by_label("Year").fill("2025")
    await group(page, "Is it still happening?").get_by_label("Yes").check()
    await page.get_by_label("Someone who lives in a Pine Court home").check()
    await group(page, "Are you a Pine Court tenant or customer?").get_by_label("Yes").check()
    await page.get_by_label("Full name").fill("A. Resident")
    await page.get_by_label("Phone number").fill("07700 900000")
    await group(page, "Is anyone in danger now?").get_by_label("No").check()
    await group(page, "safest way to contact you").get_by_label("Text message").check()
    await (
        group(page, "Is it safe for us to do any of these?")
        .get_by_label("Send a text message")
        .check()
    )
    await page.get_by_label("I use British Sign Language").check()
    await group(page, "Can we share what you told us").get_by_label("Yes").check()
    await page.get_by_role("button", name="Send report").click()

    reference = await shown_reference(page)
    status_code = await shown_status_code(page)
    # Neither is in an address, so neither is in the browser's history.
    assert page.url == f"{intake.public_url}/report"
    await expect(page.get_by_text("contact you, in the way you told us is safe")).to_be_visible()
    await expect(page.get_by_text("We cannot show you this status code again")).to_be_visible()

    case = await case_by_reference(intake.database_url, reference)
    assert case is not None
    assert case["reporter_role"] == "survivor"
    assert case["channel"] == "web_form"
    assert case["track"] == "customer_case"
    assert case["consent_to_share"] == "given"
    assert case["reporter_receives_feedback"] is True
    # The staff view of the case (the JSON API) shows what the person typed.
    async with httpx.AsyncClient(base_url=intake.url) as client:
        response = await client.get(
            f"/v1/cases/{case['case_id']}",
            headers=bearer(issue_token("caseworker", team="north")),
        )
    response.raise_for_status()
    report = response.json()["reports"][0]["report"]
    assert report["survivor"]["name"] == "A. Resident"
    assert report["survivor"]["access"]["safe_contact_method"] == "text_message"
    assert report["survivor"]["access"]["british_sign_language"] is True
    assert report["consent"]["safe_contact"] == {
        "voicemail": False,
        "text_message": True,
        "letter": False,
    }
    assert report["incident"]["categories"] == ["verbal_abuse", "threats_of_violence"]
    assert report["incident"]["perceived_motivation"] == ["race"]
    assert report["incident"]["occurred_at"].startswith("2025-11-20")
    assert report["incident"]["ongoing"] is True
    assert report["alleged_perpetrators"] == [{"kind": "customer", "description": None}]

    # With the reference and the code, as read out on the phone, they see its status.
    await page.get_by_role("link", name="check the status of your report").click()
    await page.get_by_label("Reference number").fill(reference)
    await page.get_by_label("Status code").fill(status_code.lower().replace("-", " "))
    await page.get_by_role("button", name="Check status").click()
    await expect(page.get_by_role("heading", name="Your report")).to_be_visible()
    await expect(page.locator("#status")).to_have_text("Open")
    await expect(page.locator("#reference")).to_have_text(reference)


def shown(html: str, pattern: re.Pattern[str]) -> str:
    found = pattern.search(html)
    assert found, html
    return found.group(0)


async def test_the_same_form_sent_twice_opens_one_case(intake: Intake) -> None:
    """A double click or a reload sends the page's token again: one case, one reference.
    The page the browser ends on shows a status code that works; the first one shown no
    longer does (only a hash is kept, so the second answer carries a new one)."""
    before = await count_cases(intake.database_url)
    async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as client:
        page = await client.get("/report?for=self")
        form = {
            **hidden_inputs(page.text),
            "categories": "graffiti",
            "customer": "yes",
            "danger": "no",
        }
        assert form["for"] == "self"
        first = await client.post("/report", data=form)
        again = await client.post("/report", data=form)
        changed = await client.post("/report", data={**form, "categories": "arson"})
        assert first.status_code == again.status_code == changed.status_code == 200
        reference = shown(first.text, REFERENCE)
        assert shown(again.text, REFERENCE) == reference
        assert shown(changed.text, REFERENCE) != reference
        assert await count_cases(intake.database_url) == before + 2

        async def lookup(code: str) -> int:
            answer = await client.post(
                "/v1/report-status", json={"reference": reference, "status_code": code}
            )
            return answer.status_code

        assert await lookup(shown(first.text, STATUS_CODE)) == 404
        assert await lookup(shown(again.text, STATUS_CODE)) == 200


@pytest.mark.parametrize(
    "referrer_policy",
    ["strict-origin-when-cross-origin", "no-referrer"],
    ids=["origin sent", "origin hidden"],
)
async def test_a_form_on_another_site_cannot_send_a_report(
    no_script: BrowserContext, intake: Intake, referrer_policy: str
) -> None:
    """Another site's page copies our form, a fresh token included, and the person is led
    to press its button: the browser says where the post came from (Origin, or only
    Sec-Fetch-Site when the page hides its origin), and it is refused."""
    before = await count_cases(intake.database_url)
    page = await no_script.new_page()
    await page.goto(f"{intake.public_url}/report?for=self")
    fields = {
        name: await page.locator(f"input[type=hidden][name={name}]").get_attribute("value")
        for name in ("for", "submission", "token")
    }
    hidden = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    lure = (
        f'<!DOCTYPE html><html lang="en"><title>Prize</title><form method="post" '
        f'action="{intake.public_url}/report">{hidden}'
        '<input type="hidden" name="categories" value="graffiti">'
        '<input type="hidden" name="customer" value="yes">'
        '<input type="hidden" name="danger" value="no">'
        "<button>Claim your prize</button></form></html>"
    )
    await page.route(
        "http://another-site.example/**",
        lambda route: route.fulfill(
            body=lure, content_type="text/html", headers={"Referrer-Policy": referrer_policy}
        ),
    )
    await page.goto("http://another-site.example/")
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Claim your prize").click()
    response = await answer.value
    assert response.status == 403
    await expect(page.get_by_role("heading", name="Your request was not sent")).to_be_visible()
    assert await count_cases(intake.database_url) == before


async def test_anonymous_report_asks_for_no_name(no_script: BrowserContext, intake: Intake) -> None:
    page = await no_script.new_page()
    await page.goto(intake.public_url)
    await page.get_by_role("link", name="Report anonymously").click()
    await expect(page.get_by_text("Reporting anonymously")).to_be_visible()
    # No name, phone, email or contact is asked of anyone.
    for word in ("name", "phone", "email", "contact"):
        assert await page.locator(f"input[type=text][name*={word}]").count() == 0, word
    assert await page.locator("input[type=tel], input[type=email]").count() == 0
    labels = await page.locator("input[type=text], textarea").evaluate_all(
        "fields => fields.map(field => field.labels[0].innerText)"
    )
    assert labels, "the form has text fields"
    assert not [label for label in labels if re.search(r"name|phone|email|contact", label, re.I)]

    await page.get_by_label("Graffiti").check()
    await page.get_by_label("Religion or belief").check()
    await (
        group(page, "Is the person it happened to a Pine Court tenant")
        .get_by_label("I am not sure")
        .check()
    )
    await group(page, "Is anyone in danger now?").get_by_label("No").check()
    await page.get_by_role("button", name="Send report").click()

    reference = await shown_reference(page)
    await expect(page.get_by_text("We cannot contact you or tell you what happens")).to_be_visible()
    assert await page.locator("#status-code").count() == 0  # no feedback, no code (3.2.3)
    case = await case_by_reference(intake.database_url, reference)
    assert case is not None
    assert case["reporter_role"] == "anonymous"
    assert case["track"] == "anonymous_validity_check"
    assert case["reporter_receives_feedback"] is False
    assert case["body"]["reporter"] == {"role": "anonymous", "name": None, "contact": None}


async def test_report_for_someone_else_gets_no_feedback(
    no_script: BrowserContext, intake: Intake
) -> None:
    page = await no_script.new_page()
    await page.goto(intake.public_url)
    await page.get_by_role("link", name="Report for someone else").click()
    await expect(page.get_by_text("Reporting for someone else")).to_be_visible()

    await page.get_by_label("Bullying or intimidation").check()
    await page.get_by_label("Disability", exact=True).check()
    await (
        group(page, "Is the person it happened to a Pine Court tenant").get_by_label("Yes").check()
    )
    await page.get_by_label("Their name (if you know it)").fill("E. Neighbour")
    await group(page, "Is anyone in danger now?").get_by_label("Yes").check()
    await page.get_by_label("Your name").fill("B. Friend")
    await page.get_by_label("Your phone number or email address").fill("07700 900111")
    await page.get_by_role("button", name="Send report").click()

    reference = await shown_reference(page)
    await expect(
        page.get_by_text("We will not be able to tell you what happens next")
    ).to_be_visible()
    assert await page.locator("#status-code").count() == 0
    case = await case_by_reference(intake.database_url, reference)
    assert case is not None
    assert case["reporter_role"] == "third_party"
    assert case["track"] == "third_party_discreet_contact"
    assert case["reporter_receives_feedback"] is False
    assert case["consent_to_share"] == "not_asked"  # the survivor's to give, not the reporter's
    assert case["body"]["reporter"]["name"] == "B. Friend"
    assert case["body"]["survivor"]["name"] == "E. Neighbour"
    assert case["body"]["immediate_danger"] is True


async def test_missing_category_shows_the_error_and_stores_nothing(
    no_script: BrowserContext, intake: Intake
) -> None:
    before = await count_cases(intake.database_url)
    page = await no_script.new_page()
    await page.goto(f"{intake.public_url}/report?for=self")
    await page.get_by_label("Describe what happened").fill("Someone keeps shouting at me.")
    await group(page, "Are you a Pine Court tenant or customer?").get_by_label("Yes").check()
    await page.get_by_label("Day").fill("31")
    await page.get_by_label("Month").fill("2")
    await page.get_by_label("Year").fill("2025")
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Send report").click()
    assert (await answer.value).status == 422

    assert (await page.title()).startswith("Error: ")
    summary = page.get_by_role("alert")
    await expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    # In page order, each linking to its field.
    links = summary.get_by_role("link")
    await expect(links).to_have_text(
        [
            "Select what happened",
            "The date it happened must be a real date",
            "Select yes if anyone is in danger now",
        ]
    )
    assert await links.nth(0).get_attribute("href") == "#categories"
    assert await page.locator("#categories").get_attribute("type") == "checkbox"
    assert await links.nth(1).get_attribute("href") == "#occurred-day"
    # Inline, on the question itself.
    await expect(group(page, "What happened?")).to_contain_text("Error: Select what happened")
    # What was entered is kept.
    await expect(page.get_by_label("Describe what happened")).to_have_value(
        "Someone keeps shouting at me."
    )
    await expect(
        group(page, "Are you a Pine Court tenant or customer?").get_by_label("Yes")
    ).to_be_checked()
    await expect(page.get_by_label("Day")).to_have_value("31")
    assert await count_cases(intake.database_url) == before

    # Put right, it goes through.
    await page.get_by_label("Bullying or intimidation").check()
    await page.get_by_label("Day").fill("28")
    await group(page, "Is anyone in danger now?").get_by_label("No").check()
    await page.get_by_role("button", name="Send report").click()
    await shown_reference(page)
    assert await count_cases(intake.database_url) == before + 1


async def test_guidance_is_at_most_two_clicks_from_the_start(
    no_script: BrowserContext, intake: Intake
) -> None:
    page = await no_script.new_page()
    await page.goto(intake.public_url)
    await expect(
        page.get_by_role("main").get_by_text("If you are in danger now, call 999.")
    ).to_be_visible()
    clicks = 0
    await page.get_by_role("main").get_by_role("link", name="Get help and advice").click()
    clicks += 1
    await expect(page.get_by_role("heading", name="Help and advice", level=1)).to_be_visible()
    for heading in (
        "If you are in danger now: call 999",
        "Not an emergency: Police 101",
        "Stop Hate UK: 0800 138 1625, 24 hours",
        "Blocking and reporting online abuse",
        "What happens after you report",
    ):
        await expect(page.get_by_role("heading", name=heading)).to_be_visible()
    await expect(page.get_by_text("Call 999 if someone is in danger")).to_be_visible()
    await expect(page.get_by_text("Call 101 to report")).to_be_visible()
    await expect(page.get_by_text("Block the person or account")).to_be_visible()
    # The contents link to each section: a second click lands on it.
    await page.get_by_role("link", name="Stop Hate UK: 0800 138 1625, 24 hours").click()
    clicks += 1
    assert page.url.endswith("/help#stop-hate-uk")
    assert clicks <= 2

    # From the form too, in one click.
    await page.goto(f"{intake.public_url}/report?for=anonymous")
    await page.get_by_role("main").get_by_role("link", name="Get help and advice").click()
    await expect(page.get_by_role("heading", name="Help and advice", level=1)).to_be_visible()


async def serious_violations(page: Page, axe: Path) -> list[dict[str, Any]]:
    await page.add_script_tag(path=str(axe))
    result: dict[str, Any] = await page.evaluate("axe.run()")
    violations: list[dict[str, Any]] = result["violations"]
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def described(page_name: str, violations: list[dict[str, Any]]) -> str:
    return f"{page_name}: " + "; ".join(
        f"{v['impact']} {v['id']} ({v['help']}) at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in violations
    )


async def test_axe_finds_no_serious_accessibility_problem(
    scripted: BrowserContext, intake: Intake, axe_script: Path
) -> None:
    page = await scripted.new_page()
    found: dict[str, list[dict[str, Any]]] = {}

    async def check(name: str) -> None:
        found[name] = await serious_violations(page, axe_script)

    for path in ("/", "/help", "/report?for=self", "/report?for=someone-else", "/status"):
        await page.goto(f"{intake.public_url}{path}")
        await check(path)
    await page.get_by_role("button", name="Check status").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await check("/status with the error summary")
    await page.get_by_label("Reference number").fill("HHC-2000-000001")
    await page.get_by_label("Status code").fill("0000-0000-0000-0000")
    await page.get_by_role("button", name="Check status").click()
    await expect(page.get_by_role("status")).to_contain_text("We could not find a report")
    await check("/status not found")
    await page.goto(f"{intake.public_url}/report?for=anonymous")
    await check("/report?for=anonymous")
    await page.get_by_role("button", name="Send report").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await check("/report?for=anonymous with the error summary")
    await page.goto(f"{intake.public_url}/report?for=self")
    await page.get_by_label("Day").fill("40")
    await page.get_by_label("Full name").fill("x" * 201)
    await page.get_by_role("button", name="Send report").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await check("/report?for=self with the error summary")
    await page.get_by_label("Full name").fill("A. Resident")
    await page.get_by_label("Day").fill("1")
    await page.get_by_label("Month").fill("1")
    await page.get_by_label("Year").fill("2025")
    await page.get_by_label("Online abuse, for example on social media").check()
    await group(page, "Are you a Pine Court tenant or customer?").get_by_label("Yes").check()
    await group(page, "Is anyone in danger now?").get_by_label("No").check()
    await page.get_by_role("button", name="Send report").click()
    reference = await shown_reference(page)
    status_code = await shown_status_code(page)
    await check("/report, sent")
    await page.goto(f"{intake.public_url}/status")
    await page.get_by_label("Reference number").fill(reference)
    await page.get_by_label("Status code").fill(status_code)
    await page.get_by_role("button", name="Check status").click()
    await expect(page.get_by_role("heading", name="Your report")).to_be_visible()
    await check("/status found")

    problems = {name: v for name, v in found.items() if v}
    assert not problems, "\n".join(described(name, v) for name, v in problems.items())
