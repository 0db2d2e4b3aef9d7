"""Reporting service definition and entry point."""

from hhc_chassis.db import MigrationSet
from hhc_chassis.service import ServiceDefinition, run
from hhc_reporting.api import router
from hhc_reporting.handlers import HANDLERS, TOPICS
from hhc_reporting.publish import monthly_schedule
from hhc_reporting.settings import ReportingSettings

MIGRATIONS = MigrationSet(name="reporting", package="hhc_reporting")


def definition(settings: ReportingSettings | None = None) -> ServiceDefinition:
    settings = settings or ReportingSettings()
    return ServiceDefinition(
        settings=settings,
        migrations=MIGRATIONS,
        title="HHC reporting",
        description="Case timelines and the monthly report; no personal data (policy 5).",
        topics=TOPICS,
        handlers=HANDLERS,
        routers=[router],
        background=[monthly_schedule(settings.monthly_report_poll_seconds)],
    )


def main() -> None:
    run(definition())


__all__ = ["ReportingSettings", "definition", "main"]
