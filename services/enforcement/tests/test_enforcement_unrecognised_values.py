"""Enforcement's rules on values the vocabulary does not know, as a newer producer may
send them: enforcement needs strong evidence of who is responsible (2.5), so unknown
values lead to none. Pure: no I/O."""

import pytest

from hhc_contracts.vocabulary import ActionKind, EnforcementRoute, PerpetratorKind
from hhc_enforcement.rules import STEP_FOR_ACTION, routes_to_open

P = PerpetratorKind
NEW_PERPETRATOR = P("contractor_of_partner")
NEW_ACTION = ActionKind("community_protection_notice")


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        pytest.param([NEW_PERPETRATOR], {}, id="unknown-alone-as-unknown"),
        pytest.param([NEW_PERPETRATOR, P.UNKNOWN], {}, id="beside-unknown"),
        pytest.param(
            [NEW_PERPETRATOR, P.CUSTOMER],
            {EnforcementRoute.TENANCY_ENFORCEMENT: P.CUSTOMER},
            id="beside-a-customer",
        ),
        pytest.param(
            [P.STAFF, NEW_PERPETRATOR],
            {EnforcementRoute.STAFF_DISCIPLINARY: P.STAFF},
            id="beside-staff",
        ),
    ],
)
def test_an_unknown_perpetrator_kind_opens_no_enforcement_case(
    kinds: list[PerpetratorKind], expected: dict[EnforcementRoute, PerpetratorKind]
) -> None:
    assert routes_to_open(kinds) == expected
    assert routes_to_open(kinds) == routes_to_open(
        [P.UNKNOWN if kind == NEW_PERPETRATOR else kind for kind in kinds]
    )


def test_an_unknown_action_kind_becomes_no_step() -> None:
    # No step is invented; risk escalates the open action when it is overdue.
    assert STEP_FOR_ACTION.get(NEW_ACTION) is None
