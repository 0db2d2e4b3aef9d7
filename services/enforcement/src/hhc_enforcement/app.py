"""Enforcement service definition and entry point."""

from pydantic import Field

from hhc_chassis.consumer import Selective
from hhc_chassis.db import MigrationSet
from hhc_chassis.service import ServiceDefinition, run
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Topic
from hhc_enforcement import api, court_api, decisions, handlers
from hhc_enforcement.reminders import reminder_scheduler


class EnforcementSettings(ServiceSettings):
    service_name: str = "enforcement"
    http_port: int = 8004
    # Its steps are due in days and weeks (ladder.py): a quarter of a second of delay buys
    # larger batches, and CPU left for the services on the immediate-danger path.
    consumer_fetch_wait_ms: int = Field(default=250, ge=1)
    consumer_fetch_min_bytes: int = Field(default=16 * 1024, ge=1)
    deadline_scale: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Shortens every clock by this factor, for drills and tests only",
    )
    reminder_poll_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait between two looks for due reminders"
    )


def definition(settings: EnforcementSettings | None = None) -> ServiceDefinition:
    settings = settings or EnforcementSettings()
    return ServiceDefinition(
        settings=settings,
        migrations=MigrationSet(name="enforcement", package="hhc_enforcement"),
        title="HHC enforcement",
        description="Action against alleged perpetrators: perpetrators, evidence, the escalation "
        "ladder (policy 2.5, 2.6, 3.2.5, 3.3, 4.2, 4.3).",
        topics=[Topic.INTAKE_CASES, Topic.RISK_ACTIONS],
        handlers={
            "intake.report-received": handlers.on_report_received,
            "risk.action-required": Selective(
                handlers.on_action_required, concerns=handlers.is_for_enforcement
            ),
            "intake.case-erased": handlers.on_case_erased,
        },
        routers=[api.router, decisions.router, court_api.router],
        background=[reminder_scheduler(settings.reminder_poll_seconds)],
    )


def main() -> None:
    run(definition())
