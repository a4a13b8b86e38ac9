"""What operators do with the outbound queue: list, show, retry and drop messages.

Like pdagent's ``pd-queue status|retry``, for every kind of message. The command line
(``alert-gateway outbox``, safe beside a running daemon) and the REST API's forwarding
routes call these; the queue's own rules (claiming, retrying, overflow) are
:mod:`gateway.core.outbox`'s. A retried message is pending and due at once, its
attempts counted anew; the deliverers pick it up at their next look (within a second).
A delivered message is history: it can be neither retried nor dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from gateway.core import outbox
from gateway.domain import OUTBOX_STATES, OutboxAttempt, OutboxEntry
from gateway.errors import Invalid, NotFound, Refused
from gateway.store import Reader, Tx

__all__ = [
    "DEFAULT_STATES",
    "MessageDetails",
    "check_states",
    "drop_message",
    "list_messages",
    "message_details",
    "retry_failed",
    "retry_message",
]

#: What operators want to see unless they ask: what has not been delivered.
DEFAULT_STATES: Final = ("pending", "failed")
MAX_LIMIT: Final = 1000


@dataclass(frozen=True, slots=True)
class MessageDetails:
    """One message's state and every attempt made so far."""

    entry: OutboxEntry
    attempts: list[OutboxAttempt]


def check_states(states: Sequence[str]) -> tuple[str, ...]:
    """The states asked for (``all``: every state), or :class:`Invalid`."""
    if not states:
        return DEFAULT_STATES
    if "all" in states:
        return OUTBOX_STATES
    wrong = [s for s in states if s not in OUTBOX_STATES]
    if wrong:
        raise Invalid([f"state must be one of {', '.join((*OUTBOX_STATES, 'all'))}"])
    return tuple(dict.fromkeys(states))


def list_messages(
    reader: Reader,
    *,
    kind: str | None = None,
    destination: str | None = None,
    states: Sequence[str] = (),
    after: str | None = None,
    limit: int = 100,
) -> list[OutboxEntry]:
    """Messages oldest first, filtered by kind, destination and states (default: undelivered)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid([f"limit must be between 1 and {MAX_LIMIT}"])
    return reader.outbox_entries(
        kind=kind, destination=destination, states=check_states(states), after=after, limit=limit
    )


def message_details(reader: Reader, message_id: str) -> MessageDetails:
    """A message's state and attempts, or :class:`NotFound`."""
    entry = reader.outbox_entry(message_id)
    if entry is None:
        raise NotFound("Message", message_id)
    return MessageDetails(entry, reader.outbox_attempts(message_id))


def _undelivered(reader: Reader, message_id: str, verb: str) -> OutboxEntry:
    entry = reader.outbox_entry(message_id)
    if entry is None:
        raise NotFound("Message", message_id)
    if entry.state == "delivered":
        raise Refused(
            "Message already delivered",
            code=2001,
            errors=[f"message {message_id} was delivered at {entry.finished_at}; cannot {verb} it"],
        )
    return entry


def retry_message(tx: Tx, message_id: str) -> OutboxEntry:
    """Send a failed (or waiting) message again now; :class:`NotFound` or :class:`Refused`."""
    _undelivered(tx, message_id, "retry")
    outbox.requeue(tx, message_id)
    entry = tx.outbox_entry(message_id)
    assert entry is not None
    return entry


def retry_failed(tx: Tx, *, kind: str | None = None, destination: str | None = None) -> int:
    """Send every failed message (of a kind, of a destination) again now; how many."""
    count = 0
    after: str | None = None
    while True:
        page = tx.outbox_entries(
            kind=kind, destination=destination, states=("failed",), after=after, limit=500
        )
        if not page:
            return count
        for entry in page:
            count += outbox.requeue(tx, entry.id)
        after = page[-1].id


def drop_message(tx: Tx, message_id: str) -> OutboxEntry:
    """Remove a message that was not delivered, with its attempts; return what it was."""
    entry = _undelivered(tx, message_id, "drop")
    outbox.discard(tx, message_id)
    return entry
