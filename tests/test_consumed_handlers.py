"""Which of intake's case events each service's consumer acts on.

Every reader of intake's case events keeps who may reach a case from them
(``case_access``: report-received, case-team-changed), with its own handler's work.
Intake writes the same rows where it opens, adds to and moves cases, in those
transactions: it does not handle its own events again (a statement, an inbox row and a
share of a transaction per report)."""

from collections.abc import Callable

import pytest

from hhc_chassis.case_access import CASE_ACCESS_WRITES
from hhc_chassis.consumer import Projection, decode
from hhc_chassis.service import ServiceDefinition, consumed_handlers
from hhc_contracts.examples import example_message
from hhc_contracts.registry import event_spec
from hhc_contracts.v1 import ReportReceived
from hhc_enforcement.app import definition as enforcement
from hhc_intake.app import definition as intake
from hhc_referrals.app import definition as referrals
from hhc_reporting.app import definition as reporting
from hhc_risk.app import definition as risk


def test_intake_keeps_case_access_where_it_writes_cases_not_from_its_own_events() -> None:
    assert set(CASE_ACCESS_WRITES).isdisjoint(consumed_handlers(intake()))


@pytest.mark.parametrize("definition", [risk, referrals, enforcement], ids=lambda d: d.__module__)
def test_the_other_readers_of_intakes_case_events_keep_case_access_from_them(
    definition: Callable[[], ServiceDefinition],
) -> None:
    assert set(CASE_ACCESS_WRITES) <= set(consumed_handlers(definition()))


def test_reportings_projection_of_a_case_event_keeps_case_access_in_the_same_grouped_writes() -> (
    None
):
    """Turns red if keeping case access turned a projection into a handler run event by
    event (a statement per event again) or dropped either's writes."""
    handler = consumed_handlers(reporting())["intake.report-received"]
    assert isinstance(handler, Projection)
    assert handler.handler is None
    message = example_message(event_spec(ReportReceived))
    envelope, payload = decode(message.model_dump_json().encode(), {message.event_type: handler})
    tables = [statement.split()[2] for statement, _ in handler.writes(envelope, payload)]
    assert tables[0] == "case_access"
    assert "case_events" in tables
