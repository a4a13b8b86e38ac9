"""One SNS delivery: verify it, refuse what is not allowed, remember it, confirm or map it.

The low-level SNS work (envelope fields, signatures, the certificate cache,
subscription confirmation over HTTPS) is :mod:`.._sns`'s; this module applies
an integration's settings to one delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from gateway.pluginkit import Event, InvalidEvent, parse_timestamp, redact

from .. import _sns
from .._vendor import NotJson, SeenIds, clip, decode_json
from .alarms import Delivery, message_events
from .settings import CloudWatchSettings
from .sns_hosts import check_certificate_host
from .subscriptions import check_subscribe_url, confirm_subscription

log = structlog.get_logger(__name__)

#: How many SNS deliveries are remembered for idempotency.
SEEN_CAPACITY = 10_000
#: ``(integration key, TopicArn, MessageId)`` of recent SNS deliveries. The key is part of
#: it because two integrations subscribed to one topic each get the same MessageId.
seen_messages = SeenIds(SEEN_CAPACITY)


def _too_old(timestamp: str, max_age: float) -> bool:
    if max_age <= 0:
        return False
    sent = parse_timestamp(timestamp)
    if sent is None:
        return True
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    return (datetime.now(UTC) - sent).total_seconds() > max_age


async def sns_events(
    body: dict[str, Any], routing_key: str, settings: CloudWatchSettings
) -> list[Event]:
    """Handle one SNS envelope: refuse, verify, then confirm, ignore or map it (§3, §4).

    Everything that needs no network comes first (the envelope, the topic
    allow-list, the age, the certificate URL pinned to the topic's region):
    a forged message is refused before it can make the gateway fetch anything.
    """
    envelope = _sns.read_envelope(body, signed=settings.verify_signature)
    topic = envelope.topic
    allowlisted = topic.arn in settings.topic_allowlist
    bound = log.bind(topic=topic.arn, message_id=clip(envelope.message_id), key=redact(routing_key))
    if settings.topic_allowlist and not allowlisted:
        bound.warning("sns.topic_refused", type=envelope.type)
        raise InvalidEvent([f"TopicArn {topic.arn} is not in this integration's allow-list"])
    if _too_old(envelope.timestamp, settings.max_message_age_seconds):
        raise InvalidEvent(["SNS message is too old (Timestamp outside max_message_age_seconds)"])
    if settings.verify_signature:
        _sns.check_certificate_url(body["SigningCertURL"])
        check_certificate_host(body["SigningCertURL"], topic)
        await _sns.verify(body, allow_version_1=settings.allow_signature_version_1)
    seen_key = (routing_key, topic.arn, envelope.message_id)
    if seen_messages.check_and_add(seen_key):
        bound.info("sns.duplicate_ignored", type=envelope.type)
        return []
    if envelope.type == "UnsubscribeConfirmation":
        # Someone unsubscribed this endpoint; never re-subscribe on our own.
        bound.warning("sns.unsubscribed")
        return []
    if envelope.type == "SubscriptionConfirmation":
        return await _subscription(envelope, seen_key, allowlisted, bound)
    try:
        message = decode_json(envelope.message)
    except NotJson as exc:
        seen_messages.discard(seen_key)
        raise InvalidEvent(["'Message' is invalid (must be CloudWatch alarm JSON)"]) from exc
    if not isinstance(message, dict):
        seen_messages.discard(seen_key)
        raise InvalidEvent(["'Message' is invalid (must be CloudWatch alarm JSON)"])
    delivery = Delivery(
        routing_key=routing_key,
        settings=settings,
        topic=topic,
        message_id=envelope.message_id,
        sns_timestamp=envelope.timestamp,
    )
    try:
        return message_events(message, delivery)
    except InvalidEvent:
        seen_messages.discard(seen_key)
        raise


async def _subscription(
    envelope: _sns.Envelope,
    seen_key: tuple[str, str, str],
    allowlisted: bool,
    bound: Any,
) -> list[Event]:
    """Confirm a subscription to an allow-listed topic; log the URL for the rest."""
    url = envelope.subscribe_url
    try:
        check_subscribe_url(url, envelope.topic, str(envelope.fields.get("Token")))
    except InvalidEvent:
        seen_messages.discard(seen_key)
        raise
    if not allowlisted:
        # Auto-confirming is opt-in per topic: an operator confirms by hand.
        bound.warning("sns.subscription_pending", subscribe_url=url)
        return []
    subscription = await confirm_subscription(url)
    if subscription is None:
        # Let a manual re-POST of the same message try again.
        seen_messages.discard(seen_key)
        return []
    bound.info("sns.subscription_confirmed", subscription_arn=subscription)
    return []
