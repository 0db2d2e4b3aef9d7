"""The service's connection pool: what a connection carries from one use to the next."""

import asyncpg

from hhc_chassis.db import create_pool
from hhc_devstack.pytest_plugin import Broker

from .support import settings_for


async def test_a_released_connection_costs_no_statement_and_leaves_no_transaction_open(
    database_url: str, broker: Broker
) -> None:
    pool = await create_pool(settings_for(database_url, broker.bootstrap_servers, db_pool_size=1))
    sent: list[str] = []
    try:
        async with pool.acquire() as connection:
            assert isinstance(connection, asyncpg.pool.PoolConnectionProxy)
            connection.add_query_logger(lambda record: sent.append(record.query))
            await connection.execute("SELECT 1")
        # asyncpg's default reset would have sent its four statements here.
        assert sent == ["SELECT 1"]

        # A transaction left open (a handler cancelled mid-way) is rolled back all the same.
        async with pool.acquire() as connection:
            await connection.execute("BEGIN")
            await connection.execute("CREATE TEMP TABLE left_behind (id int)")
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
            assert await connection.fetchval("SELECT to_regclass('pg_temp.left_behind')") is None
    finally:
        await pool.close()
