"""The ``forward`` delivery kind: events relayed to an upstream Events API v2 (relay mode).

What pdagent does for a monitoring host, for every service that forwards
(:mod:`gateway.core.forwarding` enqueues the copies). One attempt posts the message's
body to its destination (``<url>/v2/enqueue`` or ``<url>/v2/change/enqueue``) and reads
the answer as PagerDuty's Events API gives it:

- 2xx (202): delivered;
- 429: the routing key is slowed down (:class:`KeyPacer`) and the event retried, never
  dropped: PagerDuty allows a key about 120 events a minute;
- 5xx, 408, a timeout or a network error: retried with exponential backoff until the
  event is ``max_age`` old, then parked as ``failed`` with the last reason;
- 400 and any other 4xx: parked as ``failed`` at once with the upstream's own error text
  (the event will never be accepted as it is);
- a destination the outbound address policy denies, or a TLS error: parked as failed.

Order per target and dedup key is the queue's (the message's order key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

from gateway.clock import parse_iso
from gateway.config import ForwardingSettings
from gateway.core.forwarding import KIND
from gateway.core.outbox_policy import Delivered, Drop, Outcome, Retry, RetryPolicy
from gateway.domain import OutboxMessage
from gateway.logs import redact
from gateway.outbound.engine import classify_error
from gateway.outbound.kinds import SendEnv, retry_after
from gateway.store import Tx

__all__ = ["ForwardKind", "KeyPacer", "forward_kind"]

#: How long a slowed-down key stays slow after its last 429 (PagerDuty counts per minute).
SLOW_WINDOW = 60.0
#: The longest spacing repeated 429s can push a key to.
MAX_SPACING = 60.0
#: Upstream error text kept with a parked message.
MAX_ERROR_TEXT = 500
#: Statuses of a 4xx family that are the upstream's passing trouble, not the event's.
_TRANSIENT_4XX = (408, 425)


@dataclass
class _Slow:
    spacing: float
    next_slot: float
    until: float
    reserved: dict[str, float] = field(default_factory=dict)


@dataclass
class KeyPacer:
    """Spaces out the events of a routing key that got a 429, per this node.

    A key is normal until a 429: then for :data:`SLOW_WINDOW` seconds after its last 429
    its events leave at least ``60 / rate_per_minute`` seconds apart, and each further
    429 doubles that spacing (up to :data:`MAX_SPACING`). An event whose turn has not
    come is handed back with its own time slot reserved (by message id), so the waiting
    events of a key go one after the other instead of all at once when the wait ends.
    Times are the daemon clock's seconds. Only this node's sends are paced.
    """

    rate_per_minute: float = 120.0
    _keys: dict[str, _Slow] = field(default_factory=dict)

    @property
    def spacing(self) -> float:
        """Seconds between two events of a slowed key, before any doubling."""
        return 60.0 / self.rate_per_minute

    def wait(self, key: str, message_id: str, now: float) -> float:
        """Seconds ``message_id`` must still wait before it may go to ``key`` (0: send now)."""
        slow = self._keys.get(key)
        if slow is None:
            return 0.0
        if now >= slow.until and all(now >= t for t in slow.reserved.values()):
            del self._keys[key]  # the window passed and nobody waits: back to normal
            return 0.0
        slot = slow.reserved.pop(message_id, None)
        if slot is None:
            slot = max(now, slow.next_slot)
            slow.next_slot = slot + slow.spacing
        if slot <= now + 1e-6:
            return 0.0
        slow.reserved[message_id] = slot
        return slot - now

    def throttled(self, key: str, message_id: str, now: float, retry_after: float | None) -> float:
        """``key`` answered 429 for ``message_id``: slow the key; seconds until its retry."""
        slow = self._keys.get(key)
        if slow is None:
            slow = self._keys[key] = _Slow(self.spacing, now, now)
        else:
            slow.spacing = min(slow.spacing * 2, MAX_SPACING)
        slow.until = now + SLOW_WINDOW
        earliest = now + max(retry_after or 0.0, slow.spacing)
        slot = max(earliest, slow.next_slot)
        slow.next_slot = slot + slow.spacing
        slow.reserved[message_id] = slot
        return slot - now

    def slowed(self, key: str) -> float | None:
        """The spacing of a slowed key in seconds (``None``: not slowed)."""
        slow = self._keys.get(key)
        return None if slow is None else slow.spacing


@dataclass
class ForwardKind:
    """The ``forward`` delivery kind (see the module docstring)."""

    policy: RetryPolicy
    max_age_seconds: float
    request_timeout: float
    pacer: KeyPacer
    name: str = KIND
    #: No limit: forwarded events are never dropped for a long queue. A limit would only
    #: warn (``drop_on_overflow`` is False), once per event past it, exactly while the
    #: upstream is down. The queue gauges (``alert_gateway_outbox_pending``,
    #: ``…_oldest_pending_seconds``) show a growing backlog instead.
    max_pending: int = 0
    drop_on_overflow: bool = False

    async def send(self, message: OutboxMessage, env: SendEnv) -> tuple[Outcome, int | None]:
        """Post the event upstream once and classify the answer."""
        key = _routing_key(message.body)
        now = env.clock.now().timestamp()
        wait = self.pacer.wait(key, message.id, now)
        if wait > 0:
            return Retry(f"held back, not sent: routing key {redact(key)} slowed down", wait), None
        try:
            response = await env.client.post(
                message.destination,
                content=message.body,
                headers={"content-type": "application/json"},
                timeout=self.request_timeout,
            )
        except httpx.HTTPError as exc:
            return self._aged(classify_error(exc), message, now), None
        status = response.status_code
        if 200 <= status < 300:
            return Delivered(), status
        if status == 429:
            after = self.pacer.throttled(key, message.id, now, retry_after(response))
            spacing = self.pacer.slowed(key) or 0.0
            return Retry(
                f"HTTP 429: routing key {redact(key)} slowed to one event per {spacing:g} s",
                after,
            ), status
        if 400 <= status < 500 and status not in _TRANSIENT_4XX:
            return Drop(f"HTTP {status}: {_text(response)}"), status
        return self._aged(Retry(f"HTTP {status}: {_text(response)}"), message, now), status

    def _aged(self, outcome: Outcome, message: OutboxMessage, now: float) -> Outcome:
        """A retry of an event older than the maximum age parks it as failed instead."""
        if not isinstance(outcome, Retry):
            return outcome
        age = now - parse_iso(message.created_at).timestamp()
        if age < self.max_age_seconds:
            return outcome
        hours = self.max_age_seconds / 3600
        return Drop(f"gave up after {hours:g} h (max age): {outcome.reason}")

    def settled(self, tx: Tx, message: OutboxMessage, outcome: Outcome) -> None:
        """Nothing to do: a parked event stays listed (CLI, REST, metrics) until retried."""


def forward_kind(settings: ForwardingSettings) -> ForwardKind:
    """The kind as ``[forwarding]`` configures it."""
    return ForwardKind(
        # No attempt or age limit in the queue's policy: a 429 must never park an event,
        # so the maximum age is applied here, to 5xx and network failures only.
        policy=RetryPolicy(
            max_attempts=None,
            max_age_seconds=None,
            first_delay=settings.first_delay_seconds,
            max_delay=settings.max_delay_seconds,
            # The request's own limit comes first, so a timeout is a classified failure.
            timeout=settings.timeout_seconds + 5,
        ),
        max_age_seconds=settings.max_age_hours * 3600,
        request_timeout=settings.timeout_seconds,
        pacer=KeyPacer(settings.rate_per_minute),
    )


def _routing_key(body: bytes) -> str:
    """The routing key a forwarded body carries (the key paced on a 429)."""
    try:
        value = json.loads(body).get("routing_key")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _text(response: httpx.Response) -> str:
    """The upstream's answer as one line of text, cut to a reasonable length."""
    text = " ".join(response.text.split())
    return text[:MAX_ERROR_TEXT] or "(no body)"
