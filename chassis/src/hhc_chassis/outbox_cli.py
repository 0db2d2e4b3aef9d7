"""Operators' view of a service's outbox: `python -m hhc_chassis.outbox_cli <command> --service S`.

- ``status``: unpublished and parked rows, and the age of the oldest unpublished one;
- ``parked``: each parked row's id, event type, topic, attempts and reason (no payload:
  it may hold personal data);
- ``retry-parked [--id N ...]``: put parked rows (all, or those named) back in line once
  the cause is fixed (topic created, ACL granted, size limit raised); the relay is woken.

Reads ``DATABASE_URL`` and ``DB_SCHEMA`` like the service itself. ``hhc-dev outbox ...``
is the same command.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from hhc_chassis.db import connect
from hhc_chassis.outbox import outbox_state, release_parked
from hhc_chassis.settings import ServiceSettings

SERVICES = ["intake", "risk", "referrals", "enforcement", "reporting"]


async def _run(command: str, settings: ServiceSettings, ids: Sequence[int]) -> dict[str, object]:
    connection = await connect(settings)
    try:
        if command == "retry-parked":
            released = await release_parked(connection, settings.schema_name, ids)
            return {"service": settings.service_name, "released": released}
        if command == "parked":
            rows = await connection.fetch(
                """SELECT id, event_type, topic, message_key, attempts, parked_at, last_error
                   FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL
                   ORDER BY id"""
            )
            return {"service": settings.service_name, "parked": [dict(row) for row in rows]}
        state = await outbox_state(connection)
        return {
            "service": settings.service_name,
            "unpublished": state.unpublished,
            "parked": state.parked,
            "oldest_unpublished_seconds": state.oldest_unpublished_seconds,
        }
    finally:
        await connection.close()


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="outbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["status", "parked", "retry-parked"])
    parser.add_argument("--service", required=True, choices=SERVICES)
    parser.add_argument("--id", type=int, action="append", default=[], dest="ids")
    parsed = parser.parse_args(arguments)
    settings = ServiceSettings(service_name=parsed.service)
    result = asyncio.run(_run(parsed.command, settings, parsed.ids))
    print(json.dumps(result, default=str, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
