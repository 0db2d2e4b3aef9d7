"""Every service serves /metrics for Prometheus, and the figures move when a report flows
through the system (issue 13, item 3): the five services as processes."""

import re

import httpx

from hhc_devstack.pytest_plugin import eventually
from hhc_devstack.system import SERVICE_PORTS

from .conftest import report_body, wait_for_timeline


def _total(page: str, metric: str, **labels: str) -> float:
    """The sum of ``metric``'s series whose labels include ``labels``."""
    total = 0.0
    for line in page.splitlines():
        match = re.fullmatch(rf"{metric}\{{(.*)\}} ([0-9.e+-]+)", line)
        if match and all(f'{name}="{value}"' in match.group(1) for name, value in labels.items()):
            total += float(match.group(2))
    return total


async def test_metrics_move_when_a_report_flows(
    shared_clients: dict[str, httpx.AsyncClient],
) -> None:
    async def scrape() -> dict[str, str]:
        pages = {}
        for service, client in shared_clients.items():
            response = await client.get("/metrics")
            assert response.status_code == 200, f"{service}: {response.status_code}"
            pages[service] = response.text
        return pages

    before = await scrape()
    taken = await shared_clients["intake"].post("/v1/reports", json=report_body())
    assert taken.status_code == 202, taken.text
    await wait_for_timeline(
        shared_clients["reporting"], taken.json()["case_id"], "risk.risk-assessed"
    )

    def moved(pages: dict[str, str]) -> dict[str, str] | None:
        handled = {
            service: _total(
                pages[service], "hhc_messages_handled_total", event_type="intake.report-received"
            )
            - _total(
                before[service], "hhc_messages_handled_total", event_type="intake.report-received"
            )
            for service in ("risk", "referrals", "enforcement", "reporting")
        }
        published = _total(pages["intake"], "hhc_outbox_published_total") - _total(
            before["intake"], "hhc_outbox_published_total"
        )
        requests = _total(
            pages["intake"],
            "http_server_duration_milliseconds_count",
            http_target="/v1/reports",
            http_status_code="202",
        ) - _total(
            before["intake"],
            "http_server_duration_milliseconds_count",
            http_target="/v1/reports",
            http_status_code="202",
        )
        # The gauges are measured every METRICS_REFRESH_SECONDS (the first time once the
        # consumer has its partitions): wait for a measure, not only for the counters.
        measured = all(
            "hhc_consumer_lag" in page and "hhc_outbox_backlog" in page for page in pages.values()
        )
        moved_enough = min(handled.values()) >= 1 and published >= 1 and requests >= 1
        return pages if moved_enough and measured else None

    async def after() -> dict[str, str] | None:
        return moved(await scrape())

    pages = await eventually(after, message="the metrics did not move with the report")
    assert set(pages) == set(SERVICE_PORTS)
    for service, page in pages.items():
        assert "hhc_outbox_backlog" in page, service
        assert "hhc_consumer_lag" in page, service
