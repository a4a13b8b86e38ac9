"""Prometheus metrics: what the gateway counts, in one registry per gateway.

A registry of its own (not prometheus-client's global one) lets several
gateways run in one process, as the tests do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.model import EVENT_ACTIONS


def action_label(action: object) -> str:
    """The ``action`` label of ``alert_gateway_events_total`` for a body's event action.

    One of PD-CEF's actions, else ``unknown``: a sender's arbitrary string must never
    become a label value (each one would be a new time series).
    """
    return action if isinstance(action, str) and action in EVENT_ACTIONS else "unknown"


#: Outcomes of one inbound event, as counted by ``alert_gateway_events_total``.
OUTCOMES = (
    "accepted",
    "suppressed",
    "invalid",
    "rate_limited",
    "unavailable",
    "error",
    "client_disconnected",
    "body_timeout",
)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 512)


class Metrics:
    """Every metric the gateway exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.events = Counter(
            "alert_gateway_events",
            "Inbound events by vendor, event action and outcome.",
            ("vendor", "action", "outcome"),
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "alert_gateway_ingest_seconds",
            "Time from a request's body being read to its answer (durable), by vendor.",
            ("vendor",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "alert_gateway_store_batch_size",
            "Jobs committed together in one transaction (group commit).",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "alert_gateway_store_commit_seconds",
            "Time to run and commit one batch, fsync included.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.commit_failures = Counter(
            "alert_gateway_store_commit_failures",
            "Batches the store could not commit (every event in them was refused).",
            registry=self.registry,
        )
        # Not in the registry: its text is rendered once per count (see OpenIncidents).
        self.open_incidents = OpenIncidents()
        self.smtp_messages = Counter(
            "alert_gateway_smtp_messages",
            "SMTP messages by outcome (accepted, discarded, rejected, deferred).",
            ("outcome",),
            registry=self.registry,
        )
        self.plugin_errors = Counter(
            "alert_gateway_plugin_errors",
            "Exceptions raised by plugins, by plugin.",
            ("plugin",),
            registry=self.registry,
        )
        self.http_connections = Gauge(
            "alert_gateway_http_connections",
            "HTTP connections open now (refused ones are not counted).",
            registry=self.registry,
        )
        self.http_connections_limit = Gauge(
            "alert_gateway_http_connections_limit",
            "[server] max_connections: open connections beyond it are refused.",
            registry=self.registry,
        )
        self.http_connections_refused = Counter(
            "alert_gateway_http_connections_refused",
            "Connections answered 503 and closed unread because max_connections were open.",
            registry=self.registry,
        )
        self.http_body_timeouts = Counter(
            "alert_gateway_http_body_timeouts",
            "Requests answered 408: the body did not arrive within body_timeout, by route.",
            ("route",),
            registry=self.registry,
        )

        self.pruned_rows = Counter(
            "alert_gateway_store_pruned_rows",
            "Rows retention deleted, by table (incidents, alerts, log_entries, change_events,"
            " outbox_messages).",
            ("table",),
            registry=self.registry,
        )
        for table in ("incidents", "alerts", "log_entries", "change_events", "outbox_messages"):
            self.pruned_rows.labels(table)  # exported as 0 before the first pass

        self.outbox_attempts = Counter(
            "alert_gateway_outbox_attempts",
            "Outbound delivery attempts by kind and outcome (delivered, retry, drop).",
            ("kind", "outcome"),
            registry=self.registry,
        )
        self.outbox_delivery_seconds = Histogram(
            "alert_gateway_outbox_delivery_seconds",
            "Time of one outbound delivery attempt, by kind.",
            ("kind",),
            buckets=_DELIVERY_BUCKETS,
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "alert_gateway_outbox_pending",
            "Outbound messages waiting for delivery, by kind and destination (at scrape).",
            ("kind", "destination"),
            registry=self.registry,
        )
        self.outbox_failed = Gauge(
            "alert_gateway_outbox_failed",
            "Outbound messages parked as failed, by kind and destination (at scrape).",
            ("kind", "destination"),
            registry=self.registry,
        )
        self.outbox_oldest_seconds = Gauge(
            "alert_gateway_outbox_oldest_pending_seconds",
            "Age of the oldest undelivered outbound message, by kind (at scrape).",
            ("kind",),
            registry=self.registry,
        )
        self.outbox_overflow = Gauge(
            "alert_gateway_outbox_overflow",
            "Messages enqueued past a destination's max_pending since start, by kind,"
            " destination and verdict (dropped, kept).",
            ("kind", "destination", "verdict"),
            registry=self.registry,
        )
        self.outbox_deferring = Gauge(
            "alert_gateway_outbox_deferring",
            "1 while deliveries yield to ingest (the writer is busy): only messages due for"
            " outbound max_defer_seconds are sent.",
            registry=self.registry,
        )
        self.outbox_deferring_seconds = Counter(
            "alert_gateway_outbox_deferring_seconds",
            "Seconds deliveries spent yielding to ingest (counted when a period ends).",
            registry=self.registry,
        )
        self.outbox_defer_bound = Gauge(
            "alert_gateway_outbox_max_defer_seconds",
            "The longest a message waits past its due time while deliveries yield to ingest"
            " (outbound max_defer_seconds; 0: they never yield).",
            registry=self.registry,
        )

        self.timers_pending = Gauge(
            "alert_gateway_timers_pending",
            "Durable timers waiting to fire, by kind (at scrape).",
            ("kind",),
            registry=self.registry,
        )
        self.timers_fired = Counter(
            "alert_gateway_timers_fired",
            "Timers handled by this node, by kind and outcome (fired, failed).",
            ("kind", "outcome"),
            registry=self.registry,
        )
        self.timer_lateness_seconds = Histogram(
            "alert_gateway_timer_lateness_seconds",
            "How long after its due time a timer fired, by kind.",
            ("kind",),
            buckets=_DELIVERY_BUCKETS,
            registry=self.registry,
        )

    def observe_timer(self, kind: str, outcome: str, lateness: float) -> None:
        """Count one handled timer and how late it fired."""
        self.timers_fired.labels(kind, outcome).inc()
        if outcome == "fired":
            self.timer_lateness_seconds.labels(kind).observe(lateness)

    def set_timers(self, counts: Iterable[tuple[str, int]]) -> None:
        """Replace the pending-timers gauge with ``(kind, pending)`` rows."""
        self.timers_pending.clear()
        for kind, pending in counts:
            self.timers_pending.labels(kind).set(pending)

    def observe_outbox_attempt(self, kind: str, outcome: str, seconds: float) -> None:
        """Count one delivery attempt and its duration."""
        self.outbox_attempts.labels(kind, outcome).inc()
        self.outbox_delivery_seconds.labels(kind).observe(seconds)

    def set_outbox_defer_bound(self, seconds: float) -> None:
        """Export the configured bound on yielding to ingest."""
        self.outbox_defer_bound.set(seconds)

    def set_outbox_deferring(self, deferring: bool, ended_after: float) -> None:
        """Deliveries started (or stopped, after ``ended_after`` seconds) yielding to ingest."""
        self.outbox_deferring.set(1 if deferring else 0)
        if ended_after > 0:
            self.outbox_deferring_seconds.inc(ended_after)

    def set_outbox(
        self,
        depths: Iterable[tuple[str, str, int, int, float | None]],
        overflow: Mapping[tuple[str, str, str], int],
    ) -> None:
        """Replace the queue gauges with ``(kind, destination, pending, failed, oldest age)``."""
        self.outbox_pending.clear()
        self.outbox_failed.clear()
        self.outbox_oldest_seconds.clear()
        oldest: dict[str, float] = {}
        for kind, destination, pending, failed, age in depths:
            self.outbox_pending.labels(kind, destination).set(pending)
            self.outbox_failed.labels(kind, destination).set(failed)
            if age is not None:
                oldest[kind] = max(oldest.get(kind, 0.0), age)
        for kind, age in oldest.items():
            self.outbox_oldest_seconds.labels(kind).set(age)
        for (kind, destination, verdict), count in overflow.items():
            self.outbox_overflow.labels(kind, destination, verdict).set(count)

    def observe_pruned(self, counts: Mapping[str, int]) -> None:
        """Count one retention pass's deleted rows (``{table: rows}``)."""
        for table, rows in counts.items():
            self.pruned_rows.labels(table).inc(rows)

    def observe_batch(self, size: int, seconds: float) -> None:
        """Record one committed batch (called from the writer thread; thread-safe)."""
        self.batch_size.observe(size)
        self.commit_seconds.observe(seconds)

    def set_open_incidents(self, rows: Iterable[tuple[str, str, int]]) -> None:
        """Replace the open-incident gauge with ``(service, status, count)`` rows.

        Renders its exposition text here, once per count, which may run in a worker
        thread (the background count does): 2,000 samples took longer to render than to
        count, and a scrape only appends the text.
        """
        gauge = self.open_incidents
        gauge.rows = list(rows)
        gauge.text = generate_latest(gauge.registry)
        gauge.read_at = gauge.now()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry) + self.open_incidents.text


