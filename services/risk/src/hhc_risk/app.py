"""Risk service definition and entry point."""

from pydantic import Field

from hhc_chassis.db import MigrationSet
from hhc_chassis.service import ServiceDefinition, run
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Topic
from hhc_risk import handlers
from hhc_risk.api import router
from hhc_risk.scheduler import overdue_scheduler


class RiskSettings(ServiceSettings):
    service_name: str = "risk"
    http_port: int = 8002
    overdue_poll_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait between two looks for passed deadlines"
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
        handlers={
            "intake.report-received": handlers.on_report_received,
            "referrals.referral-made": handlers.on_referral_made,
            "referrals.referral-withheld": handlers.on_referral_withheld,
            "enforcement.action-taken": handlers.on_enforcement_action_taken,
        },
        routers=[router],
        background=[overdue_scheduler(settings.overdue_poll_seconds)],
    )


def main() -> None:
    run(definition())
