"""Referrals service definition and entry point."""

from hhc_chassis.db import MigrationSet
from hhc_chassis.metrics import QueryGauge
from hhc_chassis.service import ServiceDefinition, run
from hhc_contracts import Topic
from hhc_referrals.api import router
from hhc_referrals.catalogue import load_catalogue
from hhc_referrals.handlers import handlers
from hhc_referrals.meetings import router as meetings_router
from hhc_referrals.partners_api import router as partners_router
from hhc_referrals.rehousing_api import router as rehousing_router
from hhc_referrals.settings import ReferralsSettings
from hhc_referrals.worker import delivery_worker

REFERRALS_BY_STATE = QueryGauge(
    "hhc.referrals.by_state",
    "Referrals by partner and state",
    "SELECT partner, status AS state, count(*) AS value FROM referrals GROUP BY partner, status",
    labels=("partner", "state"),
)


def definition(settings: ReferralsSettings | None = None) -> ServiceDefinition:
    settings = settings or ReferralsSettings()
    # A catalogue that does not load stops the service here, before it takes any work.
    catalogue = load_catalogue(settings.partner_catalogue_file)
    return ServiceDefinition(
        settings=settings,
        migrations=MigrationSet(name="referrals", package="hhc_referrals"),
        title="HHC referrals",
        description="Partner referrals: consent, sharing rules, delivery and confirmation "
        "(policy 3.2.6, 3.3, 3.5, 3.6); rehousing evidence and exemptions (3.3.2, 3.4).",
        topics=[Topic.RISK_ACTIONS, Topic.INTAKE_CASES, Topic.RISK_ASSESSMENTS],
        handlers=handlers(
            catalogue,
            seek_consent_after=settings.seek_consent_after,
            deadline_scale=settings.deadline_scale,
        ),
        # Sharing with partners what consent allows (3.5.2) needs the report's personal
        # part: sealed on the wire, opened before the handlers run (empty once erased).
        opens_personal_data=True,
        routers=[router, partners_router, rehousing_router, meetings_router],
        background=[delivery_worker(catalogue, settings), REFERRALS_BY_STATE.refresh],
    )


def main() -> None:
    run(definition())
