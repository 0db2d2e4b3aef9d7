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
