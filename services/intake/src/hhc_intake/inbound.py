"""Reports other systems of the housing group publish to intake's inbound topic: the same
validation and the same result as the HTTP API (the chassis dead-letters invalid ones)."""

from datetime import UTC, datetime

import asyncpg

from hhc_chassis.consumer import Handler
from hhc_contracts import Envelope
from hhc_contracts.submission import ReportSubmitted
from hhc_intake.cases import open_case
from hhc_intake.domain import TeamAssignment


def report_submitted_handler(teams: TeamAssignment) -> Handler:
    async def on_report_submitted(
        connection: asyncpg.Connection, envelope: Envelope, report: ReportSubmitted
    ) -> None:
        await open_case(
            connection, report, received_at=datetime.now(UTC), teams=teams, cause=envelope
        )

    return on_report_submitted
