"""Which services trade a little latency for larger consumer batches."""

from hhc_chassis.settings import ServiceSettings
from hhc_enforcement.app import EnforcementSettings
from hhc_referrals.settings import ReferralsSettings
from hhc_reporting.settings import ReportingSettings
from hhc_risk.settings import RiskSettings


def test_services_off_the_immediate_danger_path_wait_for_larger_batches() -> None:
    default = ServiceSettings(service_name="x", database_url="postgresql://unused")
    assert default.consumer_fetch_min_bytes == 1  # risk, referrals, intake: at once
    for settings in (
        ReportingSettings(database_url="postgresql://unused"),
        EnforcementSettings(database_url="postgresql://unused"),
    ):
        assert settings.consumer_fetch_min_bytes > 1
        assert settings.consumer_fetch_wait_ms > default.consumer_fetch_wait_ms


def test_the_services_on_the_immediate_danger_path_poll_sooner() -> None:
    """Risk and referrals are the path's two consumer hops after intake: on a broker that
    holds an empty fetch for its whole wait (Tansu), each hop waits up to it."""
    default = ServiceSettings(service_name="x", database_url="postgresql://unused")
    for settings in (
        RiskSettings(database_url="postgresql://unused"),
        ReferralsSettings(database_url="postgresql://unused"),
    ):
        assert settings.consumer_fetch_wait_ms < default.consumer_fetch_wait_ms
        assert settings.consumer_fetch_min_bytes == 1


def test_referrals_holds_smaller_batches_as_it_works_every_partition_at_once() -> None:
    """Referrals handles each assigned partition side by side (a sealed part may wait on
    its case key), so a backlog may put a decoded batch in hand on every partition; its
    smaller batches kept its RSS under 120 MB in ``make bench`` (124.5 MB at 500)."""
    default = ServiceSettings(service_name="x", database_url="postgresql://unused")
    referrals = ReferralsSettings(database_url="postgresql://unused")
    assert referrals.consumer_batch_size <= default.consumer_batch_size // 5
