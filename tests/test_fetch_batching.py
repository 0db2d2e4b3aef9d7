"""Which services trade a little latency for larger consumer batches."""

from hhc_chassis.settings import ServiceSettings
from hhc_enforcement.app import EnforcementSettings
from hhc_reporting.settings import ReportingSettings


def test_services_off_the_immediate_danger_path_wait_for_larger_batches() -> None:
    default = ServiceSettings(service_name="x", database_url="postgresql://unused")
    assert default.consumer_fetch_min_bytes == 1  # risk, referrals, intake: at once
    for settings in (
        ReportingSettings(database_url="postgresql://unused"),
        EnforcementSettings(database_url="postgresql://unused"),
    ):
        assert settings.consumer_fetch_min_bytes > 1
        assert settings.consumer_fetch_wait_ms > default.consumer_fetch_wait_ms
