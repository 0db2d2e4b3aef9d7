"""When an action was completed (issue item): the server's time, or a time given that lies
between when the action was required and now; anything else is a 422 naming the field."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.exceptions import RequestValidationError

from hhc_risk.api import completion_time

REQUIRED_AT = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
NOW = REQUIRED_AT + timedelta(hours=5)


def test_none_given_is_now() -> None:
    assert completion_time(None, required_at=REQUIRED_AT, now=NOW) == NOW


@pytest.mark.parametrize(
    "given",
    [REQUIRED_AT, REQUIRED_AT + timedelta(hours=1), NOW],
    ids=["when-required", "between", "now"],
)
def test_a_time_between_required_and_now_is_kept(given: datetime) -> None:
    assert completion_time(given, required_at=REQUIRED_AT, now=NOW) == given


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (REQUIRED_AT - timedelta(seconds=1), "before the action was required"),
        (NOW + timedelta(seconds=1), "in the future"),
    ],
    ids=["before-required", "future"],
)
def test_a_time_outside_is_refused_naming_the_field(given: datetime, message: str) -> None:
    with pytest.raises(RequestValidationError) as refused:
        completion_time(given, required_at=REQUIRED_AT, now=NOW)
    [error] = refused.value.errors()
    assert error["loc"] == ("body", "completed_at")
    assert message in error["msg"]
