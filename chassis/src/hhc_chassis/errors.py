"""Which failures are worth retrying."""

import asyncpg
from aiokafka.errors import KafkaError


class PermanentError(Exception):
    """A message that can never be handled (a broken business invariant): dead-letter it now."""


_TRANSIENT_DATABASE_ERRORS = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.QueryCanceledError,  # command_timeout, statement_timeout
)

# Client-side mistakes asyncpg reports as InterfaceError: retrying changes nothing.
_CLIENT_MISTAKES = (
    asyncpg.DataError,
    asyncpg.exceptions.ClientConfigurationError,
    asyncpg.exceptions.UnsupportedClientFeatureError,
    asyncpg.exceptions.UnsupportedServerFeatureError,
)


def is_transient(error: BaseException) -> bool:
    """Infrastructure hiccups (database or broker away, overloaded, a timeout): worth
    retrying for a while (``retry_max_seconds``). Everything else is a fault of the
    message or the code, retried ``retry_max_attempts`` times at most."""
    if isinstance(error, _CLIENT_MISTAKES):
        return False
    if isinstance(error, KafkaError):
        return bool(getattr(error, "retriable", False)) or type(error) is KafkaError
    if isinstance(error, asyncpg.InterfaceError):
        return True  # "connection is closed", "pool is closing": the pool reconnects
    # Plain OSError is how asyncpg reports a refused connection to every address.
    return isinstance(error, (ConnectionError, TimeoutError, *_TRANSIENT_DATABASE_ERRORS)) or (
        type(error) is OSError
    )
