"""Risk service definition and entry point."""

from hhc_chassis.db import MigrationSet
from hhc_chassis.metrics import QueryGauge
from hhc_chassis.service import ServiceDefinition, run
from hhc_contracts import Topic
from hhc_risk.api import router
from hhc_risk.escalations import escalation_worker
from hhc_risk.handlers import handlers
from hhc_risk.scheduler import overdue_scheduler
from hhc_risk.settings import RiskSettings

# The 3.3.1 clocks, for the alert on an overdue immediate-danger action (deploy/k8s/monitoring).
OPEN_ACTIONS = QueryGauge(
    "hhc.risk.actions.open",
    "Open actions by kind and policy clause",
    "SELECT kind, clause, count(*) AS value FROM actions WHERE state = 'open' "
    "GROUP BY kind, clause",
    labels=("kind", "clause"),
)
OVERDUE_ACTIONS = QueryGauge(
    "hhc.risk.actions.overdue",
    "Open actions past their deadline, by kind and clause (3.3.1: immediate danger)",
    "SELECT kind, clause, count(*) AS value FROM actions WHERE state = 'open' "
    "AND due_at <= now() GROUP BY kind, clause",
    labels=("kind", "clause"),
)


def definition(settings: RiskSettings | None = None) -> ServiceDefinition:
    settings = settings or RiskSettings()
    return ServiceDefinition(
        settings=settings,
        migrations=MigrationSet(name="risk", package="hhc_risk"),
        title="HHC risk and safeguarding",
        description="Risk assessments, the immediate-danger playbook and action clocks "
        "(policy 1.6.2, 3.3, 3.4).",
        topics=[Topic.INTAKE_CASES, Topic.REFERRALS, Topic.ENFORCEMENT_CASES],
        handlers=handlers(settings.deadline_scale),
        routers=[router],
        background=[
            overdue_scheduler(settings.overdue_poll_seconds),
            escalation_worker(settings),
            OPEN_ACTIONS.refresh,
            OVERDUE_ACTIONS.refresh,
        ],
    )


def main() -> None:
    run(definition())
