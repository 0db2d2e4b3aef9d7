"""Background tasks that die are seen: restarted with backoff, logged with their stack, and
one that keeps dying fails liveness so that Kubernetes restarts the pod."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# A task that ran this long before failing is counted as having recovered in between.
_HEALTHY_RUN_SECONDS = 60.0


@dataclass
class TaskHealth:
    """Consecutive deaths of each supervised task; alive while all are under the limit."""

    restart_limit: int = 5
    deaths: dict[str, int] = field(default_factory=dict)
    last_error: dict[str, str] = field(default_factory=dict)

    @property
    def failing(self) -> dict[str, str]:
        return {
            name: self.last_error.get(name, "")
            for name, count in self.deaths.items()
            if count >= self.restart_limit
        }

    @property
    def alive(self) -> bool:
        return not self.failing


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    health: TaskHealth,
    stopping: asyncio.Event,
    *,
    base_delay_seconds: float = 1.0,
    max_delay_seconds: float = 60.0,
) -> None:
    """Run ``run`` until ``stopping`` is set; restart it whenever it fails or returns early."""
    while not stopping.is_set():
        started = time.monotonic()
        try:
            await run()
            if stopping.is_set():
                return
            raise RuntimeError(f"background task {name} returned while the service runs")
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if time.monotonic() - started >= _HEALTHY_RUN_SECONDS:
                health.deaths[name] = 0
            deaths = health.deaths.get(name, 0) + 1
            health.deaths[name] = deaths
            health.last_error[name] = type(error).__name__
            delay = min(max_delay_seconds, base_delay_seconds * 2 ** (deaths - 1))
            log.exception(
                "background task died, restarting",
                extra={"task": name, "consecutive_deaths": deaths, "restart_in_seconds": delay},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)
