"""What a database holds, read whole: for tests that must find a value nowhere."""

from collections.abc import Sequence

import asyncpg

from hhc_devstack.pytest_plugin import eventually


async def rows_by_table(database_url: str, schemas: Sequence[str] | None = None) -> dict[str, str]:
    """Every row of every table (of ``schemas``, else of every non-system schema), as text,
    by ``schema.table``."""
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            """SELECT format('%I.%I', table_schema, table_name) AS name
               FROM information_schema.tables
               WHERE table_type = 'BASE TABLE'
                 AND table_schema NOT IN ('pg_catalog', 'information_schema')
                 AND ($1::text[] IS NULL OR table_schema = ANY($1::text[]))
               ORDER BY 1""",
            list(schemas) if schemas is not None else None,
        )
        found: dict[str, str] = {}
        for table in tables:
            rows = await connection.fetch(f"SELECT t::text AS row FROM {table['name']} t")
            found[table["name"]] = "\n".join(row["row"] for row in rows)
        return found
    finally:
        await connection.close()


async def everything_stored(database_url: str, schemas: Sequence[str] | None = None) -> str:
    """Every row of every table, as one text."""
    return "\n".join((await rows_by_table(database_url, schemas)).values())


def tables_holding(stored: dict[str, str], *values: str) -> set[str]:
    """The tables (``schema.table``) where any of ``values`` is found."""
    return {table for table, rows in stored.items() for value in values if value in rows}


async def stored_once_gone(database_url: str, *values: str, message: str) -> str:
    """Everything stored, once none of ``values`` is found any more (an erasure handled);
    fails with ``message`` if they stay."""

    async def gone() -> str | None:
        stored = await everything_stored(database_url)
        return None if any(value in stored for value in values) else stored

    return await eventually(gone, message=message)
