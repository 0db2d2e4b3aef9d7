"""Which of intake's case events each service's consumer acts on.

Every reader of intake's case events keeps who may reach a case from them
(``case_access``: report-received, case-team-changed), before its own handler runs.
Intake writes the same rows where it opens, adds to and moves cases, in those
transactions: it does not handle its own events again (a statement, an inbox row and a
share of a transaction per report)."""

from collections.abc import Callable

import pytest

from hhc_chassis.case_access import CASE_ACCESS_HANDLERS
from hhc_chassis.service import ServiceDefinition, consumed_handlers
from hhc_enforcement.app import definition as enforcement
from hhc_intake.app import definition as intake
from hhc_referrals.app import definition as referrals
from hhc_risk.app import definition as risk


def test_intake_keeps_case_access_where_it_writes_cases_not_from_its_own_events() -> None:
    assert set(CASE_ACCESS_HANDLERS).isdisjoint(consumed_handlers(intake()))


@pytest.mark.parametrize("definition", [risk, referrals, enforcement], ids=lambda d: d.__module__)
def test_the_other_readers_of_intakes_case_events_keep_case_access_from_them(
    definition: Callable[[], ServiceDefinition],
) -> None:
    assert set(CASE_ACCESS_HANDLERS) <= set(consumed_handlers(definition()))
