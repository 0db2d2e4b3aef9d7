"""The five services as child processes, for `make up` and the system tests."""

import base64
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hhc_devstack.infrastructure import free_port, stop_process
from hhc_devstack.issuer import dev_client_secret

SERVICE_PORTS: dict[str, int] = {
    "intake": 8001,
    "risk": 8002,
    "referrals": 8003,
    "enforcement": 8004,
    "reporting": 8005,
}
PUBLIC_PORTS: dict[str, int] = {"intake": 8011}
"""The services with public pages, and their public listener's port under `make up`."""


KEEPS_NO_PERSONAL_DATA = frozenset({"reporting"})
"""Services that never get a case key (policy 3.5: reporting keeps aggregates only)."""


def dev_key_encryption_key(database_url: str) -> str:
    """Intake's development key-encryption key: derived from the database it wraps keys
    in, so that a restarted intake (or `make up` on the same database) still unwraps them.
    Never for production, where it comes from a secret or a KMS."""
    return base64.b64encode(
        hashlib.sha256(f"hhc-dev-kek:{database_url}".encode()).digest()
    ).decode()


def case_key_env(service: str, env: Mapping[str, str], intake_url: str) -> dict[str, str]:
    """What a service needs to seal and open personal data, unless the caller set it."""
    if service == "intake":
        if env.get("CASE_KEY_KEK"):
            return {}
        return {"CASE_KEY_KEK": dev_key_encryption_key(env["DATABASE_URL"])}
    issuer = env.get("OIDC_ISSUER")
    if service in KEEPS_NO_PERSONAL_DATA or not issuer or not intake_url or "CASE_KEYS_URL" in env:
        return {}
    return {
        "CASE_KEYS_URL": intake_url,
        "OIDC_TOKEN_URL": f"{issuer}/token",
        "OIDC_CLIENT_ID": service,
        "OIDC_CLIENT_SECRET": dev_client_secret(service),
    }


@dataclass
class ServiceProcesses:
    """Starts, stops, kills and restarts services; each logs to <log_dir>/<service>.log.

    ``ports``: each instance's staff listener. ``public_ports``: the public listener of an
    instance of a service with public pages; one not given gets a free port.
    """

    database_url: str
    bootstrap_servers: str
    ports: Mapping[str, int] = field(default_factory=lambda: dict(SERVICE_PORTS))
    public_ports: Mapping[str, int] = field(default_factory=dict)
    log_dir: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def public_url(self, service: str) -> str:
        """Where an instance serves its public pages (started instances of intake)."""
        return f"http://127.0.0.1:{self.public_ports[service]}"

    def start(self, service: str, *, instance: str | None = None, port: int | None = None) -> None:
        """Start a service; another ``instance`` name (and port) starts one more replica."""
        name = instance or service
        self.services[name] = service
        if port is not None:
            self.ports = {**self.ports, name: port}
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "HTTP_PORT": str(self.ports[name]),
            "HTTP_HOST": "127.0.0.1",
            **self.extra_env,
        }
        env.update(case_key_env(service, env, self.url("intake") if "intake" in self.ports else ""))
        if service in PUBLIC_PORTS:
            if name not in self.public_ports:
                self.public_ports = {**self.public_ports, name: free_port()}
            env["PUBLIC_HTTP_PORT"] = str(self.public_ports[name])
        output = (
            open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
            if self.log_dir
            else None
        )
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", f"hhc_{service}"],
            env=env,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        if output is not None:
            output.close()  # the service has its own copy of the descriptor

    def start_all(self) -> None:
        for service in SERVICE_PORTS:
            self.start(service)

    def wait_ready(self, services: list[str] | None = None, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        pending = list(services or self.ports)
        with httpx.Client(timeout=2) as client:
            while pending:
                service = pending[0]
                process = self.processes.get(service)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{service} exited with {process.returncode}")
                try:
                    if client.get(f"{self.url(service)}/readyz").status_code == 200 and (
                        service not in self.public_ports
                        # Any answer will do: the public listener has no probes.
                        or client.get(self.public_url(service)).status_code
                    ):
                        pending.pop(0)
                        continue
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{', '.join(pending)} not ready after {timeout}s")
                time.sleep(0.1)
        # A service that answered and then ended (say, its second listener could not
        # bind) is not ready.
        for name in services or self.ports:
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} after answering")

    def stop(self, service: str) -> int | None:
        """Graceful stop (SIGTERM); returns the exit code."""
        process = self.processes.pop(service, None)
        if process is None:
            return None
        stop_process(process, timeout=30)
        return process.returncode

    def log(self, service: str) -> str:
        if self.log_dir is None:
            return ""
        return (self.log_dir / f"{service}.log").read_text(errors="replace")

    def kill(self, service: str) -> None:
        process = self.processes.pop(service)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        """Graceful stop of every instance at once (each shuts down on its own, so one
        at a time would only add their shutdown times up)."""
        stopping = [self.processes.pop(service) for service in list(self.processes)]
        for process in stopping:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in stopping:
            stop_process(process, timeout=30)
