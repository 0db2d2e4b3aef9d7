"""Migrations on start, or by a step with the schema owner's role before it (deploy/)."""

import re

import pytest

from hhc_chassis.db import MigrationsMissing, check_migrated, migrate
from hhc_devstack.pytest_plugin import Broker

from .support import TEST_MIGRATIONS, settings_for


async def test_a_service_that_may_not_migrate_refuses_a_schema_missing_a_migration(
    database_url: str, broker: Broker
) -> None:
    settings = settings_for(database_url, broker.bootstrap_servers, migrate_on_start=False)
    with pytest.raises(
        MigrationsMissing, match=re.escape("chassis/0001_outbox_inbox_dead_letters.sql")
    ):
        await check_migrated(settings, [TEST_MIGRATIONS])

    # The migration step applies the chassis's migrations but not this build's own set:
    # still refused, naming what is missing.
    await migrate(settings, [])
    with pytest.raises(MigrationsMissing, match=re.escape("chassis-tests/0001_effects.sql")):
        await check_migrated(settings, [TEST_MIGRATIONS])

    await migrate(settings, [TEST_MIGRATIONS])
    await check_migrated(settings, [TEST_MIGRATIONS])
