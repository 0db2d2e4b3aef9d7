"""The authorisation matrix, generated from the permission table (hhc_chassis.access):
every staff operation of every service x every role x own team / other team, and no
token, against the whole system running as processes.

The operations are read off the services' own routes, so a new route without a
permission, or one missing from ``REQUESTS`` below, fails here rather than shipping
unprotected or untested.
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi.routing import APIRoute

from hhc_chassis.access import (
    Caller,
    CaseScope,
    Permission,
    Role,
    may,
    reaches,
)
from hhc_chassis.auth import permission_of, routes_of
from hhc_chassis.service import create_app
from hhc_devstack.pytest_plugin import TokenFactory, bearer, eventually
from hhc_devstack.system import SERVICE_PORTS, ServiceProcesses
from hhc_enforcement.app import definition as enforcement
from hhc_intake.app import definition as intake
from hhc_intake.settings import IntakeSettings
from hhc_referrals.app import definition as referrals
from hhc_reporting.app import definition as reporting
from hhc_risk.app import definition as risk

from .conftest import report_body

pytestmark = pytest.mark.system

TAKER = "adviser-who-took-it"
EXEMPTION_ASKER = "caseworker-who-asked"
"""Asks for the case's exemption: the matrix's callers (TAKER, someone-else) may decide it."""
OWN_TEAM, OTHER_TEAM = "north", "south"
MONTH = {"month": "2026-11"}
EXEMPTION = {
    "rule": "Rent arrears bar on a transfer",
    "reason": "Arrears built up while she could not go home; the JAG supports a move.",
    "supported_by": "Joint Action Group",
}

# What each operation is sent; the path's {case_id}, {action_id}, {referral_id} and
# {exemption_id} are filled in.
REQUESTS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("intake", "POST", "/v1/reports"): {"json": report_body()},
    ("intake", "POST", "/v1/cases/{case_id}/reports"): {
        "json": report_body(immediate_danger=False)
    },
    ("intake", "PUT", "/v1/cases/{case_id}/consent"): {
        "json": {"share_with_partners": True, "given_by": "survivor"}
    },
    ("intake", "PUT", "/v1/cases/{case_id}/team"): {"json": {"team": OWN_TEAM}},
    ("intake", "POST", "/v1/cases/{case_id}/status-code"): {},
    ("intake", "GET", "/v1/cases/{case_id}"): {},
    # The lifecycle's routes act on CLOSED_CASE_ROUTES' case, closed by its team's manager
    # before the matrix runs (closing the shared case would stop the clocks other rows use).
    ("intake", "PUT", "/v1/cases/{case_id}/owner"): {"json": {"owner": "caseworker-1"}},
    ("intake", "POST", "/v1/cases/{case_id}/status"): {"json": {"status": "in_progress"}},
    ("intake", "POST", "/v1/cases/{case_id}/closure"): {
        "json": {"reason": "transferred", "detail": "Domestic abuse policy"}
    },
    ("intake", "POST", "/v1/cases/{case_id}/closure/agreement"): {},
    ("intake", "POST", "/v1/cases/{case_id}/track"): {
        "json": {"track": "customer_case", "reason": "Confirmed", "confirmed_by_survivor": True}
    },
    ("intake", "GET", "/v1/worklists"): {},
    ("intake", "GET", "/v1/cases/{case_id}/satisfaction-survey"): {},
    ("intake", "POST", "/v1/cases/{case_id}/satisfaction-survey/link"): {},
    ("intake", "GET", "/v1/cases/{case_id}/satisfaction"): {},
    ("intake", "GET", "/v1/case-keys/{case_id}"): {},
    # A case nobody has: the lookup answers it as unknown, to whoever may look.
    ("intake", "POST", "/v1/case-key-lookups"): {"json": {"case_ids": [str(uuid.uuid4())]}},
    ("intake", "POST", "/v1/cases/{case_id}/erasure"): {"json": {"reason": "Subject request"}},
    ("intake", "GET", "/v1/cases/{case_id}/erasure"): {},
    ("intake", "POST", "/v1/cases/{case_id}/legal-holds"): {"json": {"reason": "Court case"}},
    ("intake", "GET", "/v1/cases/{case_id}/legal-holds"): {},
    ("intake", "POST", "/v1/cases/{case_id}/legal-holds/{hold_id}/lift"): {},
    ("risk", "GET", "/v1/assessment-questions"): {},
    ("risk", "POST", "/v1/cases/{case_id}/assessments"): {
        "json": {"answers": {"fear_for_safety": True}}
    },
    ("risk", "GET", "/v1/cases/{case_id}/assessments"): {},
    ("risk", "GET", "/v1/cases/{case_id}/actions"): {},
    ("risk", "POST", "/v1/actions/{action_id}/complete"): {"json": {"outcome": "visited"}},
    ("risk", "GET", "/v1/actions/overdue"): {},
    ("risk", "GET", "/v1/escalations"): {},
    ("risk", "POST", "/v1/escalations/{escalation_id}/acknowledge"): {},
    ("referrals", "GET", "/v1/cases/{case_id}/referrals"): {},
    ("referrals", "GET", "/v1/referrals/{referral_id}"): {},
    ("referrals", "POST", "/v1/referrals/{referral_id}/confirmation"): {
        "json": {"spoke_to": "Call handler", "incident_number": "CAD-7"}
    },
    ("referrals", "POST", "/v1/referrals/{referral_id}/status"): {
        "json": {"status": "acknowledged"}
    },
    ("referrals", "POST", "/v1/cases/{case_id}/consent-overrides"): {
        "json": {"partners": ["emergency_services"], "reason": "Immediate danger, see notes."}
    },
    ("referrals", "GET", "/v1/consent-overrides"): {},
    ("referrals", "POST", "/v1/partner-callbacks/referrals/{referral_id}"): {
        "json": {"status": "acknowledged"}
    },
    ("referrals", "GET", "/v1/partners"): {},
    ("referrals", "POST", "/v1/cases/{case_id}/multi-agency-meetings"): {
        "json": {"held_on": "2026-03-10", "agencies": ["Police"], "actions_agreed": ["Visit"]}
    },
    ("referrals", "GET", "/v1/cases/{case_id}/multi-agency-meetings"): {},
    ("referrals", "GET", "/v1/cases/{case_id}/rehousing-evidence"): {},
    ("referrals", "POST", "/v1/cases/{case_id}/rehousing-requests"): {
        "json": {"banding": "priority"}
    },
    ("referrals", "POST", "/v1/cases/{case_id}/exemption-requests"): {"json": EXEMPTION},
    ("referrals", "GET", "/v1/cases/{case_id}/exemption-requests"): {},
    ("referrals", "POST", "/v1/exemption-requests/{exemption_id}/decision"): {
        "json": {"approved": True, "reason": "Support from the JAG is on file."}
    },
    ("enforcement", "GET", "/v1/cases/{case_id}/enforcement"): {},
    ("enforcement", "GET", "/v1/cases/{case_id}/perpetrators"): {},
    ("enforcement", "POST", "/v1/cases/{case_id}/perpetrators"): {
        "json": {"kind": "customer", "reference": "T-0042"}
    },
    ("enforcement", "PATCH", "/v1/perpetrators/{perpetrator_id}"): {
        "json": {"description": "Lives on the second floor"}
    },
    ("enforcement", "POST", "/v1/cases/{case_id}/validity"): {
        "json": {"valid": True, "reason": "Neighbours confirm it"}
    },
    ("enforcement", "POST", "/v1/enforcement-cases/{enforcement_case_id}/evidence"): {
        "json": {"kind": "diary_entry", "strength": "moderate", "source": "the survivor"}
    },
    ("enforcement", "GET", "/v1/enforcement-cases/{enforcement_case_id}/evidence"): {},
    ("enforcement", "POST", "/v1/enforcement-cases/{enforcement_case_id}/proposals"): {
        "json": {"step": "advice_or_verbal_warning", "reason": "Shouting at the door"}
    },
    ("enforcement", "POST", "/v1/proposals/{proposal_id}/decision"): {"json": {"agree": False}},
    ("enforcement", "POST", "/v1/decisions/{decision_id}/taken"): {
        "json": {"note": "Warned in person"}
    },
    ("enforcement", "GET", "/v1/enforcement-cases/{enforcement_case_id}/court"): {},
    ("enforcement", "POST", "/v1/enforcement-cases/{enforcement_case_id}/hearings"): {
        "json": {
            "step": "injunction",
            "hearing_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            "court": "County Court at Leeds",
        }
    },
    ("enforcement", "POST", "/v1/enforcement-cases/{enforcement_case_id}/orders"): {
        "json": {
            "step": "injunction",
            "made_on": date.today().isoformat(),
            "expires_on": (date.today() + timedelta(days=180)).isoformat(),
        }
    },
    ("enforcement", "POST", "/v1/enforcement-cases/{enforcement_case_id}/breaches"): {
        "json": {"summary": "Seen at the door again"}
    },
    ("reporting", "GET", "/v1/cases/{case_id}/timeline"): {},
    ("reporting", "GET", "/v1/reports/monthly"): {"params": MONTH},
    ("reporting", "GET", "/v1/reports/monthly/{month}.csv"): {},
    ("reporting", "GET", "/v1/reports/monthly/{month}.html"): {},
    ("reporting", "POST", "/v1/reports/monthly/publish"): {"params": MONTH},
    **{(service, "GET", "/v1/audit"): {} for service in SERVICE_PORTS},
}
# Granted, but the state the request needs has passed: the action was completed, or the
# call recorded, by an earlier caller of the matrix; consent was given, so none of the
# case's referrals awaits an override.
ALSO_GRANTED = {
    # The case is closed: no owner, status, track or second closure; nothing to agree.
    ("intake", "PUT", "/v1/cases/{case_id}/owner"): {409},
    ("intake", "POST", "/v1/cases/{case_id}/status"): {409},
    ("intake", "POST", "/v1/cases/{case_id}/closure"): {409},
    ("intake", "POST", "/v1/cases/{case_id}/closure/agreement"): {409},
    ("intake", "POST", "/v1/cases/{case_id}/track"): {409},
    # Acknowledged by an earlier caller.
    ("risk", "POST", "/v1/escalations/{escalation_id}/acknowledge"): {409},
    # Not an anonymous report: there is no validity to find.
    ("enforcement", "POST", "/v1/cases/{case_id}/validity"): {409},
    # The proposal answered, the step recorded, the hearing listed by an earlier caller.
    ("enforcement", "POST", "/v1/proposals/{proposal_id}/decision"): {409},
    ("enforcement", "POST", "/v1/decisions/{decision_id}/taken"): {409},
    ("enforcement", "POST", "/v1/enforcement-cases/{enforcement_case_id}/hearings"): {409},
    ("risk", "POST", "/v1/actions/{action_id}/complete"): {409},
    ("referrals", "POST", "/v1/referrals/{referral_id}/confirmation"): {409},
    ("referrals", "POST", "/v1/referrals/{referral_id}/status"): {409},
    ("referrals", "POST", "/v1/cases/{case_id}/consent-overrides"): {409},
}

UNAUTHENTICATED_PATHS = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}
ERASED_CASE_ROUTES = {"/v1/cases/{case_id}/erasure"}
"""Run on a case the data protection officer erased while the world was made: asked
again, an erasure answers with the first, so the matrix never erases the shared case."""
KEY_CLIENT_ROUTES = {
    ("intake", "GET", "/v1/case-keys/{case_id}"),
    ("intake", "POST", "/v1/case-key-lookups"),
}
"""Beyond the permission, only services named in CASE_KEY_CLIENTS get a case's key."""
KEY_CLIENTS = frozenset(
    IntakeSettings.model_fields["case_key_clients"].get_default(call_default_factory=True)
)

