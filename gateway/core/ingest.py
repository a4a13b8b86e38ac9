"""The one path an event travels, for every channel: route → parse → enrich → validate →
rate → commit → observe.

HTTP (:mod:`gateway.http.events`) and SMTP (:mod:`gateway.email.delivery`) only turn
their request into an :class:`~gateway.model.InboundRequest`, call :meth:`Ingest.handle`
once, and turn its :class:`Accepted` or :class:`Refused` into their own answer (a status
code and body, an SMTP reply). Every rule of the path lives here, once:

- which vendor parses (:meth:`Ingest.vendor_for_request`);
- which integration may take an event through which vendor (:meth:`Ingest.admits`);
- validation (after the enrich/filter hooks), the rate limit, the commit;
- the ``alert_gateway_events_total`` counts, the ingest latency, the ``event.*`` logs.

Nothing is accepted before the store committed it: :class:`Accepted` means on disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import msgspec
import structlog

from gateway import cef
from gateway.core.key_cache import KeyCache
from gateway.core.ratelimit import RateLimiter
from gateway.core.rules import apply_event
from gateway.core.text import NUL, scrub_event
from gateway.domain import Integration
from gateway.errors import (
    EventError,
    GatewayError,
    InvalidEvent,
    InvalidRoutingKey,
    PluginFailure,
    RateLimited,
    RetryLater,
)
from gateway.logs import redact
from gateway.metrics import Metrics, action_label
from gateway.model import Event, InboundRequest, Outcome, Vendor
from gateway.plugins import PluginHost
from gateway.store import Store, Tx

log = structlog.get_logger("gateway.ingest")


@dataclass(frozen=True, slots=True)
class Accepted:
    """Every event of the request(s) is committed (or was dropped by a filter hook).

    ``vendor_ids`` names the vendor of each event, in order (a mail to two
    integrations may be parsed by two vendors); ``outcomes`` pairs with ``events``.
    """

    vendor: Vendor
    events: list[Event]
    outcomes: list[Outcome]
    vendor_ids: list[str]


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was accepted. ``error`` says why; ``outcome`` is its metric label.

    ``outcome`` is ``invalid`` (never acceptable: 4xx / SMTP 5xx), ``rate_limited``,
    ``unavailable`` (retry later: 503 / 451) or ``error`` (a plugin's bug or ours).
    ``vendor`` is ``None`` when no vendor was found for the request.
    """

    vendor: Vendor | None
    error: Exception
    outcome: str
    events: list[Event] = field(default_factory=list)


def outcome_of(error: Exception) -> str:
    """The ``alert_gateway_events_total`` outcome label of a refusal."""
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, EventError):
        return "invalid"
    if isinstance(error, RetryLater):
        return "unavailable"
    return "error"


def _never() -> bool:
    return False


