"""Worklists served: the cases not closed that the caller reaches, most urgent first, from
risk's events published to the broker as risk publishes them; nothing of another team's
or of a staff survivor's case (4.3)."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from hhc_chassis.audit import chain_pending
from hhc_contracts.v1 import (
    ActionCompleted,
    ActionOverdue,
    ActionRequired,
    ActionStopped,
    RiskAssessed,
)
from hhc_contracts.vocabulary import (
    ActionKind,
    AppliesTo,
    ConsentState,
    Executor,
    RiskLevel,
)
from hhc_devstack.pytest_plugin import Broker, TokenFactory, eventually

from .conftest import Intake
from .lifecycle_support import Staff, intake_serving, publish_as_risk


@pytest.fixture(scope="module")
async def intake(postgres_server_url: str, broker: Broker) -> AsyncIterator[Intake]:
    async with intake_serving(postgres_server_url, broker, teams_by_area={"WL": "west"}) as served:
        yield served


NOW = datetime.now(UTC)
VISIT, ALERT = ActionKind.VISIT_WITH_RISK_ASSESSMENT, ActionKind.SAFEGUARDING_ALERT


def required(case_id: str, kind: ActionKind, due_in: timedelta) -> ActionRequired:
    return ActionRequired(
        action_id=uuid.uuid4(),
        case_id=uuid.UUID(case_id),
        kind=kind,
        applies_to=AppliesTo.ALL_REPORTEES,
        clause="3.3.1",
        carried_out_by=Executor.LANDLORD,
        due_at=NOW + due_in,
        required_at=NOW,
        immediate_danger=False,
        consent_to_share=ConsentState.NOT_ASKED,
    )


def level(case_id: str, risk: RiskLevel) -> RiskAssessed:
    return RiskAssessed(
        assessment_id=uuid.uuid4(),
        case_id=uuid.UUID(case_id),
        risk_level=risk,
        basis="report",
        assessed_at=NOW,
    )


def shown(listing: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            entry["case_id"],
            entry["risk_level"],
            entry["next_action"] and entry["next_action"]["kind"],
            entry["overdue_actions"],
            entry["overdue_kinds"],
        )
        for entry in listing["cases"]
    ]


async def test_the_worklist_lists_reached_cases_most_urgent_first(
    intake: Intake, broker: Broker, issue_token: TokenFactory
) -> None:
    north = Staff(intake, issue_token, "caseworker", team="north")
    manager = Staff(intake, issue_token, "manager", team="north")
    west = Staff(intake, issue_token, "manager", team="west")
    adviser = Staff(intake, issue_token, "adviser")
    try:
        quiet = await north.open_case()
        later = await north.open_case()
        overdue = await north.open_case()
        done = await north.open_case()
        # Not north's to see: a member of staff's own case (4.3), another team's case,
        # and a closed one.
        staff_survivor = await north.open_case(
            survivor={"is_customer": False, "is_staff": True, "name": "S. Officer"},
            consent={"share_with_partners": True},
        )
        westward = await north.open_case(area="WL1")
        closed = await manager.open_case()
        closing = await manager.client.post(
            f"/v1/cases/{closed}/closure", json={"reason": "resolved"}
        )
        assert closing.status_code == 200, closing.text

        late_alert = required(overdue, ALERT, -timedelta(hours=1))
        finished = required(done, VISIT, timedelta(hours=1))
        stopped = required(done, ALERT, timedelta(hours=3))
        await publish_as_risk(
            broker,
            level(later, RiskLevel.MEDIUM),
            level(overdue, RiskLevel.HIGH),
            required(later, VISIT, timedelta(days=2)),
            required(overdue, VISIT, timedelta(days=1)),
            late_alert,
            ActionOverdue(
                action_id=late_alert.action_id,
                case_id=late_alert.case_id,
                kind=ALERT,
                due_at=late_alert.due_at,
                detected_at=NOW,
            ),
            finished,
            ActionCompleted(
                action_id=finished.action_id,
                case_id=finished.case_id,
                kind=VISIT,
                completed_at=NOW,
                outcome="visited",
                first_response=True,
            ),
            stopped,
            ActionStopped(
                action_id=stopped.action_id,
                case_id=stopped.case_id,
                kind=ALERT,
                reason="case-closed",
                stopped_at=NOW,
            ),
            required(staff_survivor, VISIT, -timedelta(days=1)),
            required(westward, VISIT, timedelta(minutes=5)),
        )
        expected = [
            (overdue, "high", ALERT.value, 1, [ALERT.value]),
            (later, "medium", VISIT.value, 0, []),
            (quiet, None, None, 0, []),
            (done, None, None, 0, []),
        ]

        async def listed() -> dict[str, Any] | None:
            response = await north.client.get("/v1/worklists")
            assert response.status_code == 200, response.text
            listing: dict[str, Any] = response.json()
            return listing if shown(listing) == expected else None

        listing = await eventually(listed, message="the worklist never showed risk's events")
        first = listing["cases"][0]
        assert (first["reference"], first["status"], first["team"], first["days_open"]) == (
            (await north.case(overdue))["reference"],
            "open",
            "north",
            0,
        )
        assert listing["next_cursor"] is None

        # Two at a time, in the same order.
        page = (await north.client.get("/v1/worklists", params={"limit": 2})).json()
        assert [entry["case_id"] for entry in page["cases"]] == [overdue, later]
        rest = await north.client.get(
            "/v1/worklists", params={"limit": 2, "cursor": page["next_cursor"]}
        )
        assert [entry["case_id"] for entry in rest.json()["cases"]] == [quiet, done]
        assert rest.json()["next_cursor"] is None

        # One owner's cases; another team's manager sees only theirs.
        assigned = await manager.client.put(
            f"/v1/cases/{later}/owner", json={"owner": north.subject}
        )
        assert assigned.status_code == 200, assigned.text
        mine = await north.client.get("/v1/worklists", params={"owner": north.subject})
        assert [(e["case_id"], e["owner"]) for e in mine.json()["cases"]] == [
            (later, north.subject)
        ]
        # What nobody owns yet, for the manager to give out.
        unowned = await manager.client.get("/v1/worklists", params={"unowned": "true"})
        unowned_ids = [entry["case_id"] for entry in unowned.json()["cases"]]
        assert later not in unowned_ids
        assert unowned_ids
        assert all(entry["owner"] is None for entry in unowned.json()["cases"])
        theirs = await west.client.get("/v1/worklists")
        assert [entry["case_id"] for entry in theirs.json()["cases"]] == [westward]
        # Asking for another team's list gives nothing of it.
        asked = await north.client.get("/v1/worklists", params={"team": "west"})
        assert asked.json()["cases"] == []

        assert (await adviser.client.get("/v1/worklists")).status_code == 403
        assert await worklist_looks(intake.database_url, north.subject) >= 1
    finally:
        for staff in (north, manager, west, adviser):
            await staff.close()


async def worklist_looks(database_url: str, subject: str) -> int:
    """Looks at worklists in the chain, once every look recorded so far is in it."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "intake"})
    try:
        while await chain_pending(connection, "intake"):
            pass
        return int(
            await connection.fetchval(
                """SELECT count(*) FROM intake.audit_log
                   WHERE subject = $1 AND operation = 'GET /v1/worklists'
                     AND outcome = 'granted'""",
                subject,
            )
        )
    finally:
        await connection.close()
