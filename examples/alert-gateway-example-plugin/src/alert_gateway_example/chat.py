"""A contact method type and its delivery kind: a chat room's incoming webhook.

A person's contact method of type ``chat_webhook_contact_method`` has a URL as its address
(a Slack-, Mattermost- or Rocket.Chat-style incoming webhook). When escalation notifies
that person through it, the gateway writes one message of the ``chat_webhook_notification``
kind, to that URL, in the same transaction as the incident's ``notify_log_entry``; this
kind POSTs ``{"text": ...}`` there, retrying 429/5xx and network failures for an hour.

The message body is the notification the gateway wrote (the same JSON for every contact
type): ``incident`` (``number``, ``title``, ``urgency``, ``status``, ``html_url``),
``service`` (``name``), ``user`` (``name``) and ``acknowledge`` (``html_url``, and the REST
call: ``method``, ``url``, ``body``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from gateway.pluginkit import (
    ContactMethodType,
    DeliveryKind,
    Drop,
    OutboundMessage,
    RetryPolicy,
    SendEnv,
    classify_status,
)

CONTACT_TYPE = "chat_webhook_contact_method"
KIND = "chat_webhook_notification"


def check_webhook_url(address: str) -> list[str]:
    """An incoming webhook is an http(s) URL with a host (what people paste from the chat)."""
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ["must be the room's incoming webhook URL (https://chat.example.com/hooks/...)"]
    return []


#: What people may store (``register_contact_method_types``).
CHAT_TYPE = ContactMethodType(CONTACT_TYPE, "Chat room (incoming webhook)", check_webhook_url)


def chat_text(body: dict[str, Any]) -> str:
    """One chat line naming the incident, its service and urgency, and where to acknowledge;
    for a status-change notification (``change`` in the body), what changed instead."""
    incident = body.get("incident") or {}
    service = (body.get("service") or {}).get("name") or "a service"
    user = (body.get("user") or {}).get("name") or "you"
    link = incident.get("html_url") or ""
    change = body.get("change")
    if isinstance(change, dict):
        return (
            f"{user}: incident #{incident.get('number')} {incident.get('title')!s} "
            f"({service}), assigned to you, was {change.get('type')}: "
            f"{change.get('summary')}. {link}"
        )
    return (
        f"{user}: incident #{incident.get('number')} {incident.get('title')!s} "
        f"({incident.get('urgency')} urgency, {service}) needs you. "
        f"Open and acknowledge it: {link}"
    )


class ChatWebhook:
    """The ``chat_webhook_notification`` kind: 2xx delivered, 429/5xx/network retried,
    other 4xx dropped (a webhook URL that was revoked does not come back)."""

    name = KIND
    policy = RetryPolicy(
        max_attempts=None, max_age_seconds=3600, first_delay=5, max_delay=300, timeout=10
    )
    max_pending = 10_000
    drop_on_overflow = False  # a page is never refused for a busy room

    async def send(self, message: OutboundMessage, env: SendEnv) -> tuple[Any, int | None]:
        """POST ``{"text": ...}`` to the contact method's URL (the message's destination)."""
        try:
            body = json.loads(message.body)
        except ValueError:
            return Drop("not a notification body"), None
        response = await env.client.post(
            message.destination,
            json={"text": chat_text(body)},
            headers={"x-alert-gateway-message-id": message.id},
        )
        return classify_status(response), response.status_code

    def settled(self, tx: Any, message: OutboundMessage, outcome: Any) -> None:
        """Nothing to keep: the gateway records every attempt and the notification's state."""


CHAT: DeliveryKind = ChatWebhook()
