"""Reporting service definition and entry point."""

from hhc_chassis.db import MigrationSet
from hhc_chassis.service import ServiceDefinition, run
from hhc_chassis.settings import ServiceSettings
from hhc_reporting.api import router
from hhc_reporting.handlers import HANDLERS, TOPICS


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    http_port: int = 8005


def definition(settings: ReportingSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or ReportingSettings(),
        migrations=MigrationSet(name="reporting", package="hhc_reporting"),
        title="HHC reporting",
        description="Case timelines and monthly performance figures; no personal data (policy 5).",
        topics=TOPICS,
        handlers=HANDLERS,
        routers=[router],
    )


def main() -> None:
    run(definition())
