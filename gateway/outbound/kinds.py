"""The delivery-kind protocol: what a kind of outbound message is and how it is sent.

A kind (webhook subscriptions, forwarding upstream, a plugin's own) is an object with a
``name``, a :class:`RetryPolicy`, an overflow policy (``max_pending``,
``drop_on_overflow``), an async :meth:`DeliveryKind.send` that makes one attempt and
classifies it, and :meth:`DeliveryKind.settled`, called in the transaction that records a
message's final outcome. Built-in kinds are listed by :mod:`gateway.outbound.builtin`;
plugins add theirs through the ``register_delivery_kinds`` hook (docs/plugins.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx

from gateway.clock import Clock
from gateway.core.outbox import Message
from gateway.core.outbox_policy import Delivered, Drop, Outcome, Retry, RetryPolicy
from gateway.store import Reader, Tx

__all__ = [
    "Delivered",
    "DeliveryKind",
    "Drop",
    "Message",
    "Outcome",
    "Retry",
    "RetryPolicy",
    "SendEnv",
    "classify_status",
    "retry_after",
]

T = TypeVar("T")


@dataclass(frozen=True)
class SendEnv:
    """What a kind's ``send`` may use.

    ``client`` enforces the outbound address policy (a deny-listed address is refused at
    connect time as :class:`gateway.outbound.addresses.DeniedAddress`, an
    ``httpx.ConnectError``); ``read`` runs a function on a store read connection
    (``await env.read(fn)``); ``clock`` is the daemon's clock; ``log`` a bound logger.
    """

    client: httpx.AsyncClient
    read: Callable[[Callable[[Reader], Any]], Awaitable[Any]]
    clock: Clock
    log: Any


@runtime_checkable
class DeliveryKind(Protocol):
    """One kind of outbound message (see the module docstring)."""

    name: str
    policy: RetryPolicy
    #: Pending messages one destination may hold; ``0`` means no limit.
    max_pending: int
    #: Past ``max_pending``: ``True`` refuses new messages (counted, logged); ``False``
    #: keeps them anyway and only warns.
    drop_on_overflow: bool

    async def send(self, message: Message, env: SendEnv) -> tuple[Outcome, int | None]:
        """Make one attempt with ``env.client``; return its outcome and HTTP status (or None).

        Must not raise for a failed delivery: classify it. An exception is recorded as a
        Retry with the exception's text. The engine bounds the call by the policy's
        ``timeout`` (a timeout is a Retry).
        """
        ...

    def settled(self, tx: Tx, message: Message, outcome: Outcome) -> None:
        """Called in the transaction that records the final outcome (delivered or failed)."""
        ...


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (HTTP dates are ignored)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def classify_status(response: httpx.Response) -> Outcome:
    """The common HTTP classification: 2xx delivered; 429 and 5xx retried; other 4xx dropped.

    A 429's or 503's ``Retry-After`` (in seconds) sets when to try again. 1xx/3xx are
    retried (the client follows no redirects: a redirect could lead past the address
    policy's intent, so it is a destination error worth retrying later, not a success).
    """
    status = response.status_code
    if 200 <= status < 300:
        return Delivered()
    if status == 429 or status >= 500:
        return Retry(f"HTTP {status}", retry_after(response))
    if 400 <= status < 500:
        return Drop(f"HTTP {status}")
    return Retry(f"HTTP {status}")
