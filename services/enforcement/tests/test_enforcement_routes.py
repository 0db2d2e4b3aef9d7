"""Enforcement's pure rules against policy 2.5, 2.6 and 3.3: which route each alleged
perpetrator calls for, and which enforcement step a planned action becomes."""

import pytest

from hhc_contracts.vocabulary import ActionKind, EnforcementRoute, PerpetratorKind
from hhc_enforcement.rules import STEP_FOR_ACTION, routes_to_open

P = PerpetratorKind
TENANCY = EnforcementRoute.TENANCY_ENFORCEMENT
DISCIPLINARY = EnforcementRoute.STAFF_DISCIPLINARY


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param(P.CUSTOMER, {TENANCY: P.CUSTOMER}, id="customer-tenancy-enforcement"),
        pytest.param(P.STAFF, {DISCIPLINARY: P.STAFF}, id="staff-disciplinary"),
        pytest.param(
            P.ACTING_FOR_LANDLORD,
            {DISCIPLINARY: P.ACTING_FOR_LANDLORD},
            id="acting-for-landlord-disciplinary",
        ),
        pytest.param(P.NOT_CUSTOMER, {}, id="not-customer-none"),
        pytest.param(P.UNKNOWN, {}, id="unknown-none"),
    ],
)
def test_route_per_perpetrator_kind(
    kind: PerpetratorKind, expected: dict[EnforcementRoute, PerpetratorKind]
) -> None:
    assert routes_to_open([kind]) == expected


def test_every_perpetrator_kind_is_decided() -> None:
    # Guard for new PerpetratorKind members: the table above must be extended.
    assert set(P) == {P.CUSTOMER, P.STAFF, P.ACTING_FOR_LANDLORD, P.NOT_CUSTOMER, P.UNKNOWN}


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        pytest.param([], {}, id="nobody-named"),
        pytest.param([P.CUSTOMER, P.CUSTOMER], {TENANCY: P.CUSTOMER}, id="two-customers-one-case"),
        pytest.param(
            [P.CUSTOMER, P.STAFF],
            {TENANCY: P.CUSTOMER, DISCIPLINARY: P.STAFF},
            id="customer-and-staff-two-cases",
        ),
        pytest.param(
            [P.STAFF, P.ACTING_FOR_LANDLORD],
            {DISCIPLINARY: P.STAFF},
            id="staff-and-contractor-one-disciplinary-case",
        ),
        pytest.param(
            [P.ACTING_FOR_LANDLORD, P.STAFF],
            {DISCIPLINARY: P.ACTING_FOR_LANDLORD},
            id="contractor-then-staff-first-kind-kept",
        ),
        pytest.param(
            [P.NOT_CUSTOMER, P.UNKNOWN, P.CUSTOMER],
            {TENANCY: P.CUSTOMER},
            id="outsiders-and-customer-tenancy-only",
        ),
        pytest.param([P.NOT_CUSTOMER, P.UNKNOWN], {}, id="outsiders-only-none"),
        pytest.param(
            list(P),
            {TENANCY: P.CUSTOMER, DISCIPLINARY: P.STAFF},
            id="every-kind-one-case-per-route",
        ),
    ],
)
def test_one_case_per_route(
    kinds: list[PerpetratorKind], expected: dict[EnforcementRoute, PerpetratorKind]
) -> None:
    assert routes_to_open(kinds) == expected


def test_routes_accept_a_frozenset() -> None:
    opened = routes_to_open(frozenset({P.CUSTOMER, P.STAFF, P.UNKNOWN}))
    assert set(opened) == {TENANCY, DISCIPLINARY}
    assert opened[TENANCY] is P.CUSTOMER
    assert opened[DISCIPLINARY] is P.STAFF


EXPECTED_STEPS = {
    ActionKind.EX_PARTE_INJUNCTION: "ex_parte_injunction_application_prepared",
    ActionKind.PERPETRATOR_ENFORCEMENT: "enforcement_review_opened",
}


@pytest.mark.parametrize("kind", list(ActionKind), ids=str)
def test_step_for_action(kind: ActionKind) -> None:
    """Only the enforcement actions of 3.3.1 (ex parte injunction) and 3.3.2 (enforcement
    against customer perpetrators) become enforcement steps."""
    assert STEP_FOR_ACTION.get(kind) == EXPECTED_STEPS.get(kind)
