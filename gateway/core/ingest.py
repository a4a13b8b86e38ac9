"""The one path an event travels: parse → enrich/filter → validate → commit → observe."""

from __future__ import annotations

import time

import structlog

from gateway import cef
from gateway.core.rules import apply_event
from gateway.domain import Integration
from gateway.errors import (
    EventError,
    InvalidEvent,
    InvalidRoutingKey,
    PluginFailure,
    RetryLater,
)
from gateway.model import Event, InboundRequest, Outcome, Vendor
from gateway.plugins import PluginHost
from gateway.store import Reader, Store, Tx

log = structlog.get_logger("gateway.ingest")

#: How long a key-in-URL lookup is reused (see :meth:`Ingest.integration_for_key`).
KEY_CACHE_SECONDS = 1.0
#: At most this many keys are remembered.
KEY_CACHE_SIZE = 4096


class Ingest:
    """Turns inbound requests into committed outcomes.

    Shared by every inbound channel (HTTP ingest, SMTP). Answers only after
    the store committed; raises :class:`~gateway.errors.EventError` for a
    request that can never be accepted, :class:`PluginFailure` for a plugin
    bug, :class:`~gateway.errors.StoreUnavailable` when the store cannot commit.
    """

    def __init__(self, store: Store, plugins: PluginHost) -> None:
        self.store = store
        self.plugins = plugins
        self._keys: dict[str, tuple[float, Integration]] = {}

    async def integration_for_key(self, key: str) -> Integration | None:
        """Look up the live integration that owns ``key`` (for key-in-URL paths).

        A found integration is reused for :data:`KEY_CACHE_SECONDS`: the lookup is a
        read on a worker thread, and that hop cost the vendor paths ~0.25 ms of CPU per
        request (bench/RESULTS-2026-11-29.md). Staleness is bounded and harmless: the
        commit checks the key again inside its transaction (``expect_key``), so a
        deleted integration never takes an event, and edited settings apply within the
        TTL. Unknown keys are not cached, so a new integration works at once.
        """
        if cef.routing_key_errors(key):
            return None
        now = time.monotonic()
        cached = self._keys.get(key)
        if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
            return cached[1]

        def lookup(reader: Reader) -> Integration | None:
            return reader.integration_by_key(key)

        integration = await self.store.read(lookup)
        if integration is None:
            self._keys.pop(key, None)
            return None
        if len(self._keys) >= KEY_CACHE_SIZE:
            self._keys.clear()  # bounded; refilled by the keys actually in use
        self._keys[key] = (now, integration)
        return integration

    def forget_keys(self) -> None:
        """Drop the key → integration cache (after a reload, or a refused stale key)."""
        self._keys.clear()

    async def parse(self, vendor: Vendor, request: InboundRequest) -> list[Event]:
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

    def prepare(self, vendor: Vendor, events: list[Event]) -> list[Event]:
        """Run the enrich/filter hooks and validate what remains against PD-CEF.

        Validation runs for every vendor, with or without hooks: a third-party
        parser may build an event that breaks PD-CEF, and nothing invalid is stored.
        """
        if self.plugins.has_event_hooks:
            events = [e for e in events if self.plugins.run_enrichment(e, vendor.id)]
        for event in events:
            problems = cef.validate(event)
            if problems:
                raise InvalidEvent(problems)
        return events

    async def commit(self, events: list[Event], *, expect_key: str | None = None) -> list[Outcome]:
        """Apply events in one savepoint: all of a request's events, or none."""
        if not events:
            return []

        def job(tx: Tx) -> list[Outcome]:
            if expect_key is not None and tx.integration_by_key(expect_key) is None:
                raise InvalidRoutingKey()
            return [apply_event(tx, event) for event in events]

        return await self.store.write(job)

    async def handle(self, vendor: Vendor, request: InboundRequest) -> list[Outcome]:
        """Parse, prepare and commit one request."""
        events = self.prepare(vendor, await self.parse(vendor, request))
        return await self.commit(events)
