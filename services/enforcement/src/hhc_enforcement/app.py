"""Enforcement service definition and entry point."""

from hhc_chassis.db import MigrationSet
from hhc_chassis.service import ServiceDefinition, run
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Topic
from hhc_enforcement import handlers
from hhc_enforcement.api import router


class EnforcementSettings(ServiceSettings):
    service_name: str = "enforcement"
    http_port: int = 8004


def definition(settings: EnforcementSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or EnforcementSettings(),
        migrations=MigrationSet(name="enforcement", package="hhc_enforcement"),
        title="HHC enforcement",
        description="Action against alleged perpetrators (policy 2.5, 2.6, 3.3, 4.2).",
        topics=[Topic.INTAKE_CASES, Topic.RISK_ACTIONS],
        handlers={
            "intake.report-received": handlers.on_report_received,
            "risk.action-required": handlers.on_action_required,
        },
        routers=[router],
    )


def main() -> None:
    run(definition())
