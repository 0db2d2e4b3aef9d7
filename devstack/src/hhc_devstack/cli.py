"""`hhc-dev up`: the whole system on this machine, until Ctrl-C; `hhc-dev token`: a
token for it; `hhc-dev issuer`: the development issuer alone, until SIGTERM or Ctrl-C
(for Docker Compose and a local cluster, where the services run elsewhere).

The broker is embedded Tansu unless KAFKA_BOOTSTRAP_SERVERS is set; PostgreSQL is a
private server in .local/postgres unless DATABASE_URL is set; the identity provider is
the development issuer (.local/issuer, port HHC_ISSUER_PORT, 8090) unless OIDC_ISSUER
and OIDC_JWKS_URL are set; referrals' partners are a webhook receiver and a mail server
on this machine (``hhc_devstack.partners``) unless PARTNER_CATALOGUE_FILE is set.
"""

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from hhc_chassis.access import Role
from hhc_devstack.infrastructure import (
    EMBEDDED_BROKER_ENV,
    EmbeddedBroker,
    EmbeddedPostgres,
    create_topics,
)
from hhc_devstack.issuer import DEFAULT_PORT, DevIssuer, token_from_state
from hhc_devstack.partners import LocalPartners, local_partners
from hhc_devstack.system import PUBLIC_PORTS, ServiceProcesses


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def up(state_dir: Path) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    log_dir = state_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    services: ServiceProcesses | None = None
    issuer: DevIssuer | None = None
    partners = contextlib.ExitStack()
    try:
        service_env: dict[str, str] = {}
        if not os.environ.get("PARTNER_CATALOGUE_FILE"):
            here = partners.enter_context(partners_here(state_dir))
            service_env |= here.env
            print(
                f"partners    webhooks at {here.webhooks.url}/<partner id>, mail at "
                f"{here.mail.host}:{here.mail.port} (this machine's: they accept every referral)"
            )
        if not (os.environ.get("OIDC_ISSUER") and os.environ.get("OIDC_JWKS_URL")):
            issuer = DevIssuer(
                state_dir / "issuer", port=int(os.environ.get("HHC_ISSUER_PORT", DEFAULT_PORT))
            ).start()
            service_env |= issuer.env()
            print(f"identity    development issuer at {issuer.issuer} (hhc-dev token)")
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            broker = EmbeddedBroker(
                port=int(os.environ.get("HHC_BROKER_PORT", "9092")), log_path=log_dir / "tansu.log"
            )
            broker.start()
            bootstrap = broker.bootstrap_servers
            service_env |= {
                name: value for name, value in EMBEDDED_BROKER_ENV.items() if name not in os.environ
            }
            print(f"broker      Tansu (embedded, memory only) at {bootstrap}")
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            postgres = EmbeddedPostgres(
                data_dir=(state_dir / "postgres").resolve(),
                log_path=log_dir / "postgres.log",
                port=int(os.environ.get("HHC_POSTGRES_PORT", "55432")),
            )
            postgres.start()
            database_url = postgres.url
            print(f"database    PostgreSQL (embedded) at {database_url}")
        asyncio.run(create_topics(bootstrap))
        services = ServiceProcesses(
            database_url=database_url,
            bootstrap_servers=bootstrap,
            public_ports=PUBLIC_PORTS,
            log_dir=log_dir,
            extra_env=service_env,
        )
        services.start_all()
        services.wait_ready(timeout=60)
        for name in services.ports:
            print(f"{name:<11} {services.url(name)}   (docs {services.url(name)}/docs)")
            if name in services.public_ports:
                print(f"{'':<11} {services.public_url(name)}   (public pages)")
        print(f"logs        {log_dir}/")
        print("all five services are ready; Ctrl-C stops everything")
        while True:
            signal.pause()
    except _Stop:
        print("\nstopping ...")
        return 0
    except Exception as error:
        print(f"failed to start: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if services:
            services.stop_all()
        if broker:
            broker.stop()
        if postgres:
            postgres.stop()
        if issuer:
            issuer.stop()
        partners.close()


def partners_here(state_dir: Path) -> contextlib.AbstractContextManager[LocalPartners]:
    """Referrals' partners on this machine, so that a referral is sent as it would be to a
    deployment's own (the shipped catalogue's endpoints are placeholders that answer no
    one), with the catalogue that points referrals at them in ``state_dir``. The
    catalogue and the signature check are referrals' own: this is the one place where the
    development stack reads a service's code, the service it runs."""
    from hhc_referrals.catalogue import catalogue_at
    from hhc_referrals.delivery import verify_signature

    return local_partners(
        (state_dir / "partners.json").resolve(),
        catalogue_at,
        secret=b"hhc-dev-partners-not-a-secret",
        verify=verify_signature,
    )


def issuer(state_dir: Path, *, host: str, port: int, issuer_url: str | None) -> int:
    """Run the development issuer alone, keys in ``<state_dir>/issuer``, until stopped."""
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    dev_issuer: DevIssuer | None = None
    try:
        dev_issuer = DevIssuer(
            state_dir / "issuer", host=host, port=port, issuer_url=issuer_url
        ).start()
        print(f"development issuer at {dev_issuer.issuer} (listening on {host}:{dev_issuer.port})")
        print("the services need:", *(f"{k}={v}" for k, v in dev_issuer.env().items()))
        print(f"tokens: hhc-dev token --state-dir {state_dir} --role <role> [--team <team>]")
        print("SIGTERM or Ctrl-C stops it", flush=True)
        while True:
            signal.pause()
    except _Stop:
        return 0
    except OSError as error:  # the port is taken, the state directory is not writable
        print(f"failed to start: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if dev_issuer:
            dev_issuer.stop()


def reporting(action: str) -> int:
    """Run the reporting service's own command (``python -m hhc_reporting rebuild``) with
    `hhc-dev up`'s defaults for what is not set."""
    postgres_port = os.environ.get("HHC_POSTGRES_PORT", "55432")
    env = {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{os.environ.get('HHC_BROKER_PORT', '9092')}",
        **os.environ,
    }
    return subprocess.run(
        [sys.executable, "-m", "hhc_reporting", action], env=env, check=False
    ).returncode


def main() -> None:
    parser = argparse.ArgumentParser(prog="hhc-dev")
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start broker, database, topics and the services")
    up_parser.add_argument("--state-dir", type=Path, default=Path(".local"))
    issuer_parser = commands.add_parser(
        "issuer", help="run only the development issuer, until SIGTERM or Ctrl-C"
    )
    issuer_parser.add_argument("--host", default="127.0.0.1")
    issuer_parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    issuer_parser.add_argument(
        "--issuer-url",
        default=None,
        help="the issuer's name in tokens and base of its JWKS URL, as the services reach "
        "it (e.g. http://dev-issuer:8090) [http://<host>:<port>]",
    )
    issuer_parser.add_argument("--state-dir", type=Path, default=Path(".local"))
    token_parser = commands.add_parser(
        "token", help="print a token of the development issuer for a role (make up first)"
    )
    token_parser.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[role.value for role in Role],
        help="repeat for more than one",
    )
    token_parser.add_argument("--team", default=None)
    token_parser.add_argument("--subject", default=None, help="account id [dev-<random>]")
    token_parser.add_argument("--state-dir", type=Path, default=Path(".local"))
    commands.add_parser(
        "outbox",
        help="a service's outbox: status, parked rows, retry-parked (see --help)",
        add_help=False,
    )
    commands.add_parser(
        "dlq",
        help="a service's dead letters: list, show, replay (see `hhc-dev dlq risk --help`)",
        add_help=False,
    )
    reporting_parser = commands.add_parser(
        "reporting",
        help="reporting's projections: `rebuild` replays the topics into fresh tables and "
        "swaps them in (against `hhc-dev up`'s database and broker unless DATABASE_URL "
        "and KAFKA_BOOTSTRAP_SERVERS are set)",
    )
    reporting_parser.add_argument("action", choices=["rebuild"])
    arguments, rest = parser.parse_known_args()
    if arguments.command == "reporting":
        sys.exit(reporting(arguments.action))
    if arguments.command == "up":
        sys.exit(up(arguments.state_dir))
    if arguments.command == "issuer":
        sys.exit(
            issuer(
                arguments.state_dir,
                host=arguments.host,
                port=arguments.port,
                issuer_url=arguments.issuer_url,
            )
        )
    if arguments.command == "token":
        try:
            print(
                token_from_state(
                    arguments.state_dir / "issuer",
                    roles=arguments.role,
                    team=arguments.team,
                    subject=arguments.subject,
                )
            )
        except FileNotFoundError as error:
            print(error, file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    if arguments.command == "outbox":
        from hhc_chassis.outbox_cli import main as outbox_main

        sys.exit(outbox_main(rest))
    if arguments.command == "dlq":
        from hhc_chassis.dlq_cli import main as dlq_main

        sys.exit(dlq_main(rest))
