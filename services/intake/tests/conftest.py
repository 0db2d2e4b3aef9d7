"""Fixtures for intake's web tests: intake served in-process against a fresh database and
the session's broker, and Debian's Chromium driven by Playwright.

Chromium and axe-core are installed by ``make browser-deps`` (which ``make test`` runs).
When either is missing the tests fail, never skip: CI runs ``make test``.
"""

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from hhc_chassis.service import create_app
from hhc_devstack.infrastructure import create_database, free_port
from hhc_devstack.pytest_plugin import Broker, eventually, serving
from hhc_intake.app import IntakeSettings, definition

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path(os.environ.get("HHC_CHROMIUM", "/usr/bin/chromium"))
AXE = REPO / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_browser_dependency(what: Path) -> str:
    return f"{what} is missing: run `make browser-deps` (Debian's chromium and npm's axe-core)"


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(missing_browser_dependency(CHROMIUM))
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.exists():
        pytest.fail(missing_browser_dependency(AXE))
    return AXE


@dataclass(frozen=True)
class Intake:
    url: str
    database_url: str


@pytest.fixture(scope="module")
async def intake(postgres_server_url: str, broker: Broker) -> AsyncIterator[Intake]:
    """Intake, web pages included, in-process against a fresh database and the session's
    broker, ready (database and broker answer) for a module's tests. Tests that count
    cases count what they added."""
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = IntakeSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-intake-web-{uuid.uuid4().hex[:8]}",
    )
    async with serving(create_app(definition(settings)), free_port()) as url:
        async with httpx.AsyncClient(base_url=url) as client:

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, timeout=60, message="intake did not get ready")
        yield Intake(url, database_url)