CLOSED_CASE_ROUTES = {
    path
    for service, method, path in REQUESTS
    if service == "intake"
    and (
        "/satisfaction" in path
        or path.rsplit("/", 1)[1] in ("owner", "status", "closure", "agreement", "track")
    )
}


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    permission: Permission

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"


def staff_operations() -> list[Operation]:
    operations = []
    definitions = {
        "intake": intake,
        "risk": risk,
        "referrals": referrals,
        "enforcement": enforcement,
        "reporting": reporting,
    }
    for service, definition in definitions.items():
        for route in routes_of(create_app(definition()).routes):
            if not isinstance(route, APIRoute) or route.path in UNAUTHENTICATED_PATHS:
                continue
            permission = permission_of(route)
            for method in sorted(route.methods):
                assert permission is not None, f"{service} {method} {route.path} asks no token"
                operations.append(Operation(service, method, route.path, permission))
    return operations


OPERATIONS = staff_operations()
# The case reports immediate danger: a safeguarding concern (3.3.1).
CASE = CaseScope(team=OWN_TEAM, taken_by=TAKER, safeguarding=True)


def test_every_staff_operation_is_in_the_matrix() -> None:
    listed = {(op.service, op.method, op.path) for op in OPERATIONS}
    assert listed == set(REQUESTS)


