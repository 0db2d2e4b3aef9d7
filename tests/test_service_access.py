"""Sign-in and case-level access on risk, referrals, enforcement and reporting (policy
3.5.1), the whole system running as processes: 401 without a token, 403 without the
permission, 404 for a case the caller does not reach (the same answer as for a case that
does not exist), and every look at a case audited by the service that served it."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hhc_devstack.pytest_plugin import TokenFactory, bearer
from hhc_devstack.system import SERVICE_PORTS, ServiceProcesses

from .conftest import STAFF_ROLES, STAFF_TEAM, report_body, wait_for_timeline

Clients = dict[str, httpx.AsyncClient]

CASE_ROUTES = [
    ("risk", "/v1/cases/{}/actions"),
    ("risk", "/v1/cases/{}/assessments"),
    ("referrals", "/v1/cases/{}/referrals"),
    ("enforcement", "/v1/cases/{}/enforcement"),
    ("reporting", "/v1/cases/{}/timeline"),
]
CASE_ROUTE_IDS = [f"{service} {path.rsplit('/', 1)[1]}" for service, path in CASE_ROUTES]


@dataclass(frozen=True)
class Case:
    case_id: str
    action_id: str
    """The visit with a risk assessment, left open for the tests."""


@pytest.fixture(scope="module")
async def anonymous(shared_system: ServiceProcesses) -> AsyncIterator[Clients]:
    """A client per service that sends no token unless a request gives one."""
    opened = {
        service: httpx.AsyncClient(base_url=shared_system.url(service), timeout=10)
        for service in SERVICE_PORTS
    }
    try:
        yield opened
    finally:
        for client in opened.values():
            await client.aclose()


@pytest.fixture(scope="module")
async def case(anonymous: Clients, issue_token: TokenFactory) -> Case:
    """A case of the default team that every service has heard of and worked on."""
    staff = bearer(issue_token(*STAFF_ROLES, team=STAFF_TEAM))
    response = await anonymous["intake"].post("/v1/reports", json=report_body(), headers=staff)
    assert response.status_code == 202, response.text
    case_id = response.json()["case_id"]
    timeline = httpx.AsyncClient(base_url=str(anonymous["reporting"].base_url), headers=staff)
    async with timeline:
        await wait_for_timeline(
            timeline,
            case_id,
            "risk.action-required",
            "referrals.referral-made",
            "enforcement.case-opened",
        )
    actions = await anonymous["risk"].get(f"/v1/cases/{case_id}/actions", headers=staff)
    visit = next(a for a in actions.json() if a["kind"] == "visit_with_risk_assessment")
    return Case(case_id, visit["action_id"])


async def test_without_a_token_every_route_is_401(anonymous: Clients, case: Case) -> None:
    requests = [
        *((service, "GET", path.format(case.case_id)) for service, path in CASE_ROUTES),
        ("risk", "GET", "/v1/assessment-questions"),
        ("risk", "POST", f"/v1/cases/{case.case_id}/assessments"),
        ("risk", "POST", f"/v1/actions/{case.action_id}/complete"),
        ("reporting", "GET", "/v1/reports/monthly?month=2026-11"),
        ("reporting", "POST", "/v1/reports/monthly/publish?month=2026-11"),
        *((service, "GET", "/v1/audit") for service in SERVICE_PORTS),
    ]
    for service, method, path in requests:
        response = await anonymous[service].request(method, path, json={})
        assert response.status_code == 401, (service, method, path, response.text)
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="hhc"')


@pytest.mark.parametrize(("service", "path"), CASE_ROUTES, ids=CASE_ROUTE_IDS)
async def test_a_case_out_of_reach_is_404_as_an_unknown_case(
    anonymous: Clients, case: Case, issue_token: TokenFactory, service: str, path: str
) -> None:
    north = bearer(issue_token("caseworker", team=STAFF_TEAM))
    south = bearer(issue_token("caseworker", team="south"))
    client = anonymous[service]
    assert (await client.get(path.format(case.case_id), headers=north)).status_code == 200
    refused = await client.get(path.format(case.case_id), headers=south)
    unknown = await client.get(path.format(uuid.uuid4()), headers=south)
    assert refused.status_code == 404
    assert (refused.status_code, refused.json()) == (unknown.status_code, unknown.json())


async def test_who_reaches_what_follows_the_role(
    anonymous: Clients, case: Case, issue_token: TokenFactory
) -> None:
    def status(service: str, path: str, *roles: str, team: str | None = None) -> Any:
        return anonymous[service].get(path, headers=bearer(issue_token(*roles, team=team)))

    enforcement = f"/v1/cases/{case.case_id}/enforcement"
    timeline = f"/v1/cases/{case.case_id}/timeline"
    # Legal officers take enforcement in every team; nothing about referrals.
    assert (await status("enforcement", enforcement, "legal_officer")).status_code == 200
    referrals = f"/v1/cases/{case.case_id}/referrals"
    assert (await status("referrals", referrals, "legal_officer")).status_code == 403
    # The data protection officer reaches every case.
    assert (await status("reporting", timeline, "data_protection_officer")).status_code == 200
    # Aggregates only, or the audit only: no case.
    assert (await status("reporting", timeline, "reporting_reader")).status_code == 403
    actions = f"/v1/cases/{case.case_id}/actions"
    assert (await status("risk", actions, "auditor")).status_code == 403
    monthly = "/v1/reports/monthly?month=2026-11"
    assert (await status("reporting", monthly, "reporting_reader")).status_code == 200
    assert (await status("reporting", monthly, "caseworker", team="north")).status_code == 403
    questions = "/v1/assessment-questions"
    assert (await status("risk", questions, "adviser")).status_code == 200
    assert (await status("risk", questions, "reporting_reader")).status_code == 403


async def test_completing_an_action_out_of_reach_is_404_as_an_unknown_action(
    anonymous: Clients, case: Case, issue_token: TokenFactory
) -> None:
    risk = anonymous["risk"]
    south = bearer(issue_token("caseworker", team="south"))
    body = {"outcome": "visited"}
    refused = await risk.post(f"/v1/actions/{case.action_id}/complete", json=body, headers=south)
    unknown = await risk.post(f"/v1/actions/{uuid.uuid4()}/complete", json=body, headers=south)
    assert refused.status_code == 404
    assert (refused.status_code, refused.json()) == (unknown.status_code, unknown.json())
    adviser = bearer(issue_token("adviser"))
    complete = f"/v1/actions/{case.action_id}/complete"
    forbidden = await risk.post(complete, json=body, headers=adviser)
    assert forbidden.status_code == 403
    listed = await risk.get(
        f"/v1/cases/{case.case_id}/actions", headers=bearer(issue_token("caseworker", team="north"))
    )
    visit = next(a for a in listed.json() if a["action_id"] == case.action_id)
    assert visit["state"] == "open"


@pytest.mark.parametrize(("service", "path"), CASE_ROUTES, ids=CASE_ROUTE_IDS)
async def test_every_look_at_a_case_is_audited_where_it_was_served(
    anonymous: Clients, case: Case, issue_token: TokenFactory, service: str, path: str
) -> None:
    reader, outsider = f"reader-{uuid.uuid4().hex[:6]}", f"outsider-{uuid.uuid4().hex[:6]}"
    client = anonymous[service]
    north = bearer(issue_token("caseworker", team=STAFF_TEAM, subject=reader))
    south = bearer(issue_token("caseworker", team="south", subject=outsider))
    assert (await client.get(path.format(case.case_id), headers=north)).status_code == 200
    assert (await client.get(path.format(case.case_id), headers=south)).status_code == 404

    audit = await client.get(
        "/v1/audit", params={"case_id": case.case_id}, headers=bearer(issue_token("auditor"))
    )
    assert audit.status_code == 200, audit.text
    log = audit.json()
    assert log["service"] == service
    assert log["chain_intact"] is True
    looks = {(r["subject"], r["outcome"], r["operation"]) for r in log["records"]}
    operation = f"GET {path.format('{case_id}')}"
    assert (reader, "granted", operation) in looks
    assert (outsider, "refused", operation) in looks


@pytest.mark.parametrize("month", ["1999-12", "0000-01", "9999-12", "2999-01"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_month_out_of_range_is_422_naming_the_month(
    shared_clients: Clients, month: str, method: str
) -> None:
    path = "/v1/reports/monthly" if method == "GET" else "/v1/reports/monthly/publish"
    response = await shared_clients["reporting"].request(method, path, params={"month": month})
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["month"]


async def test_reporting_keeps_no_audit_events_on_a_timeline(
    shared_clients: Clients, case: Case
) -> None:
    # Intake audited the report it took in the transaction that opened the case, so that
    # audit event was published with the case's first event, long before the case fixture
    # saw enforcement's; reporting does not read the audit's topic.
    timeline = await shared_clients["reporting"].get(f"/v1/cases/{case.case_id}/timeline")
    types = [event["event_type"] for event in timeline.json()["events"]]
    assert "intake.report-received" in types
    assert not [event_type for event_type in types if event_type.startswith("audit.")]
