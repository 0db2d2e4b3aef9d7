"""Apply a service's migrations and exit: `python -m hhc_chassis.migrate_cli <service>`.

For a Kubernetes Job that migrates before a rollout; services also migrate on start.
"""

import argparse
import asyncio
import importlib
import logging

from hhc_chassis.db import migrate
from hhc_chassis.service import ServiceDefinition
from hhc_chassis.telemetry import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "service", choices=["intake", "risk", "referrals", "enforcement", "reporting"]
    )
    service = parser.parse_args().service
    configure_logging("INFO")
    definition: ServiceDefinition = importlib.import_module(f"hhc_{service}.app").definition()
    applied = asyncio.run(migrate(definition.settings, [definition.migrations]))
    logging.getLogger(__name__).info(
        "migrations done", extra={"service": service, "applied": applied}
    )


if __name__ == "__main__":
    main()
