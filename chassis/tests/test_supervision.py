"""Background tasks that die are restarted, and one that keeps dying fails liveness."""

import asyncio

import httpx

from hhc_chassis.service import Runtime, ServiceDefinition, create_app
from hhc_devstack.infrastructure import free_port
from hhc_devstack.pytest_plugin import Broker, eventually, serving

from .support import TEST_MIGRATIONS, settings_for

runs = {"flaky": 0, "broken": 0}


async def dies_once_then_runs(runtime: Runtime) -> None:
    runs["flaky"] += 1
    if runs["flaky"] == 1:
        raise RuntimeError("a bug on the first run")
    await runtime.stopping.wait()


async def always_dies(runtime: Runtime) -> None:
    runs["broken"] += 1
    raise RuntimeError("a bug on every run")


async def test_a_task_that_dies_is_restarted_and_one_that_keeps_dying_fails_liveness(
    database_url: str, broker: Broker
) -> None:
    settings = settings_for(database_url, broker.bootstrap_servers, task_restart_limit=3)
    definition = ServiceDefinition(
        settings=settings,
        migrations=TEST_MIGRATIONS,
        title="supervision test",
        background=[dies_once_then_runs, always_dies],
    )
    async with (
        serving(create_app(definition), free_port()) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):

        async def liveness_fails() -> httpx.Response | None:
            response = await client.get("/healthz")
            return response if response.status_code == 503 else None

        failing = await eventually(liveness_fails, timeout=30, message="liveness stayed green")
        assert failing.json()["failing_tasks"] == {"always_dies": "RuntimeError"}
        assert runs["broken"] == 3
        # The task that died once was restarted and is running.
        assert runs["flaky"] == 2
        assert "dies_once_then_runs" not in failing.json()["failing_tasks"]


async def test_intake_style_readiness_ignores_the_broker_but_reports_it(
    database_url: str,
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    settings = settings_for(database_url, nowhere)
    accepting = ServiceDefinition(
        settings=settings,
        migrations=TEST_MIGRATIONS,
        title="readiness test",
        ready_without_broker=True,
    )
    strict = ServiceDefinition(settings=settings, migrations=TEST_MIGRATIONS, title="strict")
    async with (
        serving(create_app(accepting), free_port()) as accepting_url,
        serving(create_app(strict), free_port()) as strict_url,
        httpx.AsyncClient() as client,
    ):
        ready = await client.get(f"{accepting_url}/readyz")
        not_ready = await client.get(f"{strict_url}/readyz")
        await asyncio.sleep(0)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "broker": False}
    assert ready.json()["outbox"]["parked"] == 0
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["broker"] is False
