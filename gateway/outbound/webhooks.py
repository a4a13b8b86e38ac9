"""The ``webhook`` delivery kind: v3 webhook messages sent and signed as PagerDuty does.

One POST per message to the subscription's URL (read when sent, so a changed URL or a
rotated secret applies to what is queued), with:

- ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>``, one ``v1=`` value per
  live secret (comma-separated while a rotation overlaps: the new secret's first);
- ``X-Webhook-Id``: the message id, the same on every retry (receivers de-duplicate on it);
- ``X-Webhook-Subscription``, ``Content-Type: application/json`` and the custom headers.

A 2xx within 5 s is delivered. Timeouts, connection and DNS failures, 5xx and 429 are
retried (a ``Retry-After`` is honoured): 5 attempts in all over about 20 minutes. Any
other 4xx and TLS errors drop the message at once. After 3 messages in a row failed
for good, the subscription is ``temporarily_disabled`` until enabled (:meth:`settled`);
what it still has queued is then dropped as it comes up, without a request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import structlog

from gateway.core.outbox import Message
from gateway.core.webhooks import KIND
from gateway.domain import WebhookSubscription
from gateway.outbound.kinds import (
    Delivered,
    Drop,
    Outcome,
    RetryPolicy,
    SendEnv,
    classify_status,
)
from gateway.store import Reader, Tx

__all__ = ["DROPS_TO_DISABLE", "POLICY", "WebhookKind", "signature"]

log = structlog.get_logger("gateway.webhooks")

#: 5 attempts; waits of about 80, 160, 320 and 640 s between them: ~20 minutes in all.
POLICY: Final = RetryPolicy(
    max_attempts=5, max_age_seconds=None, first_delay=80.0, max_delay=640.0, timeout=5.0
)
#: Messages failed for good in a row that disable a subscription.
DROPS_TO_DISABLE: Final = 3
#: Webhooks waiting per subscription; past that, new ones drop. PagerDuty's 4,000 bounds
#: what queues behind a *retrying* webhook; here every waiting webhook counts, so a healthy
#: receiver in an incident storm (10,000 incidents at once) must not lose any: the bound is
#: there for a dead receiver's pile, on disk.
MAX_PENDING: Final = 20_000
#: The reason of a message dropped without a request (not the receiver's fault).
NOT_SENT: Final = "not sent: "


def signature(body: bytes, secrets: Iterable[str]) -> str:
    """``X-PagerDuty-Signature``: ``v1=<hex HMAC-SHA256>`` per secret, comma-separated."""
    return ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)


@dataclass
class WebhookKind:
    """Webhook subscriptions' deliveries (the outbox kind ``webhook``)."""

    name: str = KIND
    policy: RetryPolicy = POLICY
    max_pending: int = MAX_PENDING
    drop_on_overflow: bool = True
    user_agent: str = field(default="alert-gateway-webhook/1")

    async def send(self, message: Message, env: SendEnv) -> tuple[Outcome, int | None]:
        """One POST of the message to its subscription, signed; classified as the docstring says."""
        subscription: WebhookSubscription | None = await env.read(
            lambda reader: _subscription(reader, message.destination)
        )
        if subscription is None:
            return Drop(NOT_SENT + "the subscription was deleted"), None
        if subscription.temporarily_disabled:
            return Drop(NOT_SENT + "the subscription is temporarily disabled"), None
        secrets = [subscription.secret]
        if subscription.previous_secret:
            secrets.append(subscription.previous_secret)
        headers = {name: value for name, value in subscription.custom_headers}
        headers.update(
            {
                "Content-Type": "application/json",
                "User-Agent": self.user_agent,
                "X-Webhook-Id": message.id,
                "X-Webhook-Subscription": subscription.id,
                "X-PagerDuty-Signature": signature(message.body, secrets),
            }
        )
        response = await env.client.post(subscription.url, content=message.body, headers=headers)
        return classify_status(response), response.status_code

    def settled(self, tx: Tx, message: Message, outcome: Outcome) -> None:
        """Count failures in a row; at :data:`DROPS_TO_DISABLE` disable the subscription."""
        if isinstance(outcome, Delivered):
            tx.reset_webhook_drops(message.destination)
            return
        if isinstance(outcome, Drop) and outcome.reason.startswith(NOT_SENT):
            return  # dropped without asking the receiver: not its failure
        if tx.count_webhook_drop(message.destination, limit=DROPS_TO_DISABLE):
            log.warning(
                "webhook.temporarily_disabled",
                subscription=message.destination,
                drops=DROPS_TO_DISABLE,
            )


def _subscription(reader: Reader, subscription_id: str) -> WebhookSubscription | None:
    return reader.webhook(subscription_id)
