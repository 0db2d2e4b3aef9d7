"""Enforcement against a customer perpetrator, from the report to a possession claim
(policy 2.5, 2.6, 3.3.1), over HTTP and the topics: evidence logged, every step decided
by named people (two for notice and possession) and recorded as taken by one, a hearing
reminder firing under ``DEADLINE_SCALE``, a breach on a later report; and reports the
policy handles otherwise open no enforcement (3.1, 3.2.5)."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from hhc_devstack.pytest_plugin import TokenFactory, bearer, eventually
from hhc_devstack.system import ServiceProcesses

from .conftest import report_body, wait_for_timeline

# A day before a hearing becomes under nine seconds.
DEADLINE_SCALE = 0.0001


@pytest.fixture
def system_env() -> dict[str, str]:
    return {"DEADLINE_SCALE": str(DEADLINE_SCALE)}


async def enforcement_of(client: httpx.AsyncClient, case_id: str, token: str) -> Any:
    """The case's enforcement once enforcement has heard of the case; None before."""
    response = await client.get(f"/v1/cases/{case_id}/enforcement", headers=bearer(token))
    return response.json() if response.status_code == 200 else None


async def test_a_customer_perpetrator_from_report_to_possession_claim(
    system: ServiceProcesses, clients: dict[str, httpx.AsyncClient], issue_token: TokenFactory
) -> None:
    enforcement = clients["enforcement"]
    legal_a = issue_token("legal_officer", subject="legal-a")
    legal_b = issue_token("legal_officer", subject="legal-b")

    # Reports the policy handles otherwise open nothing (3.1, 3.2.5).
    online = report_body(immediate_danger=False)
    online["incident"]["categories"] = ["online_abuse"]
    anonymous = report_body(immediate_danger=False, reporter={"role": "anonymous"}, consent={})
    quiet_cases = []
    for body in (online, anonymous):
        response = await clients["intake"].post("/v1/reports", json=body)
        assert response.status_code == 202, response.text
        quiet_cases.append(response.json()["case_id"])

    # A customer in immediate danger; the perpetrator a customer.
    response = await clients["intake"].post("/v1/reports", json=report_body())
    assert response.status_code == 202, response.text
    case_id = response.json()["case_id"]

    async def opened() -> Any:
        found = await enforcement_of(enforcement, case_id, legal_a)
        return found if found and found["enforcement_cases"] else None

    found = await eventually(opened, message="no enforcement case")
    [tenancy] = found["enforcement_cases"]
    assert tenancy["route"] == "tenancy_enforcement"
    assert tenancy["steps"] == []  # nothing is done by itself
    base = f"/v1/enforcement-cases/{tenancy['enforcement_case_id']}"

    for quiet in quiet_cases:
        seen = await eventually(
            lambda quiet=quiet: enforcement_of(enforcement, quiet, legal_a),
            message="enforcement never heard of the case",
        )
        assert seen["enforcement_cases"] == []
    anonymous_seen = await enforcement_of(enforcement, quiet_cases[1], legal_a)
    assert anonymous_seen["awaits_validity"] is True

    # No evidence, no step: 422 says what is missing (2.5).
    refused = await enforcement.post(
        f"{base}/proposals",
        json={"step": "ex_parte_injunction", "reason": "Threats at the door"},
        headers=bearer(legal_a),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["missing"]

    for evidence in (
        {"kind": "police_report", "strength": "strong", "source": "Merseyside Police"},
        {"kind": "witness_statement", "strength": "strong", "source": "the neighbour at 14"},
    ):
        logged = await enforcement.post(f"{base}/evidence", json=evidence, headers=bearer(legal_a))
        assert logged.status_code == 201, logged.text

    async def decide_and_take(step: str, *, second: str | None = None, **extra: Any) -> Any:
        proposed = await enforcement.post(
            f"{base}/proposals",
            json={"step": step, "reason": f"{step}: the evidence log", **extra},
            headers=bearer(legal_a),
        )
        assert proposed.status_code == 201, proposed.text
        proposal = proposed.json()
        if second is not None:
            assert proposal["status"] == "pending"
            # The proposer cannot be the second person.
            same = await enforcement.post(
                f"/v1/proposals/{proposal['proposal_id']}/decision",
                json={"agree": True},
                headers=bearer(legal_a),
            )
            assert same.status_code in (409, 422), same.text
            agreed = await enforcement.post(
                f"/v1/proposals/{proposal['proposal_id']}/decision",
                json={"agree": True},
                headers=bearer(second),
            )
            assert agreed.status_code == 200, agreed.text
            proposal = agreed.json()
        decision = proposal["decision"]
        assert decision is not None
        taken = await enforcement.post(
            f"/v1/decisions/{decision['decision_id']}/taken",
            json={"note": f"{step} done"},
            headers=bearer(legal_a),
        )
        assert taken.status_code == 201, taken.text
        return decision

    # Ex parte injunction in immediate danger (3.3.1): its 24-hour clock from the report
    # ran out (scaled) while nobody had decided it, so it was escalated; it stays open.
    async def ex_parte_escalated() -> Any:
        listed = await clients["risk"].get(f"/v1/cases/{case_id}/actions")
        if listed.status_code == 404:  # risk has not heard of the case yet
            return None
        assert listed.status_code == 200, listed.text
        action = next(a for a in listed.json() if a["kind"] == "ex_parte_injunction")
        return action if action["overdue"] else None

    escalated = await eventually(ex_parte_escalated, message="the ex parte clock never ran out")
    assert escalated["state"] == "open"
    ex_parte = await decide_and_take("ex_parte_injunction")
    assert ex_parte["decided_by"] == ["legal-a"]

    async def ex_parte_action_closed() -> Any:
        listed = await clients["risk"].get(f"/v1/cases/{case_id}/actions")
        if listed.status_code == 404:  # risk has not heard of the case yet
            return None
        assert listed.status_code == 200, listed.text
        action = next(a for a in listed.json() if a["kind"] == "ex_parte_injunction")
        return action if action["state"] == "completed" else None

    await eventually(ex_parte_action_closed, message="the step taken did not answer risk")

    notice = await decide_and_take("notice_of_seeking_possession", second=legal_b)
    assert sorted(notice["decided_by"]) == ["legal-a", "legal-b"]
    claim = await decide_and_take("possession_claim", second=legal_b)
    assert sorted(claim["decided_by"]) == ["legal-a", "legal-b"]

    # The claim's hearing, listed soon: its reminder a (scaled) day before fires.
    hearing = await enforcement.post(
        f"{base}/hearings",
        json={
            "step": "possession_claim",
            "hearing_at": (datetime.now(UTC) + timedelta(seconds=20)).isoformat(),
            "court": "County Court at Liverpool",
        },
        headers=bearer(legal_a),
    )
    assert hearing.status_code == 201, hearing.text
    await wait_for_timeline(clients["reporting"], case_id, "enforcement.reminder-due", timeout=60)

    # An injunction order in force; a later report that it goes on is a breach.
    order = await enforcement.post(
        f"{base}/orders",
        json={
            "step": "ex_parte_injunction",
            "made_on": date.today().isoformat(),
            "expires_on": (date.today() + timedelta(days=90)).isoformat(),
            "terms": "Not to come within 100 metres of the block",
        },
        headers=bearer(legal_a),
    )
    assert order.status_code == 201, order.text
    later = report_body(immediate_danger=False)
    later["incident"]["ongoing"] = True
    del later["consent"]
    further = await clients["intake"].post(f"/v1/cases/{case_id}/reports", json=later)
    assert further.status_code == 202, further.text

    async def breach_recorded() -> Any:
        court = (await enforcement.get(f"{base}/court", headers=bearer(legal_a))).json()
        return court["breaches"] or None

    [breach] = await eventually(breach_recorded, message="no breach on the later report")
    assert breach

    types = await wait_for_timeline(
        clients["reporting"],
        case_id,
        "enforcement.evidence-recorded",
        "enforcement.step-decided",
        "enforcement.action-taken",
        "enforcement.hearing-scheduled",
        "enforcement.order-recorded",
    )
    assert types.count("enforcement.step-decided") == 3
