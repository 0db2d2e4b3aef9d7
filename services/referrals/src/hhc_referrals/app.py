"""Referrals service definition and entry point."""

from hhc_chassis.db import MigrationSet
from hhc_chassis.service import ServiceDefinition, run
from hhc_chassis.settings import ServiceSettings
from hhc_contracts import Topic
from hhc_referrals.api import router
from hhc_referrals.handlers import on_action_required, on_consent_changed


class ReferralsSettings(ServiceSettings):
    service_name: str = "referrals"
    http_port: int = 8003


def definition(settings: ReferralsSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or ReferralsSettings(),
        migrations=MigrationSet(name="referrals", package="hhc_referrals"),
        title="HHC referrals",
        description="Partner referrals behind the consent gate (policy 3.2.6, 3.3, 3.5, 3.6).",
        topics=[Topic.RISK_ACTIONS, Topic.INTAKE_CASES],
        handlers={
            "risk.action-required": on_action_required,
            "intake.consent-changed": on_consent_changed,
        },
        routers=[router],
    )


def main() -> None:
    run(definition())