class Ingest:
    """Turns inbound requests into committed outcomes; shared by every channel.

    ``limiter`` is the ``[rate_limit]`` in force (``None``: unlimited); the daemon
    replaces it on reload. Answers only after the store committed. ``monotonic`` is the
    key cache's clock (seconds; only differences count), replaceable so that a test can
    step past :data:`~gateway.core.key_cache.KEY_CACHE_SECONDS` without sleeping.
    """

    def __init__(
        self,
        store: Store,
        plugins: PluginHost,
        metrics: Metrics | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.plugins = plugins
        self.metrics = metrics or Metrics()
        self.limiter: RateLimiter | None = None
        #: Whether new incidents are paged from a timer rather than in the event's job:
        #: the daemon sets it to "ingest keeps the writer busy" (``max_defer_seconds``).
        self.page_later: Callable[[], bool] = _never
        self._keys = KeyCache(store, monotonic)

    @property
    def monotonic(self) -> Callable[[], float]:
        """The key cache's clock; a test may replace it on a running gateway."""
        return self._keys.clock

    @monotonic.setter
    def monotonic(self, clock: Callable[[], float]) -> None:
        self._keys.clock = clock

    # -- the one call ---------------------------------------------------------------------------

    async def handle(self, *requests: InboundRequest, logger: Any = None) -> Accepted | Refused:
        """Route, parse, enrich, validate, rate-check and commit; then count and log.

        Each request is routed on its own: by its exact path (``/v2/enqueue`` …) when
        a vendor serves that path, else by its ``integration_key`` (key in the URL, or
        the integration a mail was addressed to), whose integration's settings the
        vendor then sees. The events of all ``requests`` commit in one savepoint —
        all or none — so one SMTP reply is true for every recipient.

        ``logger`` is the channel's bound logger (request id, peer …). Never raises
        for anything a request or a plugin can cause: the answer is :class:`Refused`.
        """
        bound = logger if logger is not None else log
        started = time.perf_counter()
        first_vendor: Vendor | None = None
        events: list[Event] = []
        event_vendors: list[Vendor] = []
        routed: list[tuple[Vendor, InboundRequest]] = []
        try:
            for inbound in requests:
                vendor, request = await self._route(inbound)
                first_vendor = first_vendor or vendor
                routed.append((vendor, request))
                parsed = await self._parse(vendor, request)
                if request.integration_key is not None:
                    parsed = _routed_by(request.integration_key, parsed)
                parsed = self._prepare(vendor, parsed)
                events.extend(parsed)
                event_vendors.extend(vendor for _ in parsed)
            self._check_rate(events)
            keys = [r.integration_key for _, r in routed if r.integration_key is not None]
            outcomes = await self._commit(events, event_vendors, keys)
        except Exception as exc:
            if not isinstance(exc, GatewayError):
                # A bug of ours: logged with its traceback, answered as a 500 / 451.
                bound.exception("event.internal_error")
            self._after(routed, committed=False)
            if isinstance(exc, InvalidRoutingKey) and (
                not routed or any(r.integration_key for _, r in routed)
            ):
                # A key-routed integration went away after its lookup was cached (or was
                # never there): answer exactly as for a key unknown on arrival.
                self.forget_keys()
                return self._refused(bound, None, [], exc)
            return self._refused(bound, first_vendor, events, exc, event_vendors)
        self._after(routed, committed=True)
        assert first_vendor is not None  # a request without a vendor raised above
        vendor_ids = [v.id for v in event_vendors]
        self._accepted(bound, events, outcomes, vendor_ids, started)
        return Accepted(first_vendor, events, outcomes, vendor_ids)

    def abandoned(
        self, outcome: str, *, vendor: Vendor | None = None, logger: Any = None, **fields: Any
    ) -> None:
        """Count and log a request its sender did not finish: ``outcome`` says how.

        ``client_disconnected`` (it hung up mid-body) or ``body_timeout`` (it was too slow
        to send it). Logged as ``event.<outcome>`` at info level and counted under that
        outcome: the sender's doing is not the gateway's error, and must not page
        whoever watches ``outcome="error"``.
        """
        vendor_id = vendor.id if vendor else "unknown"
        self.metrics.events.labels(vendor_id, "unknown", outcome).inc()
        (logger if logger is not None else log).info(f"event.{outcome}", vendor=vendor_id, **fields)

    def refuse(
        self, error: Exception, *, vendor: Vendor | None = None, logger: Any = None
    ) -> Refused:
        """Count and log a request a channel refused before :meth:`handle` (a body too large)."""
        return self._refused(logger if logger is not None else log, vendor, [], error)

    # -- routing --------------------------------------------------------------------------------

    def vendor_for_request(self, request: InboundRequest) -> Vendor | None:
        """The vendor serving the request's exact path, if one does (``/v2/enqueue`` …)."""
        return self.plugins.vendor_for_path(request.path)

    def admits(self, vendor: Vendor, integration: Integration) -> bool:
        """Whether ``integration`` may take an event that ``vendor`` parsed.

        An integration whose own vendor checks the sender (SNS signatures and topic
        allow-lists, email sender filters, or any plugin's ``checks_sender``) takes
        events only through that vendor: a setting the operator turned on holds on
        every path, and the generic paths answer "Invalid routing key" for it.
        Integrations whose vendor checks nothing accept Events API v1/v2 too, as
        PagerDuty's vendor integrations do.
        """
        own = self.plugins.vendor_for(integration)
        if own is None or own.id == vendor.id or own.checks_sender is None:
            return True
        try:
            checks = own.checks_sender(integration.settings)
        except Exception as exc:
            plugin = self.plugins.vendor_plugin.get(own.id, own.id)
            log.exception("plugin.hook_failed", plugin=plugin, hook="checks_sender")
            raise PluginFailure(plugin, exc) from exc
        return not checks

    async def _route(self, request: InboundRequest) -> tuple[Vendor, InboundRequest]:
        vendor = self.vendor_for_request(request)
        if vendor is not None:
            return vendor, request
        key = request.integration_key
        integration = await self.integration_for_key(key) if key else None
        if integration is None:
            raise InvalidRoutingKey()
        vendor = self.plugins.vendor_for(integration)
        if vendor is None:
            raise InvalidEvent([f"integration type {integration.type} does not accept HTTP events"])
        return vendor, replace(request, settings=integration.settings)

    async def integration_for_key(self, key: str) -> Integration | None:
        """The live integration that owns ``key`` (key-in-URL paths and mail), through the
        short-lived cache of :mod:`gateway.core.key_cache`."""
        if NUL in key:
            # No key holds a NUL, and PostgreSQL refuses one in a query: unknown, not a 500.
            return None
        return await self._keys.integration(key)

    def forget_keys(self) -> None:
        """Drop the key → integration cache (after a reload, or a refused stale key)."""
        self._keys.clear()

    # -- the steps ------------------------------------------------------------------------------

    async def _parse(self, vendor: Vendor, request: InboundRequest) -> list[Event]:
        """Let the vendor's plugin parse the request, isolating its failures."""
        try:
            events = await vendor.parse(request)
        except (EventError, RetryLater):
            raise
        except Exception as exc:
            plugin = self.plugins.vendor_plugin.get(vendor.id, vendor.id)
            log.exception("plugin.parse_failed", plugin=plugin, vendor=vendor.id)
            raise PluginFailure(plugin, exc) from exc
        if not isinstance(events, list) or not all(isinstance(e, Event) for e in events):
            plugin = self.plugins.vendor_plugin.get(vendor.id, vendor.id)
            log.error("plugin.bad_result", plugin=plugin, vendor=vendor.id)
            raise PluginFailure(plugin, TypeError("parse must return list[Event]"))
        return events

    def _prepare(self, vendor: Vendor, events: list[Event]) -> list[Event]:
        """Run the enrich/filter hooks and validate what remains against PD-CEF, once.

        Validation runs for every vendor, with or without hooks: a third-party
        parser may build an event that breaks PD-CEF, and nothing invalid is stored.
        Each NUL in the event's text becomes U+FFFD first (:mod:`gateway.core.text`):
        PostgreSQL cannot store one, and a sender is never refused over a detail.
        """
        if self.plugins.has_event_hooks:
            events = [e for e in events if self.plugins.run_enrichment(e, vendor.id)]
        events = [scrub_event(e) for e in events]
        for event in events:
            problems = cef.validate(event)
            if problems:
                raise InvalidEvent(problems, event_action=event.event_action)
        return events

    def _check_rate(self, events: list[Event]) -> None:
        if self.limiter is not None:
            self.limiter.check(events)

    async def _commit(
        self, events: list[Event], vendors: Sequence[Vendor], keys: Sequence[str]
    ) -> list[Outcome]:
        """Apply events in one savepoint: all of the requests' events, or none.

        ``keys`` are the integration keys the requests were routed by: each must still
        be live inside the transaction (the lookup before it may be up to a second old).
        """
        if not events:
            return []
        admits = self.admits
        page_later = self.page_later()

        def job(tx: Tx) -> list[Outcome]:
            tx.page_later = page_later
            for key in keys:
                if tx.integration_by_key(key) is None:
                    raise InvalidRoutingKey()
            return [
                apply_event(tx, event, admit=partial(admits, vendor))
                for event, vendor in zip(events, vendors, strict=True)
            ]

        return await self.store.write(job)

    # -- after ----------------------------------------------------------------------------------

    def _after(self, routed: list[tuple[Vendor, InboundRequest]], *, committed: bool) -> None:
        """Tell each vendor whether its request's events are on disk (isolating its bugs)."""
        for vendor, request in routed:
            if vendor.after_request is None:
                continue
            try:
                vendor.after_request(request, committed)
            except Exception:
                plugin = self.plugins.vendor_plugin.get(vendor.id, vendor.id)
                self.metrics.plugin_errors.labels(plugin).inc()
                log.exception("plugin.hook_failed", plugin=plugin, hook="after_request")

    def _accepted(
        self,
        bound: Any,
        events: list[Event],
        outcomes: list[Outcome],
        vendor_ids: list[str],
        started: float,
    ) -> None:
        metrics = self.metrics
        if vendor_ids:
            metrics.ingest_seconds.labels(vendor_ids[0]).observe(time.perf_counter() - started)
        # Accepted events are the normal case: debug, so a busy gateway's log holds what
        # needs attention (rejections, failures); the store's timeline records every event.
        for event, outcome, vendor_id in zip(events, outcomes, vendor_ids, strict=False):
            counted = "suppressed" if outcome.status == "suppressed" else "accepted"
            metrics.events.labels(vendor_id, outcome.event_action, counted).inc()
            bound.debug(
                "event.accepted",
                vendor=vendor_id,
                routing_key=redact(event.routing_key),
                integration_id=outcome.integration_id,
                service_id=outcome.service_id,
                event_action=outcome.event_action,
                dedup_key=outcome.dedup_key[:64],
                outcome=outcome.status,
            )

    def _refused(
        self,
        bound: Any,
        vendor: Vendor | None,
        events: list[Event],
        exc: Exception,
        event_vendors: list[Vendor] | None = None,
    ) -> Refused:
        """Count and log a request that was not accepted."""
        outcome = outcome_of(exc)
        vendor_id = vendor.id if vendor else "unknown"
        if isinstance(exc, PluginFailure):
            self.metrics.plugin_errors.labels(exc.plugin).inc()
        # Events parsed before the refusal are counted under their own vendor (a mail to
        # two integrations); a request refused before that counts once, under the action
        # its body named when it could be read that far (InvalidEvent.event_action).
        ids = [v.id for v in event_vendors or []]
        pairs: list[tuple[str, str]] = [
            (ids[i] if i < len(ids) else vendor_id, event.event_action)
            for i, event in enumerate(events)
        ]
        named = action_label(getattr(exc, "event_action", None))
        for counted_vendor, action in pairs or [(vendor_id, named)]:
            self.metrics.events.labels(counted_vendor, action, outcome).inc()
        if outcome != "error":
            level = "warning" if outcome == "unavailable" else "info"
            getattr(bound, level)(
                "event.refused",
                vendor=vendor_id,
                outcome=outcome,
                event_action=pairs[0][1] if pairs else named,
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )
        return Refused(vendor, exc, outcome, events)


def _routed_by(key: str, events: list[Event]) -> list[Event]:
    """Events of a request routed by ``key`` (in the URL, or the mail's integration).

    The URL's key decides, whatever the body says: a v2 body naming another key posted
    to ``/integration/A/enqueue`` goes to A, and is rate-limited as A. Anything else
    would let one integration's URL deliver into another's service.
    """
    return [
        e if e.routing_key == key else msgspec.structs.replace(e, routing_key=key) for e in events
    ]
