"""A report dead-lettered by risk, replayed by an operator once the cause is fixed, and the
case then in risk (issue 13, item 5): the five services as processes, the operator's tool
as the command they would run (`python -m hhc_chassis.dlq_cli`)."""

import json
import os
import subprocess
import sys
from typing import Any

import asyncpg
import httpx
import pytest

from hhc_devstack.pytest_plugin import eventually
from hhc_devstack.system import ServiceProcesses

from .conftest import report_body

pytestmark = pytest.mark.system


def dlq(system: ServiceProcesses, *arguments: str) -> tuple[int, Any]:
    """The operator's command against the system's database and broker."""
    done = subprocess.run(
        [sys.executable, "-m", "hhc_chassis.dlq_cli", "risk", *arguments],
        env={
            **os.environ,
            "DATABASE_URL": system.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": system.bootstrap_servers,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else done.stderr


async def test_a_dead_lettered_report_is_replayed_after_its_cause_is_fixed(
    system: ServiceProcesses, clients: dict[str, httpx.AsyncClient]
) -> None:
    # A faulty release of risk: its cases table refuses every new case.
    database = await asyncpg.connect(system.database_url)
    try:
        await database.execute(
            "ALTER TABLE risk.cases ADD CONSTRAINT faulty_release CHECK (false) NOT VALID"
        )
        taken = await clients["intake"].post("/v1/reports", json=report_body())
        assert taken.status_code == 202, taken.text
        case_id = taken.json()["case_id"]

        async def dead_lettered() -> list[asyncpg.Record]:
            return await database.fetch(
                "SELECT id, reason_class FROM risk.dead_letters WHERE event_type = $1",
                "intake.report-received",
            )

        [letter] = await eventually(dead_lettered, message="risk did not dead-letter the report")
        assert letter["reason_class"] == "handler-failed"
        unknown = await clients["risk"].get(f"/v1/cases/{case_id}/actions")
        assert unknown.status_code == 404

        shown_code, shown = dlq(system, "show", str(letter["id"]))
        assert shown_code == 0, shown
        assert report_body()["survivor"]["phone"] not in json.dumps(shown)

        # The cause is fixed; the operator replays what it dead-lettered.
        await database.execute("ALTER TABLE risk.cases DROP CONSTRAINT faulty_release")
    finally:
        await database.close()
    replayed_code, replayed = dlq(
        system, "replay", "--reason", "handler-failed", "--operator", "on-call-1"
    )
    assert replayed_code == 0, replayed
    assert [r["outcome"] for r in replayed["replays"]] == ["replayed"]

    async def known_to_risk() -> list[Any] | None:
        actions = await clients["risk"].get(f"/v1/cases/{case_id}/actions")
        return actions.json() if actions.status_code == 200 and actions.json() else None

    actions = await eventually(known_to_risk, message="the replayed report did not reach risk")
    assert any(a["kind"] == "visit_with_risk_assessment" for a in actions)
    again_code, again = dlq(system, "replay", "--id", str(letter["id"]), "--operator", "on-call-2")
    assert again_code == 1, again  # replayed once already: refused without --again
