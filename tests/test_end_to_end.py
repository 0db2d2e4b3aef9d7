"""A report made over HTTP flows through all five services, in one trace."""

from typing import Any

import httpx
import pytest

from hhc_devstack.otlp import SpanCollector
from hhc_devstack.pytest_plugin import eventually

from .conftest import report_body, wait_for_timeline

SUPPRESSED_BELOW = 5
"""The monthly report publishes no figure drawn from fewer cases than this."""
SERVICES = {"hhc-intake", "hhc-risk", "hhc-referrals", "hhc-enforcement", "hhc-reporting"}


@pytest.fixture
def clients(shared_clients: dict[str, httpx.AsyncClient]) -> dict[str, httpx.AsyncClient]:
    """These tests only make reports and read what follows: one system serves them all."""
    return shared_clients


async def test_report_reaches_every_service_in_one_trace(
    clients: dict[str, httpx.AsyncClient], span_collector: SpanCollector
) -> None:
    body = report_body()
    response = await clients["intake"].post("/v1/reports", json=body)
    assert response.status_code == 202
    accepted = response.json()
    case_id = accepted["case_id"]
    assert accepted["reference"].startswith("HHC-")

    types = await wait_for_timeline(
        clients["reporting"],
        case_id,
        "intake.report-received",
        "risk.risk-assessed",
        "risk.action-required",
        "referrals.referral-made",
        "enforcement.case-opened",
    )
    assert types[0] == "intake.report-received"

    case = (await clients["intake"].get(f"/v1/cases/{case_id}")).json()
    assert case["reference"] == accepted["reference"]
    assert case["classification"] == "hate_incident"
    assert case["track"] == "customer_case"

    actions = (await clients["risk"].get(f"/v1/cases/{case_id}/actions")).json()
    visit = next(a for a in actions if a["kind"] == "visit_with_risk_assessment")
    assert visit["applies_to"] == "customers_only"

    # Emergency services are telephoned by a member of staff: until one records the call,
    # the referral is ready and risk's action stays open with its 15-minute clock.
    async def emergency_referral() -> dict[str, object] | None:
        listed = (await clients["referrals"].get(f"/v1/cases/{case_id}/referrals")).json()
        return next((r for r in listed if r["partner"] == "emergency_services"), None)

    emergency = await eventually(emergency_referral, message="no emergency referral")
    assert (emergency["status"], emergency["channel"]) == ("ready", "telephone")
    listed = (await clients["risk"].get(f"/v1/cases/{case_id}/actions")).json()
    action = next(a for a in listed if a["kind"] == "inform_emergency_services")
    assert action["state"] == "open"

    confirmed = await clients["referrals"].post(
        f"/v1/referrals/{emergency['referral_id']}/confirmation",
        json={"spoke_to": "Call handler", "incident_number": "CAD-1"},
    )
    assert confirmed.status_code == 200, confirmed.text

    async def emergency_referral_closed_its_action() -> bool:
        listed = (await clients["risk"].get(f"/v1/cases/{case_id}/actions")).json()
        emergency = next(a for a in listed if a["kind"] == "inform_emergency_services")
        return (emergency["state"], emergency["outcome"]) == ("completed", "referral_made")

    await eventually(
        emergency_referral_closed_its_action, message="the call did not complete risk's action"
    )

    async def one_trace_across_services() -> set[str] | None:
        spans = span_collector.snapshot()
        roots = [s for s in spans if s.service == "hhc-intake" and s.name == "POST /v1/reports"]
        for root in roots:
            in_trace = [s for s in spans if s.trace_id == root.trace_id]
            if any(s.attributes.get("hhc.case.id") == case_id for s in in_trace):
                services = {s.service for s in in_trace}
                if services >= SERVICES:
                    return services
        return None

    await eventually(
        one_trace_across_services, timeout=30, message="no single trace spans all five services"
    )

    # Personal data never reaches span attributes.
    for span in span_collector.snapshot():
        for value in span.attributes.values():
            assert body["survivor"]["name"] not in value
            assert body["incident"]["description"] not in value


async def test_monthly_report_counts_the_cases_and_their_first_responses(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    # Five cases: a figure from fewer is suppressed in the report (5.2, small counts).
    case_ids = [
        (await clients["intake"].post("/v1/reports", json=report_body())).json()["case_id"]
        for _ in range(SUPPRESSED_BELOW)
    ]
    for case_id in case_ids:
        await wait_for_timeline(clients["reporting"], case_id, "risk.action-required")
        actions = (await clients["risk"].get(f"/v1/cases/{case_id}/actions")).json()
        visit = next(a for a in actions if a["kind"] == "visit_with_risk_assessment")
        completed = await clients["risk"].post(
            f"/v1/actions/{visit['action_id']}/complete", json={"outcome": "visited"}
        )
        assert completed.status_code == 200
    opened_at = (await clients["intake"].get(f"/v1/cases/{case_ids[0]}")).json()["opened_at"]

    async def responded() -> dict[str, Any] | None:
        report = await clients["reporting"].get(
            "/v1/reports/monthly", params={"month": opened_at[:7]}
        )
        first_response: dict[str, Any] = report.json()["first_response"]
        responded = first_response["cases_responded"]
        return first_response if responded and responded >= SUPPRESSED_BELOW else None

    first_response = await eventually(responded, message="first responses not counted")
    assert first_response["cases_received"] >= SUPPRESSED_BELOW
    assert first_response["median_seconds"] is not None
    assert first_response["p90_seconds"] is not None


async def test_bad_report_gets_422_naming_the_field(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    body = report_body()
    body["incident"]["categories"] = ["shouting"]
    response = await clients["intake"].post("/v1/reports", json=body)
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert ["body", "incident", "categories", 0] in locations
