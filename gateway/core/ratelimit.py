"""A sliding 60-second window per integration key, as PagerDuty's Events API applies."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

from gateway.errors import RateLimited
from gateway.model import Event

WINDOW_SECONDS = 60.0
_PRUNE_EVERY = 1024


class RateLimiter:
    """Allows at most ``per_minute`` events per key in any 60 s window.

    Memory is bounded: each key keeps at most ``per_minute`` timestamps, and
    keys idle for a whole window are dropped every so often (so random keys
    from a misbehaving sender cannot grow it forever).
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._calls = 0

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; ``False`` if it is over the limit (not counted)."""
        now = self._clock()
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 0:
            self._prune(now)
        stamps = self._seen.get(key)
        if stamps is None:
            stamps = self._seen[key] = deque(maxlen=self.per_minute)
        if len(stamps) == self.per_minute and now - stamps[0] < WINDOW_SECONDS:
            return False
        stamps.append(now)
        return True

    def check(self, events: Iterable[Event]) -> None:
        """Count each event against its routing key; raise :class:`RateLimited` when over."""
        for event in events:
            if not self.allow(event.routing_key):
                raise RateLimited(self.per_minute)

    def _prune(self, now: float) -> None:
        idle = [k for k, s in self._seen.items() if not s or now - s[-1] >= WINDOW_SECONDS]
        for key in idle:
            del self._seen[key]