@dataclass(frozen=True)
class Fixture:
    clients: dict[str, httpx.AsyncClient]
    case_id: str
    action_id: str
    staff_case_id: str
    referral_id: str
    """The case's referral to emergency services: by telephone, awaiting the call."""
    exemption_id: str
    """The case's exemption request, asked by EXEMPTION_ASKER and not yet decided."""
    enforcement_case_id: str
    perpetrator_id: str
    proposal_id: str
    """A notice of seeking possession proposed by LEGAL_PROPOSER, awaiting a second person."""
    decision_id: str
    """An advice step decided by LEGAL_PROPOSER, not yet recorded as taken."""
    closed_case_id: str
    """Taken like ``case_id``, closed by the team's manager, the survivor offered the
    satisfaction survey by telephone (a member of staff passes the link on)."""
    escalation_id: str
    """The team manager's escalation of ``action_id``, whose deadline was moved past."""
    erased_case_id: str
    """Taken like ``case_id``, then erased by the data protection officer."""
    hold_id: str
    """A legal hold on ``case_id``, placed by the data protection officer."""


LEGAL_PROPOSER = "legal-proposer"


async def enforcement_world(
    enforcement: httpx.AsyncClient, case_id: str, issue_token: TokenFactory
) -> tuple[str, str, str, str]:
    """The case's enforcement case and perpetrator, strong evidence on it, an advice step
    decided, a notice of seeking possession proposed (it needs a second person), and a
    court order in force (a breach needs one)."""
    legal = bearer(issue_token("legal_officer", subject=LEGAL_PROPOSER))
    found = (await enforcement.get(f"/v1/cases/{case_id}/enforcement", headers=legal)).json()
    enforcement_case_id = found["enforcement_cases"][0]["enforcement_case_id"]
    perpetrator_id = found["perpetrators"][0]["perpetrator_id"]
    base = f"/v1/enforcement-cases/{enforcement_case_id}"
    for evidence in (
        {"kind": "police_report", "strength": "strong", "source": "West Yorkshire Police"},
        {"kind": "witness_statement", "strength": "strong", "source": "a neighbour"},
    ):
        logged = await enforcement.post(f"{base}/evidence", json=evidence, headers=legal)
        assert logged.status_code == 201, logged.text
    advice = await enforcement.post(
        f"{base}/proposals",
        json={"step": "advice_or_verbal_warning", "reason": "Shouting at the door"},
        headers=legal,
    )
    assert advice.status_code == 201, advice.text
    notice = await enforcement.post(
        f"{base}/proposals",
        json={
            "step": "notice_of_seeking_possession",
            "reason": "Racist threats with a weapon",
            "skip_reason": "Serious hate crime: the lower steps would not protect her",
            "serious_hate_crime": True,
        },
        headers=legal,
    )
    assert notice.status_code in (201, 202), notice.text
    order = await enforcement.post(
        f"{base}/orders",
        json={"step": "injunction", "made_on": date.today().isoformat()},
        headers=legal,
    )
    assert order.status_code == 201, order.text
    return (
        enforcement_case_id,
        perpetrator_id,
        notice.json()["proposal_id"],
        advice.json()["decision"]["decision_id"],
    )


