"""Reports other systems of the housing group publish to intake's inbound topic: the same
validation and the same result as the HTTP API (the chassis dead-letters invalid ones)."""

from datetime import UTC, datetime

import asyncpg

from hhc_contracts import Envelope
from hhc_contracts.submission import ReportSubmitted
from hhc_intake.cases import open_case


async def on_report_submitted(
    connection: asyncpg.Connection, envelope: Envelope, report: ReportSubmitted
) -> None:
    await open_case(connection, report, received_at=datetime.now(UTC), cause=envelope)
