"""Risk with the real broker and database: the playbook's actions and due times, and the
first response (issue: risk and safeguarding). The overdue clocks, which need a system of
their own, are in test_risk_overdue.py."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hhc_devstack.pytest_plugin import Broker

from .conftest import STAFF_SUBJECT, actions_of, events_of_case, report_body, wait_for_timeline

PLAYBOOK_3_3_1 = {
    "inform_emergency_services": "all_reportees",
    "visit_with_risk_assessment": "customers_only",
    "safeguarding_alert": "all_reportees",
    "housing_options_referral": "customers_only",
    "female_only_staff": "customers_only",
    "target_hardening": "customers_only",
    "ex_parte_injunction": "customers_only",
    "fire_authority_referral": "all_reportees",
}


def every_condition(is_customer: bool) -> dict[str, Any]:
    """A report for which every action of 3.3.1 is relevant."""
    body = report_body()
    body["survivor"].update(
        is_customer=is_customer,
        vulnerable_adult=True,
        children_in_household=True,
        female_staff_requested=True,
    )
    body["incident"]["categories"] = ["arson", "threats_of_violence"]
    return body


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


class TestPlaybook:
    @pytest.fixture
    def clients(self, shared_clients: dict[str, httpx.AsyncClient]) -> dict[str, httpx.AsyncClient]:
        """These tests only make reports and read what follows: one system serves them all."""
        return shared_clients

    async def test_customer_in_immediate_danger_gets_all_eight_actions_with_due_times(
        self, clients: dict[str, httpx.AsyncClient]
    ) -> None:
        response = await clients["intake"].post("/v1/reports", json=every_condition(True))
        case_id = response.json()["case_id"]
        received_at = parse(
            (await clients["intake"].get(f"/v1/cases/{case_id}")).json()["reports"][0][
                "received_at"
            ]
        )

        actions = await actions_of(clients["risk"], case_id, count=len(PLAYBOOK_3_3_1) + 1)
        playbook = [a for a in actions if a["kind"] in PLAYBOOK_3_3_1]
        assert Counter(a["kind"] for a in playbook) == Counter(
            {**{kind: 1 for kind in PLAYBOOK_3_3_1}, "safeguarding_alert": 2}
        )
        for action in playbook:
            assert action["applies_to"] == PLAYBOOK_3_3_1[action["kind"]]
            due_in = parse(action["due_at"]) - received_at
            if action["kind"] in {
                "visit_with_risk_assessment",
                "housing_options_referral",
                "target_hardening",
                "ex_parte_injunction",
            }:
                assert due_in == timedelta(hours=24), action["kind"]
            else:
                assert due_in == timedelta(minutes=15), action["kind"]

    async def test_non_customer_gets_only_the_all_reportee_actions(
        self, clients: dict[str, httpx.AsyncClient]
    ) -> None:
        response = await clients["intake"].post("/v1/reports", json=every_condition(False))
        case_id = response.json()["case_id"]
        await wait_for_timeline(clients["reporting"], case_id, "risk.action-required")

        actions = await actions_of(clients["risk"], case_id, count=4)
        playbook = Counter(a["kind"] for a in actions if a["kind"] in PLAYBOOK_3_3_1)
        assert playbook == Counter(
            {"inform_emergency_services": 1, "safeguarding_alert": 2, "fire_authority_referral": 1}
        )
        assert all(a["applies_to"] == "all_reportees" for a in actions)

    async def test_staff_assessment_at_the_visit_sets_level_and_review(
        self, clients: dict[str, httpx.AsyncClient]
    ) -> None:
        body = report_body(immediate_danger=False)
        case_id = (await clients["intake"].post("/v1/reports", json=body)).json()["case_id"]
        await wait_for_timeline(clients["reporting"], case_id, "risk.risk-assessed")

        recorded = await clients["risk"].post(
            f"/v1/cases/{case_id}/assessments",
            json={
                "answers": {
                    "repeat_victimisation": True,
                    "fear_for_safety": True,
                    "impact_on_health": True,
                }
            },
        )
        assert recorded.status_code == 201
        assessment = recorded.json()
        assert (assessment["risk_level"], assessment["score"]) == ("medium", 9)
        review_in = parse(assessment["review_due_at"]) - parse(assessment["assessed_at"])
        assert review_in == timedelta(days=28)
        kinds = [
            a["kind"]
            for a in (await clients["risk"].get(f"/v1/cases/{case_id}/actions")).json()
            if a["state"] == "open"
        ]
        assert kinds.count("risk_review") == 1

        unknown = await clients["risk"].post(
            f"/v1/cases/{case_id}/assessments", json={"answers": {"lives_alone": True}}
        )
        assert unknown.status_code == 422
        assert "lives_alone" in unknown.text

    async def test_completing_the_visit_records_the_first_response(
        self, clients: dict[str, httpx.AsyncClient], broker: Broker
    ) -> None:
        # Consent refused: no partner's referral can be made, and so be the first response,
        # before staff complete the visit.
        body = report_body(consent={"share_with_partners": False})
        case_id = (await clients["intake"].post("/v1/reports", json=body)).json()["case_id"]
        actions = {a["kind"]: a for a in await actions_of(clients["risk"], case_id, count=5)}
        visit = actions["visit_with_risk_assessment"]
        for completed_at, message in [
            (parse(visit["required_at"]) - timedelta(minutes=1), "before the action"),
            (datetime.now(UTC) + timedelta(hours=1), "in the future"),
        ]:
            refused = await clients["risk"].post(
                f"/v1/actions/{visit['action_id']}/complete",
                json={"outcome": "done", "completed_at": completed_at.isoformat()},
            )
            assert refused.status_code == 422, refused.text
            [error] = refused.json()["errors"]
            assert error["field"] == "completed_at"
            assert message in error["message"]
        for kind in ("visit_with_risk_assessment", "target_hardening"):
            done = await clients["risk"].post(
                f"/v1/actions/{actions[kind]['action_id']}/complete",
                json={"outcome": "done", "notes": "Spoke to the survivor at home."},
            )
            assert done.status_code == 200
            # Who completed it is whoever is signed in.
            assert done.json()["completed_by"] == STAFF_SUBJECT
        again = await clients["risk"].post(
            f"/v1/actions/{actions['target_hardening']['action_id']}/complete",
            json={"outcome": "done"},
        )
        assert again.status_code == 409

        completions = await events_of_case(
            broker,
            case_id,
            "risk.action-completed",
            until=lambda found: (
                {e.payload["kind"] for e in found}
                >= {"visit_with_risk_assessment", "target_hardening"}
            ),
        )
        first = {e.payload["kind"]: e.payload["first_response"] for e in completions}
        assert first["visit_with_risk_assessment"] is True
        assert first["target_hardening"] is False
