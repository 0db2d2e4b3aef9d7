"""The metrics every service reports, and a helper for a service's own gauges.

One meter for the chassis; :func:`hhc_chassis.telemetry.configure_metrics` decides where
they go (OTLP, and ``/metrics`` on the staff port for Prometheus). Attributes are kinds
and names from a fixed, small set (topic, event type, reason class, partner, state), never
an id or anything personal: a label per case would be personal data and unbounded.

Gauges never query on a scrape. What they report is a value the work loop that knows it
already keeps (the consumer's lag, the relay's view of its outbox) or one a background
task refreshes on an interval (:class:`QueryGauge`); a scrape or an OTLP export reads the
last value from another thread, so each is swapped in whole, never mutated in place.

Prometheus names (the exporter turns dots into underscores, adds the unit and ``_total``
to counters): see ``deploy/k8s/monitoring/README.md``.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

if TYPE_CHECKING:
    from hhc_chassis.service import BackgroundTask, Runtime

log = logging.getLogger(__name__)
meter = metrics.get_meter("hhc_chassis")

# Consuming (consumer.py). ``consumer`` is the consumer group; ``topic`` a subscribed topic;
# ``event_type`` a registered type or "other".
messages_handled = meter.create_counter(
    "hhc.messages.handled", description="Messages handled (first deliveries and duplicates)"
)
messages_retried = meter.create_counter(
    "hhc.messages.retried",
    description="Handling attempts that failed and will be tried again, by error class",
)
messages_dead_lettered = meter.create_counter(
    "hhc.messages.dead_lettered",
    description="Messages sent to a dead-letter topic, by reason and error class",
)
untrusted_events = meter.create_counter(
    "hhc.consumer.untrusted",
    description="Events dead-lettered as untrusted-event: not what the catalogue allows",
)
unrecognised_values_seen = meter.create_counter(
    "hhc.messages.unrecognised_values",
    description="Enum values a newer producer added, kept as received (tolerant reader)",
)
handler_duration = meter.create_histogram(
    "hhc.handler.duration",
    unit="s",
    description="Time in a handler, inbox transaction excluded, by outcome",
    explicit_bucket_boundaries_advisory=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
)

# Publishing (outbox.py). ``channel`` names the service's outbox.
outbox_published = meter.create_counter("hhc.outbox.published", description="Rows published")
outbox_parked = meter.create_counter("hhc.outbox.parked", description="Rows parked")
personal_parts_withheld = meter.create_counter(
    "hhc.outbox.personal_withheld",
    description="Personal parts published empty: no case key source, or the case's key is "
    "destroyed (never published in clear)",
)


class ObservedValues:
    """The latest value per attribute set of one gauge, kept by whoever knows it and read
    by the gauge's callback (from the exporter's or the scrape's thread)."""

    def __init__(self) -> None:
        self._values: dict[tuple[tuple[str, str], ...], float] = {}

    def replace(self, owner: tuple[tuple[str, str], ...], values: dict[Any, float]) -> None:
        """Set every value of ``owner`` (attributes shared by all its series, such as its
        channel or consumer), dropping the ones it no longer reports."""
        kept = {key: value for key, value in self._values.items() if key[: len(owner)] != owner}
        for extra, value in values.items():
            kept[owner + tuple(extra)] = value
        self._values = kept

    def set(self, attributes: dict[str, str], value: float) -> None:
        self.replace(tuple(attributes.items()), {(): value})

    def forget(self, owner: tuple[tuple[str, str], ...]) -> None:
        self.replace(owner, {})

    def current(self) -> dict[tuple[tuple[str, str], ...], float]:
        """Each series' attributes and latest value."""
        return dict(self._values)

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        for key, value in list(self._values.items()):
            yield Observation(value, dict(key))


def observed_gauge(name: str, description: str, unit: str = "") -> ObservedValues:
    """A gauge whose values are set by whoever knows them, read when exported or scraped."""
    values = ObservedValues()
    meter.create_observable_gauge(
        name, callbacks=[values.observe], description=description, unit=unit
    )
    return values


consumer_lag = observed_gauge(
    "hhc.consumer.lag",
    "Records on a partition not yet handled: its end offset less the next to handle",
)
outbox_backlog = observed_gauge(
    "hhc.outbox.backlog", "Outbox rows not yet published, parked ones included"
)
outbox_oldest_unpublished = observed_gauge(
    "hhc.outbox.oldest_unpublished_age",
    "How long the oldest unpublished outbox row has waited (0 when none)",
    unit="s",
)
outbox_parked_rows = observed_gauge(
    "hhc.outbox.parked_rows", "Outbox rows parked until an operator releases them"
)
relay_leader = observed_gauge(
    "hhc.outbox.relay_leader",
    "1 while this replica's relay leads (holds the outbox lock), else 0",
)


@dataclass
class QueryGauge:
    """A gauge of a service's own, fed by a SQL query run every ``interval_seconds`` by a
    background task (``ServiceDefinition(background=[gauge.refresh])``), never by a scrape.

    The query runs in the service's schema and returns one row per series: a ``value``
    column and one column per name in ``labels`` (values from a fixed vocabulary: a kind,
    a state, a partner; never an id). A series whose row disappears is no longer reported.
    """

    name: str
    description: str
    query: str
    labels: Sequence[str] = ()
    interval_seconds: float = 30.0
    unit: str = ""

    def __post_init__(self) -> None:
        self._values = observed_gauge(self.name, self.description, self.unit)
        self.refreshed_at: float | None = None

    async def read(self, runtime: "Runtime") -> None:
        rows = await runtime.pool.fetch(self.query)
        self._values.replace(
            (),
            {
                tuple((label, str(row[label])) for label in self.labels): float(row["value"] or 0)
                for row in rows
            },
        )
        self.refreshed_at = time.monotonic()

    def current(self) -> dict[tuple[tuple[str, str], ...], float]:
        """What the last read found: each series' labels and value."""
        return self._values.current()

    @property
    def refresh(self) -> "BackgroundTask":
        """The background task: read now, then every ``interval_seconds`` until stopping;
        named after the gauge, so supervision tells the gauges apart."""

        async def refresh(runtime: "Runtime") -> None:
            while not runtime.stopping.is_set():
                try:
                    await self.read(runtime)
                except Exception as error:
                    # The last values stay; the database being away is readiness's to report.
                    log.warning(
                        "gauge query failed",
                        extra={"gauge": self.name, "error_class": type(error).__name__},
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(runtime.stopping.wait(), timeout=self.interval_seconds)

        refresh.__name__ = f"gauge {self.name}"
        return refresh
