"""The public listener apart from the staff one, its limits, and the status lookup a
stranger cannot use (policy 3.2.3): the guards' rules alone, then intake served
in-process on a real PostgreSQL and the session's broker."""

import hashlib
import re
import time
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.requests import Request

from hhc_devstack.pytest_plugin import TokenFactory, bearer
from hhc_intake.public import FormTokens, client_network, from_another_site
from hhc_intake.status import ALPHABET, code_hash, new_status_code, normalised

from .conftest import STATUS_RATE, SUBMIT_RATE, Intake, from_client

REFERENCE = re.compile(r"HHC-\d{4}-\d{6}")
STATUS_CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}")


def request_from(address: str, **headers: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/report",
            "client": (address, 50000),
            "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
        }
    )


# --- the rules alone -------------------------------------------------------------------


def test_a_status_code_is_80_random_bits_in_four_groups_easy_to_read_out() -> None:
    codes = {new_status_code() for _ in range(1000)}
    assert len(codes) == 1000
    for code in codes:
        assert STATUS_CODE.fullmatch(code), code
        assert len(code.replace("-", "")) * 5 == 80
    assert len(ALPHABET) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_a_code_heard_on_the_phone_is_the_same_code() -> None:
    assert normalised("7k3m 9qxh-2wfd rt8b") == "7K3M9QXH2WFDRT8B"
    assert normalised("OIL0-0000-0000-0000") == "0110000000000000"
    assert code_hash("7k3m 9qxh 2wfd rt8b") == code_hash("7K3M-9QXH-2WFD-RT8B")
    assert code_hash("7K3M-9QXH-2WFD-RT8B") == hashlib.sha256(b"7K3M9QXH2WFDRT8B").digest()
    for wrong in ("", "7K3M-9QXH-2WFD", "7K3M-9QXH-2WFD-RT8BX", "7K3M-9QXH-2WFD-RT8U"):
        assert normalised(wrong) is None, wrong


