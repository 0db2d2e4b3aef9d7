"""Risk service definition and entry point."""

from hhc_chassis.db import MigrationSet
from hhc_chassis.service import ServiceDefinition, run
from hhc_contracts import Topic
from hhc_risk.api import router
from hhc_risk.escalations import escalation_worker
from hhc_risk.handlers import handlers
from hhc_risk.scheduler import overdue_scheduler
from hhc_risk.settings import RiskSettings


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
        ],
    )


def main() -> None:
    run(definition())
