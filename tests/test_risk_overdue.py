"""Risk's clocks with the real broker and database: an overdue action is reported
exactly once across a restart and two replicas (issue: risk and safeguarding).

A module of its own: these tests run a system of their own (`system`), and a module's
`shared_system` would be running beside it on the same broker (conftest refuses that)."""

from collections import Counter

import httpx
import pytest

from hhc_devstack.infrastructure import free_port
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer
from hhc_devstack.system import ServiceProcesses

from .conftest import actions_of, events_of_case, report_body

# 24 hours pass in 8.6 seconds.
DEADLINE_SCALE = 0.0001


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
