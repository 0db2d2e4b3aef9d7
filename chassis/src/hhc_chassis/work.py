"""Background work on leased rows: referrals to deliver, escalations to send, survey
offers to mail. Each worker claims due rows with a lease (``FOR UPDATE SKIP LOCKED``, the
next attempt moved past the lease), so replicas share the work and a row whose worker
died is taken up again when its lease runs out; these are the loops around that claim.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

log = logging.getLogger(__name__)


async def poll_rounds(
    work_round: Callable[[], Awaitable[int]], *, poll_seconds: float, work: str
) -> None:
    """Run ``work_round`` until cancelled: again at once while it found rows, else after
    ``poll_seconds``. A round that fails on the database or the network is logged and
    tried again after the pause; the rows it had leased return when the lease runs out."""
    while True:
        try:
            handled = await work_round()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning(
                "work round failed", extra={"work": work, "error_class": type(error).__name__}
            )
            handled = 0
        if not handled:
            await asyncio.sleep(poll_seconds)


async def see_through(
    rows: Sequence[asyncpg.Record],
    handle: Callable[[asyncpg.Record], Awaitable[None]],
    *,
    work: str,
    key: str,
) -> None:
    """Handle every claimed row at once, each seen through whatever happens to another;
    each failure is logged with the row's ``key`` column (an id, never content), then
    the first is raised for the caller and its supervisor."""
    outcomes = await asyncio.gather(*(handle(row) for row in rows), return_exceptions=True)
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    for row, outcome in zip(rows, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            log.error(
                "work item failed",
                extra={"work": work, key: str(row[key]), "error_class": type(outcome).__name__},
            )
    if errors:
        raise errors[0]
