"""Which failures are retried for a while (transient) and which a bounded number of times."""

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from hhc_chassis.errors import is_transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionResetError("reset"), True),
        (TimeoutError(), True),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), True),
        (asyncpg.ConnectionDoesNotExistError("gone"), True),
        (asyncpg.InterfaceError("connection is closed"), True),
        (asyncpg.DeadlockDetectedError("deadlock"), True),
        (KafkaConnectionError(), True),
        # Client-side data errors and bugs are not infrastructure: retrying changes nothing.
        (asyncpg.DataError("invalid input for query argument $1"), False),
        (MessageSizeTooLargeError(), False),
        (FileNotFoundError("no such file"), False),
        (ValueError("a bug"), False),
        (KeyError("a bug"), False),
    ],
)
def test_transient_or_not(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
