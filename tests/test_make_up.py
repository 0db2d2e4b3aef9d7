"""`hhc-dev up` (what `make up`, the README's first command, runs) as a developer runs it:
broker, database, issuer, partners and the five services start; the README's report goes
through every service and its consented referrals reach this machine's partners; Ctrl-C
stops everything. Its own broker, database and issuer on free ports; the services on the
ports the README names, so the test is skipped when one of them is taken (a `make up`
of the developer's own)."""

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from hhc_devstack.infrastructure import free_port
from hhc_devstack.pytest_plugin import bearer, eventually
from hhc_devstack.system import PUBLIC_PORTS, SERVICE_PORTS

HHC_DEV = str(Path(sys.executable).with_name("hhc-dev"))
READY = "all five services are ready"
STARTS_WITHIN_SECONDS = 120
REPORT: dict[str, Any] = {
    "channel": "telephone",
    "reporter": {"role": "survivor"},
    "survivor": {"is_customer": True, "name": "A. Resident", "phone": "07700 900000"},
    "alleged_perpetrators": [{"kind": "customer"}],
    "incident": {
        "categories": ["verbal_abuse"],
        "perceived_motivation": ["race"],
        "description": "Shouted abuse at my door",
        "occurred_at": "2026-11-20T21:00:00Z",
    },
    "immediate_danger": True,
    "consent": {"share_with_partners": True},
}
"""The README's report."""
OWN_SERVERS = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "DATABASE_URL",
    "OIDC_ISSUER",
    "OIDC_JWKS_URL",
    "PARTNER_CATALOGUE_FILE",
}
"""What a developer sets to use servers of their own: not this test's to use."""


def port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def lines_of(stream: IO[str]) -> "queue.Queue[str | None]":
    """The process's output, line by line, read in a thread (None at its end)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def wait_for_line(lines: "queue.Queue[str | None]", wanted: str, seen: list[str]) -> None:
    while True:
        try:
            line = lines.get(timeout=STARTS_WITHIN_SECONDS)
        except queue.Empty:
            raise AssertionError(f"no {wanted!r} in time; printed:\n" + "\n".join(seen)) from None
        if line is None:
            raise AssertionError(f"ended before {wanted!r}; printed:\n" + "\n".join(seen))
        seen.append(line)
        if wanted in line:
            return


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Not under pytest's private temporary folder: PostgreSQL runs as another account
    # when the tests run as root, and must reach its data folder.
    made = Path(tempfile.mkdtemp(prefix="hhc-test-up-"))
    made.chmod(0o755)  # as a checkout's .local/ is: the database's own folder is made in it
    yield made
    shutil.rmtree(made, ignore_errors=True)


@pytest.fixture
def system(state_dir: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    taken = [port for port in [*SERVICE_PORTS.values(), *PUBLIC_PORTS.values()] if port_taken(port)]
    if taken:
        pytest.skip(f"ports {taken} are taken (a `make up` running?)")
    env = {name: value for name, value in os.environ.items() if name not in OWN_SERVERS}
    env |= {
        "HHC_BROKER_PORT": str(free_port()),
        "HHC_POSTGRES_PORT": str(free_port()),
        "HHC_ISSUER_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [HHC_DEV, "up", "--state-dir", str(state_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    printed: list[str] = []
    try:
        wait_for_line(lines_of(process.stdout), READY, printed)
        yield process, printed
    finally:
        # Ctrl-C: it stops what it started (the services run in sessions of their own).
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def token(state_dir: Path, role: str, team: str | None = None) -> str:
    command = [HHC_DEV, "token", "--state-dir", str(state_dir), "--role", role]
    command += ["--team", team] if team else []
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


async def test_make_up_takes_the_readme_report_to_every_service_and_stops_on_ctrl_c(
    system: tuple[subprocess.Popen[str], list[str]], state_dir: Path
) -> None:
    process, printed = system
    assert any(line.startswith("partners ") for line in printed), printed
    headers = bearer(token(state_dir, "caseworker", "north"))
    urls = {name: f"http://127.0.0.1:{port}" for name, port in SERVICE_PORTS.items()}
    async with httpx.AsyncClient(headers=headers, timeout=10) as client:
        answer = await client.post(f"{urls['intake']}/v1/reports", json=REPORT)
        assert answer.status_code == 202, answer.text
        case_id = answer.json()["case_id"]

        async def partners_asked_for() -> set[str] | None:
            found = await client.get(f"{urls['risk']}/v1/cases/{case_id}/actions")
            if found.status_code == 404:
                return None  # not there yet
            return {a["partner"] for a in found.json() if a["partner"]} or None

        partners = await eventually(partners_asked_for, timeout=60, message="no plan at risk")

        async def referrals_settled() -> dict[str, str] | None:
            found = await client.get(f"{urls['referrals']}/v1/cases/{case_id}/referrals")
            if found.status_code == 404:
                return None
            by_partner = {r["partner"]: r["status"] for r in found.json()}
            sent = [status for status in by_partner.values() if status == "sent"]
            settled = set(by_partner) == partners and len(sent) == len(partners) - 1
            return by_partner if settled else None

        # Emergency services are telephoned by staff (a decision is not a deed: it waits
        # for the person who calls); the partners reached by webhook and mail have theirs.
        statuses = await eventually(referrals_settled, timeout=60, message="referrals not sent")
        assert statuses.pop("emergency_services") == "ready"
        assert len(statuses) >= 2  # by webhook and by mail (Stop Hate UK)
        assert set(statuses.values()) == {"sent"}

        async def answered_actions() -> list[dict[str, Any]] | None:
            found = await client.get(f"{urls['risk']}/v1/cases/{case_id}/actions")
            done = [a for a in found.json() if a["outcome"] == "referral_made"]
            return done if len(done) == len(statuses) else None

        await eventually(answered_actions, timeout=60, message="referral actions not answered")

        async def made_on_the_timeline() -> bool:
            found = await client.get(f"{urls['reporting']}/v1/cases/{case_id}/timeline")
            return found.status_code == 200 and "referrals.referral-made" in json.dumps(
                found.json()
            )

        await eventually(made_on_the_timeline, timeout=60, message="not on the timeline")

    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    assert not [port for port in SERVICE_PORTS.values() if port_taken(port)]
