"""Durable clocks: deadlines live in the database, and each passes once, whatever restarts.

Every replica runs the loop. It fires what is due (the caller claims rows with FOR UPDATE
SKIP LOCKED and marks them with their outbox rows in one transaction, so one replica
fires each), sleeps until the nearest deadline, at most ``poll_seconds``, and is woken by
a NOTIFY on ``channel`` when a deadline is set, so one set while it sleeps is not missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import asyncpg

from hhc_chassis.db import connect

if TYPE_CHECKING:  # the service runs clocks, and its own audit chaining is one
    from hhc_chassis.service import BackgroundTask, Runtime

log = logging.getLogger(__name__)

NEW_DEADLINE_GATHER_SECONDS = 0.25
"""For clocks whose deadlines are set minutes or more ahead: a newly set deadline is
looked at within this, so a busy service's many commits (a NOTIFY each) wake its clock
once, not once each. A deadline that passes is still fired the moment it does."""

FireDue = Callable[["Runtime"], Awaitable[int]]
"""Fire a batch of what is due; how many fired (0: nothing more is due now)."""
SecondsUntilNext = Callable[["Runtime", float], Awaitable[float]]
"""Seconds until the nearest deadline, at most the ceiling given."""


def durable_clock(
    *,
    name: str,
    channel: str,
    fire_due: FireDue,
    seconds_until_next: SecondsUntilNext,
    poll_seconds: float,
    gather_seconds: float = 0.0,
) -> BackgroundTask:
    """A background task that fires deadlines the moment they pass (module docstring).
    ``channel`` is the NOTIFY channel's name within the service's schema. With
    ``gather_seconds``, a NOTIFY is followed by that wait, so that what several commits
    made due is fired in one batch: for work that may lag a little (looks to chain) or
    deadlines set well ahead, never for one that may be due the moment it is set."""
    if poll_seconds <= 0:
        raise ValueError(f"poll_seconds must be above 0, not {poll_seconds}")
    if gather_seconds < 0:
        raise ValueError(f"gather_seconds must not be below 0, not {gather_seconds}")

    async def run_clock(runtime: Runtime) -> None:
        deadline_set = asyncio.Event()
        listener: asyncpg.Connection | None = None
        try:
            while True:
                if listener is None or listener.is_closed():
                    listener = await _listen(runtime, channel, deadline_set, name)
                try:
                    deadline_set.clear()
                    while await fire_due(runtime):
                        pass
                    delay = await seconds_until_next(runtime, poll_seconds)
                except Exception as error:
                    log.warning(f"{name} check failed", extra={"error_class": type(error).__name__})
                    delay = poll_seconds
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(deadline_set.wait(), timeout=delay)
                    if gather_seconds:
                        await asyncio.sleep(gather_seconds)
        finally:
            if listener is not None:
                await listener.close()

    run_clock.__name__ = f"run_{name.replace(' ', '_')}"
    return run_clock


async def _listen(
    runtime: Runtime, channel: str, deadline_set: asyncio.Event, name: str
) -> asyncpg.Connection | None:
    try:
        connection = await connect(runtime.settings)
        await connection.add_listener(
            f"{runtime.settings.schema_name}_{channel}", lambda *_: deadline_set.set()
        )
        return connection
    except Exception as error:
        log.warning(
            f"{name}: cannot listen for new deadlines, polling",
            extra={"error_class": type(error).__name__},
        )
        return None