def test_clients_are_counted_by_address_and_ipv6_ones_by_their_64() -> None:
    assert client_network(request_from("203.0.113.9")) == "203.0.113.9"
    assert client_network(request_from("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64"
    assert client_network(request_from("2001:db8:1:2:bbbb::7")) == "2001:db8:1:2::/64"
    assert client_network(request_from("::ffff:203.0.113.9")) == "203.0.113.9"


def test_a_form_token_holds_for_its_form_its_client_and_its_time() -> None:
    tokens = FormTokens(b"secret", max_age_seconds=3600)
    here = request_from("203.0.113.9")
    token = tokens.issue("a" * 32, here)
    assert tokens.valid(token, "a" * 32, here)
    assert not tokens.valid(token, "b" * 32, here)
    assert not tokens.valid(token, "a" * 32, request_from("198.51.100.1"))
    assert not FormTokens(b"other", 3600).valid(token, "a" * 32, here)
    assert not tokens.valid("", "a" * 32, here)
    assert not tokens.valid(token[:-1] + ("A" if token[-1] != "A" else "B"), "a" * 32, here)
    old = str(int(time.time()) - 3601)
    assert not tokens.valid(f"{old}.{tokens._sign(int(old), 'a' * 32, here)}", "a" * 32, here)


@pytest.mark.parametrize(
    ("headers", "another_site"),
    [
        ({"sec_fetch_site": "same-origin", "origin": "null"}, False),
        ({"sec_fetch_site": "none"}, False),
        ({"sec_fetch_site": "cross-site", "origin": "https://evil.example"}, True),
        ({"sec_fetch_site": "same-site"}, True),
        ({"origin": "https://evil.example", "host": "report.example"}, True),
        ({"origin": "https://report.example", "host": "report.example"}, False),
        ({"origin": "null", "host": "report.example"}, False),
        ({"host": "report.example"}, False),
    ],
)
def test_a_post_from_another_site_is_told_apart(
    headers: dict[str, str], another_site: bool
) -> None:
    assert from_another_site(request_from("203.0.113.9", **headers)) is another_site


# --- the two listeners -----------------------------------------------------------------

STAFF_ONLY = [
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/redoc"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/v1/reports"),
    ("GET", "/v1/cases/00000000-0000-0000-0000-000000000000"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/reports/HHC-2026-000001/status"),
]
PUBLIC_ONLY = [
    ("GET", "/"),
    ("GET", "/help"),
    ("GET", "/report?for=self"),
    ("POST", "/report"),
    ("GET", "/status"),
    ("POST", "/status"),
    ("GET", "/static/hhc.css"),
    ("POST", "/v1/report-status"),
]


async def test_the_public_listener_has_no_staff_route_and_no_docs(intake: Intake) -> None:
    async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as client:
        for method, path in STAFF_ONLY:
            response = await client.request(method, path)
            assert response.status_code == 404, (method, path, response.status_code)
        assert (await client.get("/")).status_code == 200


async def test_the_staff_listener_has_no_public_page(intake: Intake) -> None:
    async with httpx.AsyncClient(base_url=intake.url) as client:
        for method, path in PUBLIC_ONLY:
            response = await client.request(method, path)
            assert response.status_code == 404, (method, path, response.status_code)
        assert (await client.get("/docs")).status_code == 200
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert "/v1/reports" in paths
        assert not [
            path for path in paths if path.endswith("report-status") or path.startswith("/report")
        ]


async def test_no_redirect_is_built_from_the_host_header(intake: Intake) -> None:
    async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as client:
        response = await client.get("/report", headers={"Host": "evil.example"})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


# --- the report form -------------------------------------------------------------------


async def count_cases(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM intake.cases"))
    finally:
        await connection.close()


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


async def opened_form(client: httpx.AsyncClient, **answers: str) -> dict[str, str]:
    page = await client.get("/report?for=self")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    return {
        **hidden_inputs(page.text),
        "categories": "graffiti",
        "customer": "yes",
        "danger": "no",
        **answers,
    }


async def test_a_form_from_another_site_opens_no_case(intake: Intake) -> None:
    before = await count_cases(intake.database_url)
    address = from_client()
    async with httpx.AsyncClient(base_url=intake.public_url, headers=address) as client:
        form = await opened_form(client)
        refused = [
            # Another site's page made the browser post it, with a good token even.
            await client.post("/report", data=form, headers={"Sec-Fetch-Site": "cross-site"}),
            await client.post("/report", data=form, headers={"Origin": "https://evil.example"}),
        ]
        assert [r.status_code for r in refused] == [403, 403]
        for response in refused:
            assert "graffiti" not in response.text  # nothing of it is shown back
        not_sent = [
            await client.post("/report", data={**form, "token": ""}),
            await client.post("/report", data={**form, "token": "1.forged"}),
            await client.post(
                "/report", data={**form, "submission": "f" * 32}
            ),  # a token of another form
        ]
        async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as other:
            not_sent.append(await other.post("/report", data=form))  # fetched elsewhere
        for response in not_sent:
            assert response.status_code == 400
            assert "Your report has not been sent yet" in response.text
            assert 'value="graffiti" checked' in response.text  # the answers are kept
        assert await count_cases(intake.database_url) == before

        # What the form shows again can be sent: from this site, a case is opened.
        again = hidden_inputs(not_sent[0].text)
        sent = await client.post(
            "/report", data={**form, **again}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert sent.status_code == 200, sent.text
        assert REFERENCE.search(sent.text)
    assert await count_cases(intake.database_url) == before + 1


async def test_submissions_are_rate_limited_per_client(intake: Intake) -> None:
    before = await count_cases(intake.database_url)
    async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as client:
        form = await opened_form(client, categories="")  # answered wrongly: nothing opens
        answers = [
            (await client.post("/report", data=form)).status_code for _ in range(SUBMIT_RATE)
        ]
        assert answers == [422] * SUBMIT_RATE
        limited = await client.post("/report", data={**form, "categories": "graffiti"})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "Too many attempts" in limited.text
        # The form itself can still be read, and another client is not held back.
        assert (await client.get("/report?for=self")).status_code == 200
    async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as other:
        form = await opened_form(other)
        assert (await other.post("/report", data=form)).status_code == 200
    assert await count_cases(intake.database_url) == before + 1


# --- the status lookup -----------------------------------------------------------------


async def reported(intake: Intake, token: str, role: str = "survivor") -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "telephone",
        "reporter": {"role": role, "name": "B. Friend" if role != "survivor" else None},
        "survivor": {"is_customer": True, "name": "A. Resident"},
        "alleged_perpetrators": [{"kind": "customer"}],
        "incident": {"categories": ["verbal_abuse"], "perceived_motivation": ["race"]},
        "immediate_danger": False,
    }
    async with httpx.AsyncClient(base_url=intake.url) as staff:
        response = await staff.post("/v1/reports", json=body, headers=bearer(token))
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_the_status_needs_the_reference_and_its_code(
    intake: Intake, issue_token: TokenFactory
) -> None:
    adviser = issue_token("adviser")
    own = await reported(intake, adviser)
    code = own["status_code"]
    assert STATUS_CODE.fullmatch(code), own
    third_party = await reported(intake, adviser, role="third_party")
    assert third_party["status_code"] is None  # 3.2.3: no feedback, so no code

    async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as client:

        async def lookup(reference: str, status_code: str) -> httpx.Response:
            return await client.post(
                "/v1/report-status", json={"reference": reference, "status_code": status_code}
            )

        found = await lookup(own["reference"], code.lower().replace("-", " "))
        assert found.status_code == 200
        assert found.json() == {
            "reference": own["reference"],
            "status": "open",
            "opened_at": found.json()["opened_at"],
        }
        failures = [
            await lookup(own["reference"], new_status_code()),  # a wrong code
            await lookup("HHC-1999-999999", code),  # an unknown reference
            await lookup(third_party["reference"], code),  # a reporter with no feedback
            await lookup(own["reference"], "not a code"),
            await lookup("HHC-2026-\u0000", code),  # PostgreSQL refuses NUL in text
            await lookup(own["reference"] + "\u0000", "x\u0000"),
        ]
        assert {(r.status_code, r.content) for r in failures} == {
            (404, b'{"detail":"no report with this reference and status code"}')
        }

    # Only the code's hash is kept.
    connection = await asyncpg.connect(intake.database_url)
    try:
        stored = await connection.fetchrow(
            "SELECT status_code_hash FROM intake.cases WHERE reference = $1", own["reference"]
        )
        kept_elsewhere = await connection.fetchval(
            "SELECT count(*) FROM intake.idempotency_keys WHERE response::text LIKE $1",
            f"%{code}%",
        )
    finally:
        await connection.close()
    assert stored["status_code_hash"] == code_hash(code)
    assert kept_elsewhere == 0


async def test_a_retried_report_answer_gives_no_code(
    intake: Intake, issue_token: TokenFactory
) -> None:
    body = {
        "channel": "telephone",
        "reporter": {"role": "survivor"},
        "survivor": {"is_customer": True},
        "alleged_perpetrators": [{"kind": "customer"}],
        "incident": {"categories": ["graffiti"]},
        "immediate_danger": False,
    }
    headers = {**bearer(issue_token("adviser")), "Idempotency-Key": f"retry-{time.time_ns()}"}
    async with httpx.AsyncClient(base_url=intake.url) as staff:
        first = (await staff.post("/v1/reports", json=body, headers=headers)).json()
        again = (await staff.post("/v1/reports", json=body, headers=headers)).json()
    assert STATUS_CODE.fullmatch(first["status_code"])
    assert again["reference"] == first["reference"]
    assert again.get("status_code") is None


async def test_the_status_page_without_javascript_answers_alike_for_every_failure(
    intake: Intake, issue_token: TokenFactory
) -> None:
    own = await reported(intake, issue_token("adviser"))
    async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as client:
        found = await client.post(
            "/status", data={"reference": own["reference"], "status_code": own["status_code"]}
        )
        assert found.status_code == 200
        assert "Open" in found.text
        for reference, code in (
            (own["reference"], new_status_code()),
            ("HHC-1999-999999", own["status_code"]),
            ("HHC\x00", own["status_code"]),
        ):
            missed = await client.post(
                "/status", data={"reference": reference, "status_code": code}
            )
            assert missed.status_code == 404
            assert "We could not find a report with that reference number" in missed.text
            assert code not in missed.text  # the code is never shown back
        blank = await client.post("/status", data={"reference": "", "status_code": ""})
        assert blank.status_code == 422
        assert "Enter your reference number" in blank.text


async def test_status_lookups_are_rate_limited_per_client(intake: Intake) -> None:
    address = from_client()
    lookup = {"reference": "HHC-1999-999999", "status_code": new_status_code()}
    async with httpx.AsyncClient(base_url=intake.public_url, headers=address) as client:
        answers = [
            (await client.post("/v1/report-status", json=lookup)).status_code
            for _ in range(STATUS_RATE - 1)
        ]
        # The page and the JSON lookup share the count.
        answers.append((await client.post("/status", data=lookup)).status_code)
        assert answers == [404] * STATUS_RATE
        limited = await client.post("/v1/report-status", json=lookup)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        page = await client.post("/status", data=lookup)
        assert page.status_code == 429
        assert 1 <= int(page.headers["Retry-After"]) <= 60
    async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as other:
        assert (await other.post("/v1/report-status", json=lookup)).status_code == 404
