"""Risk's requests linked to the enforcement case that answers them, against a real
PostgreSQL: the case's own open case, or one its alleged perpetrator's case is linked to,
found by the case's id through indexes however many enforcement cases there are."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from hhc_chassis.db import MigrationSet, connect, migrate
from hhc_contracts.vocabulary import ActionKind, EnforcementRoute
from hhc_enforcement.app import EnforcementSettings
from hhc_enforcement.rules import routes_answering
from hhc_enforcement.store import STORE_REQUEST, store_request

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TENANCY = EnforcementRoute.TENANCY_ENFORCEMENT
POLICE_AND_CIVIL = EnforcementRoute.POLICE_AND_CIVIL


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    settings = EnforcementSettings(database_url=database_url, kafka_bootstrap_servers="unused:9092")
    await migrate(settings, [MigrationSet(name="enforcement", package="hhc_enforcement")])
    connection = await connect(settings)
    try:
        yield connection
    finally:
        await connection.close()


async def open_case(
    connection: asyncpg.Connection,
    case_id: uuid.UUID,
    route: EnforcementRoute,
    *,
    opened_at: datetime = NOW,
    closed: bool = False,
) -> uuid.UUID:
    enforcement_case_id = uuid.uuid4()
    await connection.execute(
        """INSERT INTO enforcement_cases (enforcement_case_id, case_id, route,
                                          perpetrator_kind, opened_at, closed_at)
           VALUES ($1, $2, $3, 'customer', $4, $5)""",
        enforcement_case_id,
        case_id,
        route.value,
        opened_at,
        NOW if closed else None,
    )
    return enforcement_case_id


async def link(
    connection: asyncpg.Connection,
    case_id: uuid.UUID,
    enforcement_case_id: uuid.UUID,
    *,
    left: bool = False,
) -> None:
    perpetrator_id = uuid.uuid4()
    await connection.execute(
        """INSERT INTO perpetrators (perpetrator_id, kind, known_since, recorded_by)
           VALUES ($1, 'customer', $2, 'legal-1')""",
        perpetrator_id,
        NOW,
    )
    await connection.execute(
        """INSERT INTO perpetrator_cases (link_id, perpetrator_id, case_id,
                                          enforcement_case_id, linked_by, linked_at, left_at)
           VALUES ($1, $2, $3, $4, 'legal-1', $5, $6)""",
        uuid.uuid4(),
        perpetrator_id,
        case_id,
        enforcement_case_id,
        NOW,
        NOW if left else None,
    )


async def linked_to(connection: asyncpg.Connection, case_id: uuid.UUID) -> uuid.UUID | None:
    action_id = uuid.uuid4()
    stored = await store_request(
        connection,
        action_id=action_id,
        case_id=case_id,
        kind=ActionKind.EX_PARTE_INJUNCTION,
        required_at=NOW,
        due_at=NOW + timedelta(days=5),
        received_at=NOW,
    )
    assert stored
    linked: uuid.UUID | None = await connection.fetchval(
        "SELECT enforcement_case_id FROM enforcement_requests WHERE action_id = $1", action_id
    )
    return linked


async def test_a_request_goes_to_the_cases_own_open_enforcement_case_tenancy_first(
    connection: asyncpg.Connection,
) -> None:
    case_id = uuid.uuid4()
    assert await linked_to(connection, case_id) is None  # none yet: linked when one opens
    await open_case(connection, case_id, TENANCY, closed=True)
    assert await linked_to(connection, case_id) is None
    police = await open_case(connection, case_id, POLICE_AND_CIVIL, opened_at=NOW)
    assert await linked_to(connection, case_id) == police
    tenancy = await open_case(connection, case_id, TENANCY, opened_at=NOW + timedelta(hours=1))
    assert await linked_to(connection, case_id) == tenancy


async def test_a_request_goes_to_the_enforcement_case_its_perpetrator_is_linked_to(
    connection: asyncpg.Connection,
) -> None:
    case_id, earlier_case = uuid.uuid4(), uuid.uuid4()
    left_behind = await open_case(connection, earlier_case, TENANCY, opened_at=NOW)
    await link(connection, case_id, left_behind, left=True)
    assert await linked_to(connection, case_id) is None
    joined = await open_case(connection, uuid.uuid4(), TENANCY, opened_at=NOW)
    await link(connection, case_id, joined)
    assert await linked_to(connection, case_id) == joined
    # Its own tenancy case, opened earlier, comes first by date among the same route.
    own = await open_case(connection, case_id, TENANCY, opened_at=NOW - timedelta(days=1))
    assert await linked_to(connection, case_id) == own


async def test_finding_a_requests_enforcement_case_reads_no_other_case(
    connection: asyncpg.Connection,
) -> None:
    """Turns red if the lookup reads every open enforcement case (one condition with OR
    across the case's own and its perpetrator's links did, at each of risk's requests)."""
    await connection.execute(
        """INSERT INTO enforcement_cases (enforcement_case_id, case_id, route,
                                          perpetrator_kind, opened_at)
           SELECT gen_random_uuid(), gen_random_uuid(), 'tenancy_enforcement', 'customer',
                  now() FROM generate_series(1, 5000)"""
    )
    await connection.execute("ANALYZE enforcement_cases")
    case_id = uuid.uuid4()
    plan = await connection.fetch(
        "EXPLAIN " + STORE_REQUEST,
        uuid.uuid4(),
        case_id,
        ActionKind.EX_PARTE_INJUNCTION.value,
        NOW,
        NOW,
        NOW,
        [route.value for route in routes_answering(ActionKind.EX_PARTE_INJUNCTION)],
        TENANCY.value,
    )
    steps = "\n".join(row[0] for row in plan)
    assert "Seq Scan on enforcement_cases" not in steps, steps
