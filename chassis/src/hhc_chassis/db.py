"""asyncpg pool and plain-SQL migrations, one schema per service."""

import asyncio
import importlib.resources
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg

from hhc_chassis.settings import ServiceSettings

log = logging.getLogger(__name__)

Write: TypeAlias = tuple[str, tuple[Any, ...]]
"""One statement and its arguments."""

_PLACEHOLDER = re.compile(r"\$(\d+)")
_DATA_MODIFYING = ("INSERT", "UPDATE", "DELETE")


def together(writes: Sequence[Write]) -> Write:
    """Independent writes as one statement, each a data-modifying ``WITH`` query of it: a
    round trip for them all instead of one each (on this machine a round trip costs the
    service and PostgreSQL about 100 CPU-µs, more than most of our statements' work).

    PostgreSQL runs every one of them, on one snapshot, and checks foreign keys and fires
    triggers at the end of the statement: the outcome is that of running them one after
    another, provided none reads or touches a row another writes (none sees another's
    rows). Each is an INSERT, UPDATE or DELETE with no ``WITH`` of its own and ``$n``
    placeholders for its own arguments, renumbered here after the previous ones'."""
    if not writes:
        raise ValueError("no writes")
    if len(writes) == 1:
        return writes[0]
    statements: list[str] = []
    arguments: list[Any] = []
    for statement, statement_arguments in writes:
        if not statement.lstrip().upper().startswith(_DATA_MODIFYING) or "$$" in statement:
            raise ValueError(f"not a plain INSERT, UPDATE or DELETE: {statement[:60]!r}")
        numbers = {int(number) for number in _PLACEHOLDER.findall(statement)}
        if numbers != set(range(1, len(statement_arguments) + 1)):
            raise ValueError(
                f"placeholders {sorted(numbers)} for {len(statement_arguments)} arguments: "
                f"{statement[:60]!r}"
            )
        statements.append(_renumbered(statement, len(arguments)))
        arguments.extend(statement_arguments)
    *earlier, last = statements
    queries = ",\n".join(f"write_{index} AS ({query})" for index, query in enumerate(earlier))
    return f"WITH {queries}\n{last}", tuple(arguments)


def _renumbered(statement: str, offset: int) -> str:
    return _PLACEHOLDER.sub(lambda number: f"${int(number.group(1)) + offset}", statement)


async def write_together(connection: asyncpg.Connection, writes: Sequence[Write]) -> None:
    """Make ``writes`` in one round trip (:func:`together`)."""
    if writes:
        statement, arguments = together(writes)
        await connection.execute(statement, *arguments)


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


def connection_settings(settings: ServiceSettings) -> dict[str, str]:
    keepalive = settings.db_keepalive_seconds
    return {
        "search_path": settings.schema_name,
        "application_name": f"hhc-{settings.service_name}",
        # The server probes an idle connection and drops it when the peer has vanished,
        # which releases its advisory locks (the relay's leadership) within about
        # 2 x keepalive rather than the kernel's default of about two hours.
        "tcp_keepalives_idle": str(keepalive),
        "tcp_keepalives_interval": str(max(1, keepalive // 2)),
        "tcp_keepalives_count": "2",
    }


async def _no_session_state(connection: asyncpg.Connection) -> None:
    """What a pooled connection needs on its way back to the pool: nothing on the server.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release, a round trip and four statements for each transaction
    of every message and request. Pooled connections hold no session state to undo: session
    advisory locks, LISTEN and session-wide SET are only ever taken on a dedicated
    connection (:func:`connect`), and cursors and ``SET LOCAL`` end with their transaction.
    A transaction left open is still rolled back, by the pool before this is called."""


async def create_pool(settings: ServiceSettings) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=1,
        max_size=settings.db_pool_size,
        server_settings=connection_settings(settings),
        command_timeout=settings.db_command_timeout_seconds,
        init=_init_connection,
        reset=_no_session_state,
    )
    assert pool is not None
    return pool


async def close_quietly(connection: asyncpg.Connection) -> None:
    """Close, or drop it if it will not close within 2 s (the server is away)."""
    try:
        await asyncio.wait_for(connection.close(), timeout=2)
    except Exception:
        connection.terminate()


async def connect(settings: ServiceSettings) -> asyncpg.Connection:
    """A dedicated connection outside the pool (for LISTEN and session advisory locks)."""
    return await asyncpg.connect(
        settings.database_url,
        server_settings=connection_settings(settings),
        command_timeout=settings.db_command_timeout_seconds,
        timeout=settings.db_command_timeout_seconds,
    )


@dataclass(frozen=True, slots=True)
class MigrationSet:
    """SQL files named ``NNNN_description.sql`` in a package's ``migrations`` folder
    (or in ``directory``, for sets that are not shipped in a package, such as tests')."""

    name: str
    package: str = ""
    directory: Path | None = None

    def files(self) -> list[tuple[str, str]]:
        folder = self.directory or importlib.resources.files(self.package) / "migrations"
        scripts = sorted(
            (entry.name, entry.read_text(encoding="utf-8"))
            for entry in folder.iterdir()
            if entry.name.endswith(".sql")
        )
        return [(f"{self.name}/{file_name}", sql) for file_name, sql in scripts]


CHASSIS_MIGRATIONS = MigrationSet(name="chassis", package="hhc_chassis")


class MigrationsMissing(RuntimeError):
    """The schema lacks migrations this build needs, and this process may not apply them."""


async def check_migrated(settings: ServiceSettings, sets: Sequence[MigrationSet]) -> None:
    """For a service whose database role cannot change the schema (``MIGRATE_ON_START``
    false; a migration step with the owning role ran first): refuse to start on a schema
    that lacks any migration this build ships, rather than fail on the first query."""
    schema = settings.schema_name
    connection = await asyncpg.connect(settings.database_url)
    try:
        table = f'"{schema}".schema_migrations'
        recorded = await connection.fetchval("SELECT to_regclass($1)", table)
        rows = await connection.fetch(f"SELECT name FROM {table}") if recorded else []
        applied = {row["name"] for row in rows}
    finally:
        await connection.close()
    missing = [
        name
        for migration_set in (CHASSIS_MIGRATIONS, *sets)
        for name, _ in migration_set.files()
        if name not in applied
    ]
    if missing:
        raise MigrationsMissing(
            f"schema {schema!r} lacks {len(missing)} migration(s), first {missing[0]}: "
            f"run `python -m hhc_chassis.migrate_cli {settings.service_name}` with the "
            "schema's owner first"
        )


async def migrate(settings: ServiceSettings, sets: Sequence[MigrationSet]) -> list[str]:
    """Apply what is not applied yet, in one transaction, serialised across replicas."""
    schema = settings.schema_name
    connection = await asyncpg.connect(settings.database_url)
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"hhc-migrate:{schema}"
            )
            await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await connection.execute(f'SET LOCAL search_path TO "{schema}"')
            await connection.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       name text PRIMARY KEY,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            applied = {
                row["name"] for row in await connection.fetch("SELECT name FROM schema_migrations")
            }
            newly_applied = []
            for migration_set in (CHASSIS_MIGRATIONS, *sets):
                for name, sql in migration_set.files():
                    if name in applied:
                        continue
                    await connection.execute(sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (name) VALUES ($1)", name
                    )
                    newly_applied.append(name)
    finally:
        await connection.close()
    if newly_applied:
        log.info("applied migrations", extra={"schema": schema, "migrations": newly_applied})
    return newly_applied
