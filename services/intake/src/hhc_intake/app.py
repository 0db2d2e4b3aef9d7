"""Intake service definition and entry point."""

from hhc_chassis.db import MigrationSet
from hhc_chassis.service import ServiceDefinition, run
from hhc_contracts import Topic
from hhc_intake.api import router
from hhc_intake.case_keys import database_case_keys, every_stored_key_opens
from hhc_intake.court_holds import COURT_HANDLERS
from hhc_intake.disposal_api import router as disposal_api
from hhc_intake.erasure import retention_schedule
from hhc_intake.inbound import report_submitted_handler
from hhc_intake.lifecycle_api import router as lifecycle_api
from hhc_intake.public import PublicGuard, guarded, status_api
from hhc_intake.risk_projection import RISK_HANDLERS
from hhc_intake.settings import IntakeSettings
from hhc_intake.survey_api import router as survey_api
from hhc_intake.survey_offers import survey_mailer, survey_offer_handler
from hhc_intake.survey_web import router as survey_web
from hhc_intake.web import router as web_router
from hhc_intake.worklists import router as worklists_api


def definition(settings: IntakeSettings | None = None) -> ServiceDefinition:
    settings = settings or IntakeSettings()
    return ServiceDefinition(
        settings=settings,
        migrations=MigrationSet(name="intake", package="hhc_intake"),
        title="HHC intake",
        description="Takes reports of harassment and hate incidents and opens cases "
        "(policy 1.6, 3.1, 3.2, 3.5, 4.3); keeps the case keys and erases personal data "
        "on request and by the retention schedule (3.5.2).",
        # Risk's levels and actions: for closing a high-risk case and for the worklists.
        # Enforcement's hearings: a case in court is held from disposal (3.5.2).
        topics=[
            Topic.INTAKE_SUBMISSIONS,
            Topic.INTAKE_CASES,
            Topic.RISK_ASSESSMENTS,
            Topic.RISK_ACTIONS,
            Topic.ENFORCEMENT_CASES,
        ],
        handlers={
            "intake.report-submitted": report_submitted_handler(settings.team_assignment),
            # 5.1: a closure offers the survivor the satisfaction survey.
            "intake.case-status-changed": survey_offer_handler(settings),
            **RISK_HANDLERS,
            **COURT_HANDLERS,
        },
        routers=[router, survey_api, lifecycle_api, worklists_api, disposal_api],
        # The public pages, form and status lookup: on their own listener, never beside
        # the staff API or its documentation.
        public_routers=[
            guarded(PublicGuard.from_settings(settings), web_router, status_api, survey_web)
        ],
        background=[survey_mailer(settings), retention_schedule(settings)],
        # Intake keeps every case's key (3.5.2): its relay seals with them, and it hands
        # them to the services that need them. Refuses to start without CASE_KEY_KEK.
        case_keys=database_case_keys(settings),
        start_checks=[every_stored_key_opens(settings)],
        # Reports are accepted into the outbox while Kafka is away: intake stays in
        # rotation, and /readyz reports the broker's state in its body.
        ready_without_broker=True,
        # It writes case_access where it opens, adds to and moves cases.
        writes_case_access=True,
    )


def main() -> None:
    run(definition())