async def closed_case(intake: httpx.AsyncClient, issue_token: TokenFactory) -> str:
    """A case like the matrix's, closed by its team's manager once the survivor's offer of
    the satisfaction survey waits for a member of staff (her safe contact is by phone)."""
    survivor = {
        "is_customer": True,
        "name": f"Resident {uuid.uuid4().hex[:6]}",
        "phone": "07700 900123",
        "access": {"safe_contact_method": "telephone"},
    }
    taken = await intake.post(
        "/v1/reports",
        json=report_body(survivor=survivor),
        headers=bearer(issue_token("adviser", subject=TAKER)),
    )
    assert taken.status_code == 202, taken.text
    case_id: str = taken.json()["case_id"]
    manager = bearer(issue_token("manager", team=OWN_TEAM, subject="closing-manager"))
    closed = await intake.post(
        f"/v1/cases/{case_id}/closure",
        json={"reason": "resolved"},
        headers=manager,
    )
    assert closed.status_code == 200, closed.text

    async def offered() -> bool:
        survey = await intake.get(f"/v1/cases/{case_id}/satisfaction-survey", headers=manager)
        return bool(survey.status_code == 200 and survey.json()["offers"])

    await eventually(offered, message="the survey was not offered")
    return case_id


async def erased_and_held(
    intake: httpx.AsyncClient, case_id: str, issue_token: TokenFactory
) -> tuple[str, str]:
    """A case taken like the matrix's and erased; and a legal hold on the matrix's case."""
    dpo = bearer(issue_token("data_protection_officer", subject="dpo-1"))
    taken = await intake.post(
        "/v1/reports", json=report_body(), headers=bearer(issue_token("adviser", subject=TAKER))
    )
    assert taken.status_code == 202, taken.text
    erased_case_id: str = taken.json()["case_id"]
    erased = await intake.post(
        f"/v1/cases/{erased_case_id}/erasure", json={"reason": "Subject request"}, headers=dpo
    )
    assert erased.status_code == 201, erased.text
    held = await intake.post(
        f"/v1/cases/{case_id}/legal-holds", json={"reason": "Possession claim"}, headers=dpo
    )
    assert held.status_code == 201, held.text
    return erased_case_id, str(held.json()["hold_id"])


