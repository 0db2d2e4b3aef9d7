"""Reporting's settings (environment variables, upper case)."""

from datetime import date

from pydantic import Field

from hhc_chassis.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    http_port: int = 8005
    # Monthly figures can wait half a second for an event: larger batches, less CPU taken
    # from the services on the immediate-danger path.
    consumer_fetch_wait_ms: int = Field(default=500, ge=1)
    consumer_fetch_min_bytes: int = Field(default=64 * 1024, ge=1)
    homes_managed: int | None = Field(
        default=None,
        ge=1,
        description="Homes the landlord owns, for the tenant satisfaction measures' rates "
        "per 1,000 homes; unset: those rates are null",
    )
    bank_holidays: list[date] = Field(
        default_factory=list,
        description='Dates that are not working days, as JSON: ["2026-12-25", "2027-01-01"]',
    )
    report_timezone: str = Field(
        default="Europe/London", description="Whose calendar says which day it is"
    )
    monthly_report_poll_seconds: float = Field(
        default=3600.0, gt=0, description="Longest the monthly schedule sleeps between checks"
    )
