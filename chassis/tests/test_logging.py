"""Log lines: JSON with the stack of an exception, never its message (personal data)."""

import json
import logging
import sys

from hhc_chassis.telemetry import JsonLogFormatter

# Personal data arrives at run time, never in the source lines a stack shows.
SURVIVOR = " ".join(["Jane", "Doe"])


def _raise_with_personal_data(survivor: str) -> None:
    try:
        raise KeyError(f"case of {survivor}, 1 High Street")
    except KeyError as error:
        raise ValueError(f"could not store {survivor}'s report") from error


def test_an_exception_is_logged_with_its_stack_but_not_its_message() -> None:
    logger = logging.getLogger("test.logging")
    try:
        _raise_with_personal_data(SURVIVOR)
    except ValueError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "handling failed", (), exc_info=sys.exc_info()
        )
    line = JsonLogFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "handling failed"
    assert entry["error_class"] == "ValueError"
    stack = "\n".join(entry["stack"])
    assert "_raise_with_personal_data" in stack
    assert "builtins.KeyError" in stack
    assert "builtins.ValueError" in stack
    assert stack.index("builtins.KeyError") < stack.index("builtins.ValueError")
    assert SURVIVOR not in line


def test_libraries_log_only_warnings_a_request_or_a_record_is_not_a_line() -> None:
    """httpx logs each request at INFO, with its URL: a case id for every key referrals
    fetched (one per report), flooding the log and taking CPU on the hot path."""
    from hhc_chassis.telemetry import configure_logging

    root = logging.getLogger()
    kept = root.handlers[:], root.level
    try:
        configure_logging("INFO", None)
        for library in ("httpx", "httpcore", "aiokafka"):
            assert not logging.getLogger(library).isEnabledFor(logging.INFO), library
        assert logging.getLogger("hhc_chassis.outbox").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], level = kept
        root.setLevel(level)
