"""Risk with the real broker and database: the playbook's actions and due times, clocks
that report an overdue action exactly once across a restart and two replicas, and the
first response (issue: risk and safeguarding)."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hhc_contracts import Envelope, Topic
from hhc_devstack.infrastructure import free_port
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually, kafka_consumer
from hhc_devstack.system import ServiceProcesses

from .conftest import STAFF_SUBJECT, report_body, wait_for_timeline

# 24 hours pass in 8.6 seconds.
DEADLINE_SCALE = 0.0001

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


async def actions_of(risk: httpx.AsyncClient, case_id: str, count: int = 1) -> list[Any]:
    async def listed() -> list[Any] | None:
        response = await risk.get(f"/v1/cases/{case_id}/actions")
        # 404 until risk has heard of the case from intake.
        actions: list[Any] = response.json() if response.status_code == 200 else []
        return actions if len(actions) >= count else None

    return await eventually(listed, message="risk planned no actions")


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


async def events_of_case(
    broker: Broker, case_id: str, event_type: str, until: Any
) -> list[Envelope]:
    """The case's events of one type, read from the start of the topic at least up to
    where it ended when reading began, and on until ``until(found)`` holds."""
    found: list[Envelope] = []
    ends: dict[Any, int] = {}
    async with kafka_consumer(broker.bootstrap_servers, Topic.RISK_ACTIONS.value) as consumer:

        async def collect() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value)
                    if str(envelope.case_id) == case_id and envelope.event_type == event_type:
                        found.append(envelope)
            assignment = consumer.assignment()
            if not assignment:
                return False
            if not ends:
                ends.update(await consumer.end_offsets(list(assignment)))
            for partition, end in ends.items():
                if await consumer.position(partition) < end:
                    return False
            return bool(until(found))

        await eventually(collect, timeout=60, message=f"no {event_type} for the case")
    return found


class TestClocks:
    @pytest.fixture
    def system_env(self) -> dict[str, str]:
        return {"DEADLINE_SCALE": str(DEADLINE_SCALE)}

    async def test_overdue_reported_once_across_a_restart_and_two_replicas(
        self,
        system: ServiceProcesses,
        clients: dict[str, httpx.AsyncClient],
        broker: Broker,
        issue_token: TokenFactory,
    ) -> None:
        system.start("risk", instance="risk-2", port=free_port())
        system.wait_ready(["risk-2"])
        first = (await clients["intake"].post("/v1/reports", json=report_body())).json()
        actions = await actions_of(clients["risk"], first["case_id"], count=5)
        # One replica dies before any deadline passes; the other carries on.
        system.kill("risk")
        visit = next(a for a in actions if a["kind"] == "visit_with_risk_assessment")

        overdue = await events_of_case(
            broker,
            first["case_id"],
            "risk.action-overdue",
            until=lambda found: visit["action_id"] in {e.payload["action_id"] for e in found},
        )
        system.start("risk")
        system.wait_ready(["risk"])
        # Both replicas now run; a second case's visit falling overdue shows that both
        # have looked at the clocks again since.
        second = (await clients["intake"].post("/v1/reports", json=report_body())).json()
        second_actions = await actions_of(clients["risk"], second["case_id"], count=5)
        second_visit = next(a for a in second_actions if a["kind"] == "visit_with_risk_assessment")
        await events_of_case(
            broker,
            second["case_id"],
            "risk.action-overdue",
            until=lambda found: (
                second_visit["action_id"] in {e.payload["action_id"] for e in found}
            ),
        )

        overdue = await events_of_case(
            broker, first["case_id"], "risk.action-overdue", until=lambda found: True
        )
        # At least once on the topic (a relay killed between send and mark sends again,
        # with the same event id, which consumers' inboxes drop); once as an event.
        distinct = {e.event_id: e for e in overdue}.values()
        per_action = Counter(e.payload["action_id"] for e in distinct)
        assert per_action[visit["action_id"]] == 1
        assert set(per_action.values()) == {1}
        # The case's manager hears of every overdue action; of the immediate-danger
        # playbook's (3.3.1), the on-call safeguarding lead too.
        assert all("manager" in e.payload["escalated_to"].split(",") for e in overdue)
        visit_overdue = next(e for e in overdue if e.payload["action_id"] == visit["action_id"])
        assert visit_overdue.payload["escalated_to"] == "manager,on_call_safeguarding_lead"
        listed = {
            a["action_id"]: a
            for a in (await clients["risk"].get(f"/v1/cases/{first['case_id']}/actions")).json()
        }
        assert listed[visit["action_id"]]["overdue"] is True

        # A manager sees the escalations of their own team's cases, and no other team's.
        async def overdue_for(role: str, team: str) -> set[str]:
            response = await clients["risk"].get(
                "/v1/actions/overdue", headers=bearer(issue_token(role, team=team))
            )
            assert response.status_code == 200, response.text
            return {a["action_id"] for a in response.json()}

        assert visit["action_id"] in await overdue_for("manager", "north")
        assert visit["action_id"] not in await overdue_for("manager", "south")
