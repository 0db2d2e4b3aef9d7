"""Which failures are worth retrying."""

import asyncpg
from aiokafka.errors import KafkaError


class PermanentError(Exception):
    """A message that can never be handled (a broken business invariant): dead-letter it now."""


_TRANSIENT_DATABASE_ERRORS = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_transient(error: BaseException) -> bool:
    """Infrastructure hiccups: retry without limit, never dead-letter for these."""
    return isinstance(error, (OSError, TimeoutError, KafkaError, *_TRANSIENT_DATABASE_ERRORS))