#: Seconds a count of open incidents is served before a scrape asks for a new one.
OPEN_INCIDENTS_MAX_AGE = 5.0


class OpenIncidents(Collector):
    """``alert_gateway_open_incidents``: the rows of the last count, as they are.

    Counting is not free (50,000 open incidents: ~20 ms), so a scrape does not wait for
    it: it serves the last count and, when that is older than
    :data:`OPEN_INCIDENTS_MAX_AGE`, starts a new one in the background for the next
    scrape (the very first scrape counts before it answers). A scrape's figures are
    therefore those read after the previous scrape, or at most that many seconds earlier.

    A collector rather than a labelled :class:`Gauge`: clearing a gauge and setting a
    child per label pair took longer than the query itself with 1,000 services, and
    the counts are replaced whole at every scrape anyway.
    """

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.rows: list[tuple[str, str, int]] = []
        #: The clock of the refresh rule (monotonic seconds; tests replace it).
        self.now = now
        #: When ``rows`` were read (``None``: never); a refresh is under way while ``reading``.
        self.read_at: float | None = None
        self.reading = False
        #: A registry of this collector alone, and its text for ``rows``.
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self)
        self.text = generate_latest(self.registry)

    def refresh_due(self) -> bool:
        """Whether a scrape should start a new count: none is running and the rows are
        older than :data:`OPEN_INCIDENTS_MAX_AGE` (or were never read)."""
        if self.reading:
            return False
        return self.read_at is None or self.now() - self.read_at >= OPEN_INCIDENTS_MAX_AGE

    def describe(self) -> Iterable[Metric]:
        """The metric's name and help, for the registry's duplicate check."""
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        """One gauge family with a sample per ``(service, status)`` row."""
        family = self._family()
        for service, status, count in self.rows:
            family.add_metric((service, status), count)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "alert_gateway_open_incidents",
            "Open incidents by service and status, as counted at the previous scrape"
            " or at most 5 s before it.",
            labels=("service", "status"),
        )
