"""Browser fixtures for pages people use: Debian's Chromium driven by Playwright, and
axe-core injected into each page.

Both are installed by ``make browser-deps`` (which ``make test`` runs). When either is
missing the tests fail, never skip: CI runs ``make test``. A conftest imports the
fixtures it needs from here.
"""

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

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


async def serious_violations(page: Page, axe: Path) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    await page.add_script_tag(path=str(axe))
    result: dict[str, Any] = await page.evaluate("axe.run()")
    return [
        f"{v['impact']} {v['id']} at {[n['target'] for n in v['nodes'][:5]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
