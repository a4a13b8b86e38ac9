"""The key → integration cache of the key-in-URL paths and mail.

A found integration is reused for :data:`KEY_CACHE_SECONDS`: the lookup is a read on a
worker thread, and that hop cost the vendor paths ~0.25 ms of CPU per request
(bench/RESULTS-2026-11-29.md). Staleness is bounded and harmless: the commit checks the
key again inside its transaction, so a deleted integration never takes an event, and
edited settings apply within the bound. Unknown keys are not cached, so a new
integration works at once.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway import cef
from gateway.domain import Integration
from gateway.store import Reader, Store

__all__ = ["KEY_CACHE_SECONDS", "KEY_CACHE_SIZE", "KeyCache"]

#: How long a key-in-URL lookup is reused.
KEY_CACHE_SECONDS = 1.0
#: At most this many keys are remembered.
KEY_CACHE_SIZE = 4096


class KeyCache:
    """Integrations by key, each reused for :data:`KEY_CACHE_SECONDS` of ``clock``."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock
        self._keys: dict[str, tuple[float, Integration]] = {}

    async def integration(self, key: str) -> Integration | None:
        """The live integration that owns ``key``, from memory or one store read."""
        if cef.routing_key_errors(key):
            return None
        now = self.clock()
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

    def clear(self) -> None:
        """Forget every key."""
        self._keys.clear()
