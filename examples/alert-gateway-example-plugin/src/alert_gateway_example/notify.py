"""A delivery kind: POST every incident change, as JSON, to ``EXAMPLE_NOTIFY_URL``.

The smallest use of the ``register_delivery_kinds`` hook. A producer (registered with
:func:`gateway.pluginkit.register_producer`) writes one message per incident change in the
same transaction as the change, so no change goes unannounced and none is announced that
did not commit; the gateway's deliverers send it, in order per incident, retrying with
backoff for up to an hour. Each request carries ``X-Example-Message-Id``, the same on every
retry, for the receiver to de-duplicate on (delivery is at least once).
"""

from __future__ import annotations

import json
import os
from typing import Any

from gateway.pluginkit import (
    DeliveryKind,
    IncidentChange,
    OutboundMessage,
    RetryPolicy,
    SendEnv,
    classify_status,
    enqueue,
)

KIND = "example_notify"
URL_VARIABLE = "EXAMPLE_NOTIFY_URL"


def produce(tx: Any, changes: list[IncidentChange]) -> None:
    """Enqueue one notification per change (nothing when the URL is not set)."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        return
    for change in changes:
        body = {
            "incident_id": change.incident_id,
            "incident_number": change.incident_number,
            "action": change.action,
            "status": change.status,
            "title": change.title,
        }
        enqueue(
            tx,
            kind=KIND,
            destination=url,
            order_key=change.incident_id,
            body=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )


class Notify:
    """The ``example_notify`` kind: 2xx delivered, 429/5xx/network retried, other 4xx dropped."""

    name = KIND
    policy = RetryPolicy(
        max_attempts=None, max_age_seconds=3600, first_delay=1, max_delay=60, timeout=5
    )
    max_pending = 10_000
    drop_on_overflow = False  # keep every notification, warn when a receiver falls behind

    async def send(self, message: OutboundMessage, env: SendEnv) -> tuple[Any, int | None]:
        """POST the body; the message id travels as ``X-Example-Message-Id``."""
        headers = {**message.headers, "x-example-message-id": message.id}
        response = await env.client.post(message.destination, content=message.body,
                                         headers=headers)  # fmt: skip
        return classify_status(response), response.status_code

    def settled(self, tx: Any, message: OutboundMessage, outcome: Any) -> None:
        """Nothing to keep: the gateway records every attempt itself."""


NOTIFY: DeliveryKind = Notify()
