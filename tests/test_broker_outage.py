"""The broker taken away while reports arrive: intake answers, nothing is lost."""

import httpx
import pytest

from hhc_devstack.pytest_plugin import Broker, eventually
from hhc_devstack.system import ServiceProcesses

from .conftest import wait_for_timeline
from .test_faults import submit_reports


@pytest.fixture
def broker(isolated_broker: Broker) -> Broker:
    """This module's system runs on a broker of its own, which the test takes away."""
    return isolated_broker


async def test_reports_accepted_while_the_broker_is_down_flow_on_when_it_is_back(
    system: ServiceProcesses, clients: dict[str, httpx.AsyncClient], broker: Broker
) -> None:
    broker.make_unavailable()
    try:

        async def intake_sees_broker_down() -> bool:
            return (await clients["intake"].get("/readyz")).json()["checks"]["broker"] is False

        await eventually(intake_sees_broker_down, message="readiness ignored the broker")
        case_ids = await submit_reports(clients["intake"], 20)
    finally:
        broker.make_available()

    for case_id in case_ids:
        await wait_for_timeline(
            clients["reporting"],
            case_id,
            "intake.report-received",
            "risk.risk-assessed",
            "referrals.referral-made",
            "enforcement.case-opened",
            timeout=120,
        )
