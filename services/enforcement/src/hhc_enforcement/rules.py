"""Enforcement's rules (policy 2.5, 2.6, 3.2.5, 3.3). Pure: no I/O.

Enforcement acts against a person only on strong evidence (2.5), so a value the
vocabulary does not know leads to no enforcement: an unknown perpetrator kind is
treated as unknown, and an unknown action kind becomes no step.
"""

from collections.abc import Collection

from hhc_contracts.vocabulary import ActionKind, EnforcementRoute, PerpetratorKind

ROUTE_FOR_PERPETRATOR = {
    # 2.6: tenancy enforcement, civil actions and other legal remedies against customers.
    PerpetratorKind.CUSTOMER: EnforcementRoute.TENANCY_ENFORCEMENT,
    # 2.6: employees (and those acting on the landlord's behalf, 1.3) face disciplinary
    # procedures.
    PerpetratorKind.STAFF: EnforcementRoute.STAFF_DISCIPLINARY,
    PerpetratorKind.ACTING_FOR_LANDLORD: EnforcementRoute.STAFF_DISCIPLINARY,
}

STEP_FOR_ACTION = {
    ActionKind.EX_PARTE_INJUNCTION: "ex_parte_injunction_application_prepared",
    ActionKind.PERPETRATOR_ENFORCEMENT: "enforcement_review_opened",
}


def routes_to_open(
    perpetrator_kinds: Collection[PerpetratorKind],
) -> dict[EnforcementRoute, PerpetratorKind]:
    """One enforcement case per route the alleged perpetrators call for; a kind not in
    the table (unknown, or not known to this vocabulary) calls for none."""
    routes: dict[EnforcementRoute, PerpetratorKind] = {}
    for kind in perpetrator_kinds:
        route = ROUTE_FOR_PERPETRATOR.get(kind)
        if route is not None:
            routes.setdefault(route, kind)
    return routes
