"""One SNS delivery: verify it, refuse what is not allowed, remember it, confirm or map it.

A notification carrying a CloudWatch alarm is mapped by :mod:`.alarms`; any
other notification (plain text, other JSON) by :mod:`.notices`.

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
from .in_flight import Deliveries
from .notices import is_alarm, notice_events
from .settings import CloudWatchSettings
from .sns_hosts import check_certificate_host
from .subscriptions import check_subscribe_url, confirm_subscription

log = structlog.get_logger(__name__)

#: How many SNS deliveries are remembered for idempotency (and may be in flight at once).
SEEN_CAPACITY = 10_000
#: ``(integration key, TopicArn, MessageId)`` of recent SNS deliveries whose events were
#: committed. The key is part of it because two integrations subscribed to one topic each
#: get the same MessageId.
seen_messages = SeenIds(SEEN_CAPACITY)
#: The committed deliveries and those being stored: a redelivery waits for the first copy.
deliveries = Deliveries(seen_messages, SEEN_CAPACITY)


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
    body: dict[str, Any], routing_key: str, settings: CloudWatchSettings, *, owner: object
) -> list[Event]:
    """Handle one SNS envelope: refuse, verify, then confirm, ignore or map it (§3, §4).

    Everything that needs no network comes first (the envelope, the topic
    allow-list, the age, the certificate URL pinned to the topic's region):
    a forged message is refused before it can make the gateway fetch anything.
    ``owner`` is the request: it claims the delivery in :data:`deliveries`
    until ``after_request`` settles it with the commit's outcome.
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
    # A copy of a delivery being stored waits here for that copy's outcome: an answer
    # "already seen" now could acknowledge an event that never reaches the disk.
    if not await deliveries.claim(seen_key, owner):
        bound.info("sns.duplicate_ignored", type=envelope.type)
        return []
    try:
        return await _claimed(envelope, seen_key, owner, settings, allowlisted, bound)
    except BaseException:
        # Nothing of this copy will be committed. after_request says so too, but not
        # after a cancellation: settle here so the waiting copies go on at once.
        deliveries.settle(seen_key, owner, committed=False)
        raise


async def _claimed(
    envelope: _sns.Envelope,
    seen_key: tuple[str, str, str],
    owner: object,
    settings: CloudWatchSettings,
    allowlisted: bool,
    bound: Any,
) -> list[Event]:
    """Map (or confirm, or ignore) a delivery this request holds the claim of."""
    if envelope.type == "UnsubscribeConfirmation":
        # Someone unsubscribed this endpoint; never re-subscribe on our own.
        bound.warning("sns.unsubscribed")
        return []
    if envelope.type == "SubscriptionConfirmation":
        return await _subscription(envelope, seen_key, owner, allowlisted, bound)
    try:
        message = decode_json(envelope.message)
    except NotJson:
        message = None  # plain text: `aws sns publish` and many AWS services send it
    delivery = Delivery(
        routing_key=seen_key[0],
        settings=settings,
        topic=envelope.topic,
        message_id=envelope.message_id,
        sns_timestamp=envelope.timestamp,
    )
    if isinstance(message, dict) and is_alarm(message):
        return message_events(message, delivery)
    # Anything else on the topic is still an alert: SNS never retries a 4xx.
    return notice_events(envelope, message, delivery)


async def _subscription(
    envelope: _sns.Envelope,
    seen_key: tuple[str, str, str],
    owner: object,
    allowlisted: bool,
    bound: Any,
) -> list[Event]:
    """Confirm a subscription to an allow-listed topic; log the URL for the rest."""
    url = envelope.subscribe_url
    check_subscribe_url(url, envelope.topic, str(envelope.fields.get("Token")))
    if not allowlisted:
        # Auto-confirming is opt-in per topic: an operator confirms by hand.
        bound.warning("sns.subscription_pending", subscribe_url=url)
        return []
    subscription = await confirm_subscription(url)
    if subscription is None:
        # Answered 2xx all the same; let a manual re-POST of the same message try again.
        deliveries.do_not_remember(seen_key, owner)
        return []
    bound.info("sns.subscription_confirmed", subscription_arn=subscription)
    return []