async def escalation_of(
    risk: httpx.AsyncClient, database_url: str, action_id: str, issue_token: TokenFactory
) -> str:
    """Moves the action's deadline into the past (the clock, not the data, is what the test
    controls), and waits for risk's scheduler to escalate it to the team's manager."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE risk.actions SET due_at = now() - interval '1 minute' WHERE action_id = $1",
            uuid.UUID(action_id),
        )
    finally:
        await connection.close()
    manager = bearer(issue_token("manager", team=OWN_TEAM, subject="escalation-reader"))

    async def escalated() -> str | None:
        listed = await risk.get("/v1/escalations", params={"state": "all"}, headers=manager)
        assert listed.status_code == 200, listed.text
        return next(
            (
                e["escalation_id"]
                for e in listed.json()
                if e["action_id"] == action_id and e["recipient_role"] == "manager"
            ),
            None,
        )

    return await eventually(escalated, message="the overdue action was not escalated")


@pytest.fixture(scope="module")
async def world(
    shared_system: ServiceProcesses, module_database_url: str, issue_token: TokenFactory
) -> AsyncIterator[Fixture]:
    """A case taken by an adviser for the own team, known to every service, with an
    open action; and a case whose survivor is staff."""
    clients = {
        service: httpx.AsyncClient(base_url=shared_system.url(service), timeout=15)
        for service in SERVICE_PORTS
    }
    dpo = bearer(issue_token("data_protection_officer"))
    try:
        taken = await clients["intake"].post(
            "/v1/reports",
            json=report_body(),
            headers=bearer(issue_token("adviser", subject=TAKER)),
        )
        assert taken.status_code == 202, taken.text
        case_id = taken.json()["case_id"]
        staff = await clients["intake"].post(
            "/v1/reports",
            json=report_body(survivor={"is_customer": False, "is_staff": True, "name": "F. O."}),
            headers=bearer(issue_token("people_and_learning")),
        )
        assert staff.status_code == 202, staff.text
        staff_case_id = staff.json()["case_id"]

        async def known_everywhere() -> str | None:
            paths = {
                "risk": f"/v1/cases/{case_id}/actions",
                "referrals": f"/v1/cases/{case_id}/referrals",
                "enforcement": f"/v1/cases/{case_id}/enforcement",
                "reporting": f"/v1/cases/{case_id}/timeline",
            }
            for service, path in paths.items():
                response = await clients[service].get(path, headers=dpo)
                if response.status_code != 200 or not response.json():
                    return None
                if service == "enforcement" and not response.json()["enforcement_cases"]:
                    return None
            staff_known = await clients["risk"].get(
                f"/v1/cases/{staff_case_id}/actions", headers=dpo
            )
            if staff_known.status_code != 200:
                return None
            actions = (await clients["risk"].get(paths["risk"], headers=dpo)).json()
            open_actions = [a["action_id"] for a in actions if a["state"] == "open"]
            return open_actions[0] if open_actions else None

        action_id = await eventually(known_everywhere, timeout=90, message="case not everywhere")

        async def emergency_referral() -> str | None:
            listed = await clients["referrals"].get(f"/v1/cases/{case_id}/referrals", headers=dpo)
            return next(
                (r["referral_id"] for r in listed.json() if r["partner"] == "emergency_services"),
                None,
            )

        referral_id = await eventually(emergency_referral, message="no emergency referral")
        asked = await clients["referrals"].post(
            f"/v1/cases/{case_id}/exemption-requests",
            json=EXEMPTION,
            headers=bearer(issue_token("caseworker", team=OWN_TEAM, subject=EXEMPTION_ASKER)),
        )
        assert asked.status_code == 201, asked.text
        exemption_id = asked.json()["exemption_id"]
        enforcement = await enforcement_world(clients["enforcement"], case_id, issue_token)
        closed_case_id = await closed_case(clients["intake"], issue_token)
        escalation_id = await escalation_of(
            clients["risk"], module_database_url, action_id, issue_token
        )
        erased_case_id, hold_id = await erased_and_held(clients["intake"], case_id, issue_token)
        yield Fixture(
            clients,
            case_id,
            action_id,
            staff_case_id,
            referral_id,
            exemption_id,
            *enforcement,
            closed_case_id,
            escalation_id,
            erased_case_id,
            hold_id,
        )
    finally:
        for client in clients.values():
            await client.aclose()


def _caller(role: Role, variant: str) -> Caller:
    if variant == "own team":
        return Caller(subject=TAKER, roles=frozenset({role}), team=OWN_TEAM)
    return Caller(subject="someone-else", roles=frozenset({role}), team=OTHER_TEAM)


def expected_outcome(operation: Operation, caller: Caller | None) -> str:
    if caller is None:
        return "401"
    if not may(caller, operation.permission):
        return "403"
    about_one_case = any(
        name in operation.path
        for name in (
            "{case_id}",
            "{action_id}",
            "{referral_id}",
            "{exemption_id}",
            "{enforcement_case_id}",
            "{perpetrator_id}",
            "{proposal_id}",
            "{decision_id}",
            "{escalation_id}",
        )
    )
    if about_one_case and not reaches(caller, operation.permission, CASE):
        return "404"
    if (operation.service, operation.method, operation.path) in KEY_CLIENT_ROUTES and (
        caller.subject not in KEY_CLIENTS
    ):
        return "403"
    return "granted"


def outcome_of(operation: Operation, status: int) -> str:
    granted = status < 300 or status in ALSO_GRANTED.get(
        (operation.service, operation.method, operation.path), set()
    )
    return "granted" if granted else str(status)


def _cases() -> Iterator[Any]:
    for operation in OPERATIONS:
        yield pytest.param(operation, None, None, id=f"{operation} | no token")
        for role in Role:
            for variant in ("own team", "other team"):
                yield pytest.param(operation, role, variant, id=f"{operation} | {role} {variant}")


@pytest.mark.parametrize(("operation", "role", "variant"), list(_cases()))
async def test_matrix(
    world: Fixture,
    issue_token: TokenFactory,
    operation: Operation,
    role: Role | None,
    variant: str | None,
) -> None:
    caller = _caller(role, variant) if role and variant else None
    headers = (
        bearer(issue_token(role.value, team=caller.team, subject=caller.subject))
        if role and caller
        else {}
    )
    path = operation.path.format(
        case_id=world.closed_case_id
        if operation.path in CLOSED_CASE_ROUTES
        else world.erased_case_id
        if operation.path in ERASED_CASE_ROUTES
        else world.case_id,
        hold_id=world.hold_id,
        escalation_id=world.escalation_id,
        month=MONTH["month"],
        action_id=world.action_id,
        referral_id=world.referral_id,
        exemption_id=world.exemption_id,
        enforcement_case_id=world.enforcement_case_id,
        perpetrator_id=world.perpetrator_id,
        proposal_id=world.proposal_id,
        decision_id=world.decision_id,
    )
    response = await world.clients[operation.service].request(
        operation.method,
        path,
        headers=headers,
        **REQUESTS[(operation.service, operation.method, operation.path)],
    )
    assert outcome_of(operation, response.status_code) == expected_outcome(operation, caller), (
        response.text
    )


CASE_READS = [
    op
    for op in OPERATIONS
    if op.method == "GET"
    and "{case_id}" in op.path
    # The case reads people and learning make; the others (keys, erasure, holds) are
    # the matrix's.
    and may(Caller("x", frozenset({Role.PEOPLE_AND_LEARNING}), None), op.permission)
]


@pytest.mark.parametrize("operation", CASE_READS, ids=str)
async def test_a_staff_survivors_case_is_people_and_learnings_alone(
    world: Fixture, issue_token: TokenFactory, operation: Operation
) -> None:
    path = operation.path.format(case_id=world.staff_case_id)
    client = world.clients[operation.service]
    caseworker = bearer(issue_token("caseworker", team=OWN_TEAM))
    manager = bearer(issue_token("manager", team=OWN_TEAM))
    people = bearer(issue_token("people_and_learning"))
    for role, headers in (("caseworker", caseworker), ("manager", manager)):
        # Refused outright without the permission (403); with it, the case is not theirs.
        may_read = may(Caller("x", frozenset({Role(role)}), OWN_TEAM), operation.permission)
        assert (await client.get(path, headers=headers)).status_code == (404 if may_read else 403)
    assert (await client.get(path, headers=people)).status_code == 200


async def test_two_teams_do_not_see_each_others_cases(
    world: Fixture, issue_token: TokenFactory
) -> None:
    south_case = await world.clients["intake"].post(
        "/v1/reports",
        json=report_body(),
        headers=bearer(issue_token("manager", team=OTHER_TEAM, subject=f"m-{uuid.uuid4()}")),
    )
    assert south_case.status_code == 202
    case_id = south_case.json()["case_id"]
    # Intake gave it to the default team; its manager hands it to the other team.
    moved = await world.clients["intake"].put(
        f"/v1/cases/{case_id}/team",
        json={"team": OTHER_TEAM},
        headers=bearer(issue_token("manager", team=OWN_TEAM)),
    )
    assert moved.status_code == 200, moved.text
    north = bearer(issue_token("caseworker", team=OWN_TEAM))
    south = bearer(issue_token("caseworker", team=OTHER_TEAM))

    caseworker = Caller("x", frozenset({Role.CASEWORKER}), OWN_TEAM)
    caseworkers_reads = [op for op in CASE_READS if may(caseworker, op.permission)]

    async def moved_everywhere() -> bool:
        for operation in caseworkers_reads:
            client = world.clients[operation.service]
            path = operation.path.format(case_id=case_id)
            if (await client.get(path, headers=south)).status_code != 200:
                return False
            if (await client.get(path, headers=north)).status_code != 404:
                return False
        return True

    await eventually(moved_everywhere, timeout=60, message="the move did not reach every service")
    own = await world.clients["intake"].get(f"/v1/cases/{world.case_id}", headers=south)
    assert own.status_code == 404
