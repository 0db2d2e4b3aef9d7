"""The chassis's HTTP conventions on the running services: control characters refused
with 422, bodies sent in chunks over the limit refused with 413, personal data never
cached, and server spans exported without the caller's address, user agent or query."""

import secrets
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from hhc_chassis.settings import ServiceSettings
from hhc_devstack.otlp import ReceivedSpan, SpanCollector
from hhc_devstack.pytest_plugin import TokenFactory, bearer, eventually
from hhc_devstack.system import SERVICE_PORTS, ServiceProcesses

from .conftest import STAFF_ROLES, STAFF_TEAM, report_body

pytestmark = pytest.mark.system

MAX_BODY_BYTES = ServiceSettings.model_fields["max_body_bytes"].default
"""The services run with the default limit here."""

# One route of each service a token with the staff roles may read.
READABLE = {
    "intake": "/v1/audit?limit=1",
    "risk": "/v1/assessment-questions",
    "referrals": "/v1/audit?limit=1",
    "enforcement": "/v1/audit?limit=1",
    "reporting": "/v1/reports/monthly?month=2026-01",
}


@pytest.fixture
def token(issue_token: TokenFactory) -> str:
    return issue_token(*STAFF_ROLES, "auditor", team=STAFF_TEAM)


async def test_a_nul_in_a_report_gets_422_naming_the_field(
    shared_system: ServiceProcesses, issue_token: TokenFactory
) -> None:
    body = report_body()
    body["incident"]["description"] = "Shouted abuse\x00 at my door"
    async with httpx.AsyncClient(
        base_url=shared_system.url("intake"), headers=bearer(issue_token("adviser"))
    ) as intake:
        response = await intake.post("/v1/reports", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {
            "field": "incident.description",
            "message": "Text must not contain control characters (found U+0000 at position 13)",
        }
    ]


async def test_line_breaks_from_a_text_area_are_accepted(
    shared_system: ServiceProcesses, issue_token: TokenFactory
) -> None:
    body = report_body()
    body["incident"]["description"] = "First time:\r\n\tshouting.\r\nSecond time: a note."
    async with httpx.AsyncClient(
        base_url=shared_system.url("intake"), headers=bearer(issue_token("adviser"))
    ) as intake:
        response = await intake.post("/v1/reports", json=body)
    assert response.status_code == 202, response.text


async def _chunks(size: int) -> AsyncIterator[bytes]:
    """A JSON string of ``size`` bytes and more, sent in 16 KiB chunks with no length."""
    yield b'{"channel": "telephone", "incident": {"description": "'
    chunk = b"x" * 16 * 1024
    for _ in range(size // len(chunk) + 1):
        yield chunk
    yield b'"}}'


@pytest.mark.parametrize(
    ("service", "path"),
    [("intake", "/v1/reports"), ("risk", f"/v1/cases/{uuid.uuid4()}/assessments")],
    ids=["intake", "risk"],
)
async def test_a_body_in_chunks_over_the_limit_gets_413(
    shared_system: ServiceProcesses, token: str, service: str, path: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_system.url(service), timeout=30) as client:
        response = await client.post(
            path,
            content=_chunks(MAX_BODY_BYTES),
            headers={**bearer(token), "Content-Type": "application/json"},
        )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}


async def test_a_body_saying_it_is_over_the_limit_gets_413(
    shared_system: ServiceProcesses, token: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_system.url("intake"), timeout=30) as client:
        response = await client.post(
            "/v1/reports",
            content=b"{" + b" " * MAX_BODY_BYTES + b"}",
            headers={**bearer(token), "Content-Type": "application/json"},
        )
    assert response.status_code == 413


@pytest.mark.parametrize("service", SERVICE_PORTS)
async def test_answers_with_personal_data_are_not_stored(
    shared_system: ServiceProcesses, token: str, service: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_system.url(service)) as client:
        read = await client.get(READABLE[service], headers=bearer(token))
        refused = await client.get(READABLE[service])
        wrong_token = await client.get(READABLE[service], headers=bearer("not-a-token"))
        probe = await client.get("/healthz")
    assert read.status_code == 200, read.text
    assert (refused.status_code, wrong_token.status_code) == (401, 401)
    for response in (read, refused, wrong_token):
        assert response.headers.get_list("cache-control") == ["no-store"]
    assert "cache-control" not in probe.headers


async def test_server_spans_carry_route_method_and_status_but_not_the_caller(
    shared_system: ServiceProcesses, token: str, span_collector: SpanCollector
) -> None:
    trace_id = secrets.token_hex(16)
    marker = f"marker{secrets.token_hex(4)}"
    user_agent = f"Mozilla/5.0 (Jane's phone; {marker})"
    async with httpx.AsyncClient(base_url=shared_system.url("reporting")) as reporting:
        response = await reporting.get(
            "/v1/reports/monthly",
            params={"month": "2026-01", "name": f"Jane {marker}"},
            headers={
                **bearer(token),
                "User-Agent": user_agent,
                "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
            },
        )
    assert response.status_code == 200, response.text

    async def server_span() -> ReceivedSpan | None:
        return next(
            (
                span
                for span in span_collector.snapshot()
                if span.trace_id == trace_id
                and span.name == "GET /v1/reports/monthly"
                and span.attributes.get("http.route")
            ),
            None,
        )

    span = await eventually(server_span, timeout=15, message="no server span exported")
    attributes = span.attributes
    assert span.service == "hhc-reporting"
    assert attributes["http.route"] == "/v1/reports/monthly"
    assert (attributes.get("http.method") or attributes.get("http.request.method")) == "GET"
    assert (
        attributes.get("http.status_code") or attributes.get("http.response.status_code")
    ) == "200"

    in_trace = [s for s in span_collector.snapshot() if s.trace_id == trace_id]
    for exported in in_trace:
        for key, value in exported.attributes.items():
            assert not key.startswith(("client.", "net.peer.", "network.peer.", "user_agent.")), key
            assert key not in ("http.client_ip", "http.user_agent", "url.query", "url.full"), key
            assert key != "http.url", key
            for secret in (marker, "Jane", "Mozilla", "month=", "?"):
                assert secret not in value, f"{exported.name}: {key}={value}"
