"""deploy/k8s/monitoring names the metrics the services serve, as Prometheus sees them."""

import json
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from fastapi import FastAPI

from hhc_chassis import metrics
from hhc_chassis.audit import audit_waiting
from hhc_chassis.telemetry import configure_metrics, instrument_http, metrics_page

MONITORING = Path(__file__).parents[1] / "deploy" / "k8s" / "monitoring"

SERVICE_GAUGES = {
    "hhc_risk_actions_open": {"kind", "clause"},
    "hhc_risk_actions_overdue": {"kind", "clause"},
    "hhc_referrals_by_state": {"partner", "state"},
}
"""Gauges a service registers itself (hhc_chassis.metrics.QueryGauge), with their labels."""

_METRIC = re.compile(r"\b(hhc_[a-z_]+|http_server_[a-z_]+)\b")
_HISTOGRAM_SERIES = re.compile(r"_(bucket|count|sum)$")


async def _served_names() -> set[str]:
    """Every chassis metric, observed once, rendered by the Prometheus exporter."""
    configure_metrics("monitoring-test")
    app = FastAPI()

    @app.get("/monitoring-test/{thing}")
    async def thing(thing: str) -> str:
        return thing

    instrument_http(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/monitoring-test/1")).status_code == 200
    message = {"consumer": "monitoring-test", "topic": "t", "event_type": "other"}
    channel = {"channel": "monitoring-test"}
    metrics.messages_handled.add(1, message)
    metrics.messages_retried.add(1, {**message, "error_class": "OSError"})
    metrics.messages_dead_lettered.add(1, {**message, "reason": "r", "error_class": "E"})
    metrics.untrusted_events.add(1, message)
    metrics.unrecognised_values_seen.add(1, message)
    metrics.handler_duration.record(0.01, {**message, "outcome": "ok"})
    metrics.outbox_published.add(1, channel)
    metrics.outbox_parked.add(1, channel)
    owners = [
        metrics.consumer_lag,
        metrics.outbox_backlog,
        metrics.outbox_oldest_unpublished,
        metrics.outbox_parked_rows,
        metrics.relay_leader,
        audit_waiting._values,  # every service's, read from audit_pending by a task
    ]
    for gauge in owners:
        gauge.set(channel, 0)
    try:
        page = metrics_page().decode()
    finally:
        for gauge in owners:
            gauge.forget(tuple(channel.items()))
    names = set(re.findall(r"^([a-z_]+)[{ ]", page, re.MULTILINE))
    return {_HISTOGRAM_SERIES.sub("", name) for name in names} | names


def _expressions() -> list[str]:
    rules = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    dashboard = json.loads((MONITORING / "hhc-dashboard.json").read_text())
    return [rule["expr"] for group in rules["spec"]["groups"] for rule in group["rules"]] + [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]


async def test_alerts_and_dashboard_use_only_metrics_the_services_serve() -> None:
    served = await _served_names() | set(SERVICE_GAUGES)
    used = {name for expr in _expressions() for name in _METRIC.findall(expr)} - {"hhc_service"}
    assert used, "no metric names found"
    assert used <= served, f"not served by any service: {sorted(used - served)}"
    # The alerts the operators asked for, each on a metric of its own.
    assert {
        "hhc_outbox_oldest_unpublished_age_seconds",
        "hhc_messages_dead_lettered_total",
        "hhc_consumer_lag",
        "hhc_risk_actions_overdue",
    } <= used


def test_every_alert_has_a_severity_and_says_what_to_do() -> None:
    rules: dict[str, Any] = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    alerts = [rule for group in rules["spec"]["groups"] for rule in group["rules"]]
    assert {alert["alert"] for alert in alerts} >= {
        "HhcOutboxNotPublishing",
        "HhcDeadLetters",
        "HhcConsumerLagGrowing",
        "HhcImmediateDangerActionOverdue",
        "HhcServiceNotReady",
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning"}, alert["alert"]
        assert alert["annotations"]["summary"], alert["alert"]
        assert alert["annotations"]["description"], alert["alert"]
