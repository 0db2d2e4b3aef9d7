"""Operators' dead letters: `python -m hhc_chassis.dlq_cli <service> list|show|replay`.

- ``list [--topic T] [--reason R] [--limit N]``: counts by source topic and reason (and how
  many are not replayed yet), then the newest dead letters' metadata;
- ``show ID``: one dead letter's metadata, its envelope's metadata and the names of its
  payload's fields outside ``personal`` (never a value of the payload);
- ``replay (--id N ... | --topic T | --reason R) --operator NAME [--dry-run] [--again]``:
  publish the chosen dead letters to their original topics once the cause is fixed, each
  recorded as replayed by NAME; one replayed before is refused unless ``--again``.

Reasons: invalid-message, untrusted-event, permanent-error, handler-failed,
transient-gave-up. Reads ``DATABASE_URL``, ``DB_SCHEMA`` and the ``KAFKA_*`` settings like
the service itself. ``hhc-dev dlq ...`` is the same command.
"""

import argparse
import asyncio
import sys
from collections.abc import Sequence

from hhc_chassis.db import connect
from hhc_chassis.dead_letters import (
    Selection,
    as_json,
    list_dead_letters,
    replay_dead_letters,
    show_dead_letter,
)
from hhc_chassis.outbox_cli import SERVICES
from hhc_chassis.settings import ServiceSettings


async def _run(parsed: argparse.Namespace, settings: ServiceSettings) -> tuple[int, object]:
    connection = await connect(settings)
    try:
        if parsed.command == "list":
            listed = await list_dead_letters(
                connection, topic=parsed.topic, reason=parsed.reason, limit=parsed.limit
            )
            return 0, {"service": settings.service_name, **listed}
        if parsed.command == "show":
            shown = await show_dead_letter(connection, settings, parsed.id)
            if shown is None:
                return 1, {"error": f"no dead letter {parsed.id}"}
            return 0, shown
        outcomes = await replay_dead_letters(
            connection,
            settings,
            Selection(ids=parsed.ids, topic=parsed.topic, reason=parsed.reason, again=parsed.again),
            operator=parsed.operator,
            dry_run=parsed.dry_run,
        )
        refused = any(outcome["outcome"] == "refused" for outcome in outcomes)
        return (1 if refused else 0), {"service": settings.service_name, "replays": outcomes}
    finally:
        await connection.close()


def parser(services: Sequence[str] = SERVICES) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="dlq", description=(__doc__ or "").split("\n\n")[0])
    top.add_argument("service", choices=services)
    commands = top.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="counts by topic and reason, newest first")
    listing.add_argument("--topic")
    listing.add_argument("--reason")
    listing.add_argument("--limit", type=int, default=100)
    showing = commands.add_parser("show", help="one dead letter's metadata")
    showing.add_argument("id", type=int)
    replay = commands.add_parser("replay", help="publish chosen ones to their original topic")
    replay.add_argument(
        "--id", type=int, action="append", default=[], dest="ids", help="repeat for more"
    )
    replay.add_argument("--topic", help="every not yet replayed dead letter from this topic")
    replay.add_argument("--reason", help="every not yet replayed dead letter of this reason")
    replay.add_argument("--operator", required=True, help="who replays: recorded on each")
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed")
    replay.add_argument("--again", action="store_true", help="replay ones replayed before")
    return top


def main(arguments: Sequence[str] | None = None, *, settings: ServiceSettings | None = None) -> int:
    """``settings`` stand in for the environment's (tests)."""
    parsed = parser(
        SERVICES if settings is None else [*SERVICES, settings.service_name]
    ).parse_args(arguments)
    if parsed.command == "replay" and not (parsed.ids or parsed.topic or parsed.reason):
        print("dlq replay: choose dead letters with --id, --topic or --reason", file=sys.stderr)
        return 2
    status, result = asyncio.run(
        _run(parsed, settings or ServiceSettings(service_name=parsed.service))
    )
    print(as_json(result))
    return status


if __name__ == "__main__":
    sys.exit(main())
