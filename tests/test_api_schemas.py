"""Every service's API against its own OpenAPI document, with Schemathesis.

For each operation of each running service (the probes aside), Schemathesis generates
requests that fit the schema and requests that do not, sends them with a token whose
roles reach every route, and checks that no answer is a server error, that each
documented answer matches its schema (body, content type, headers), and that the route
refuses a request without a valid token. Path parameters are random ids and, as often,
those of a real case and one of its actions, so that answers carrying data are checked
too. Hypothesis is derandomised (the same requests on every run) and bounded
(:data:`EXAMPLES` an operation): the whole file takes under a minute.

Not checked: that every status is documented (``status_code_conformance``). The routes'
OpenAPI does not list the 401, 403 and 413 every route may answer, nor most 404s.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.core.result import Err

from hhc_devstack.pytest_plugin import TokenFactory, bearer
from hhc_devstack.system import SERVICE_PORTS, ServiceProcesses

from .conftest import report_body, wait_for_timeline

pytestmark = pytest.mark.system

EXAMPLES = 30
"""Requests per operation, shared between those fitting the schema and those not, with
random ids and (where the path takes one) real ones."""

CHECKS: dict[str, Any] = {
    "status_code_conformance": {"enabled": False},
    # Requests off the schema are judged by not_a_server_error (and the schema checks of
    # the answer): whether a service must refuse each of them is not the question here.
    "negative_data_rejection": {"enabled": False},
    "positive_data_acceptance": {"enabled": False},
    # These follow resources Schemathesis creates itself; ours appear through events.
    "use_after_free": {"enabled": False},
    "ensure_resource_availability": {"enabled": False},
}


@pytest.fixture(scope="module")
def broad_token(issue_token: TokenFactory) -> str:
    return issue_token("caseworker", "manager", "data_protection_officer", "auditor", team="north")


@pytest.fixture(scope="module")
async def known_ids(shared_system: ServiceProcesses, broad_token: str) -> dict[str, str]:
    """A real case, known to every service, and one of its actions in risk."""

    def client(service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=shared_system.url(service), headers=bearer(broad_token), timeout=10
        )

    async with client("intake") as intake, client("risk") as risk, client("reporting") as reporting:
        accepted = await intake.post("/v1/reports", json=report_body())
        assert accepted.status_code == 202, accepted.text
        case_id = accepted.json()["case_id"]
        await wait_for_timeline(reporting, case_id, "risk.action-required")
        actions = (await risk.get(f"/v1/cases/{case_id}/actions")).json()
    return {"case_id": case_id, "action_id": actions[0]["action_id"]}


Operation = APIOperation[Any, Any, Any, Any]


def operations(schema: BaseSchema) -> Iterator[Operation]:
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        if "health" not in (operation.tags or []):
            yield operation


def cases(operation: Operation, known_ids: dict[str, str]) -> st.SearchStrategy[Case[Any]]:
    """Fitting the schema or not, each with random path parameters and with real ones."""
    path_names = {parameter.name for parameter in operation.path_parameters}
    known = {name: value for name, value in known_ids.items() if name in path_names}
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    if known:
        strategies += [
            operation.as_strategy(mode, path_parameters=known) for mode in GenerationMode
        ]
    return st.one_of(strategies)


@pytest.mark.parametrize("service", SERVICE_PORTS)
def test_the_api_keeps_to_its_schema_and_never_fails(
    shared_system: ServiceProcesses, broad_token: str, known_ids: dict[str, str], service: str
) -> None:
    base_url = shared_system.url(service)
    config = schemathesis.Config.from_dict(
        {"checks": CHECKS, "auth": {"openapi": {"StaffToken": {"bearer": broad_token}}}}
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
    failures: list[str] = []
    with requests.Session() as session:
        for operation in operations(schema):
            strategy = cases(operation, known_ids)

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
                verbosity=Verbosity.quiet,
            )
            @given(case=strategy)
            def send(case: Case[Any]) -> None:
                case.call_and_validate(base_url=base_url, session=session, timeout=10)

            try:
                send()
            except Exception as failure:
                failures.append(f"{operation.label}:\n{failure}")
    assert not failures, "\n\n".join(failures)
