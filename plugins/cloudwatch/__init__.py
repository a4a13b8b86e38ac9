"""Amazon CloudWatch alarms, delivered by SNS (HTTPS subscription) or by EventBridge.

Inbound URL: ``/integration/{key}/enqueue`` (or PagerDuty's older
``/adapter/cloudwatch_sns/v1/{key}``). Three body shapes arrive there:

* an SNS envelope (``Type`` = ``Notification``, ``SubscriptionConfirmation``
  or ``UnsubscribeConfirmation``), signature-verified, whose ``Message`` is a
  CloudWatch alarm or an EventBridge alarm event (any other ``Message``, plain
  text or JSON, becomes a trigger keyed by its ``MessageId``);
* an EventBridge ``CloudWatch Alarm State Change`` event posted by an API
  destination;
* a bare alarm (SNS raw message delivery), accepted only with
  ``verify_signature = false`` because it carries no signature.

Both delivery paths use the alarm ARN as ``dedup_key``, so they correlate.

The modules, one job each: :mod:`.settings` checks an integration's
settings, :mod:`.alarms` maps alarm bodies to events, :mod:`.notices` maps
the other SNS notifications, :mod:`.sns_delivery`
handles one SNS envelope (with the plugin's ``_sns`` helpers). This module
parses a request and registers the vendor.
"""

from __future__ import annotations

import structlog

from gateway.pluginkit import (
    Event,
    InboundRequest,
    InvalidEvent,
    UnrecognizedEvent,
    Vendor,
    hookimpl,
)

from .. import _sns
from .._vendor import decode_json_object
from .alarms import (
    CLIENT,
    Delivery,
    alarm_events,
    console_url,
    eventbridge_events,
    message_events,
    partition_for,
)
from .settings import CloudWatchSettings, check_settings, checks_sender, read_settings
from .sns_delivery import SEEN_CAPACITY, deliveries, seen_messages, sns_events

__all__ = [
    "CLIENT",
    "INTEGRATION_TYPE",
    "SEEN_CAPACITY",
    "VENDOR",
    "VENDOR_ID",
    "after_request",
    "alarm_events",
    "check_settings",
    "checks_sender",
    "console_url",
    "deliveries",
    "eventbridge_events",
    "message_events",
    "parse",
    "partition_for",
    "read_settings",
    "register_vendors",
    "seen_messages",
    "sns_events",
]

log = structlog.get_logger(__name__)

VENDOR_ID = "PZQ6AUS"
INTEGRATION_TYPE = "aws_cloudwatch_inbound_integration"


def _settings(request: InboundRequest) -> CloudWatchSettings:
    errors: list[str] = []
    settings = read_settings(request.settings, errors)
    if errors:
        log.error("cloudwatch.settings_invalid", errors=errors)
        raise InvalidEvent(errors)
    return settings


def _routing_key(request: InboundRequest) -> str:
    if not request.integration_key:
        raise InvalidEvent(
            ["CloudWatch events must be sent to /integration/{integration_key}/enqueue"]
        )
    return request.integration_key


async def parse(request: InboundRequest) -> list[Event]:
    """Parse one CloudWatch delivery (SNS envelope, EventBridge event or raw alarm)."""
    body = decode_json_object(request.body)
    settings = _settings(request)
    routing_key = _routing_key(request)
    raw = request.headers.get("x-amz-sns-rawdelivery", "").strip().lower() == "true"
    if "Type" in body and not raw:
        return await sns_events(body, routing_key, settings, owner=request)
    if "detail-type" in body and not raw:
        # An EventBridge API destination: authenticated by the key in the URL (and the
        # connection's auth header), like every other webhook vendor.
        return eventbridge_events(body, Delivery(routing_key=routing_key, settings=settings))
    if settings.verify_signature:
        raise InvalidEvent(
            [
                "unsigned CloudWatch message refused: disable raw message delivery on the SNS "
                "subscription (or set verify_signature = false)"
            ]
        )
    topic = _sns.parse_topic_arn(request.headers.get("x-amz-sns-topic-arn", ""))
    if settings.topic_allowlist and (topic is None or topic.arn not in settings.topic_allowlist):
        raise InvalidEvent(["x-amz-sns-topic-arn is not in this integration's allow-list"])
    delivery = Delivery(
        routing_key=routing_key,
        settings=settings,
        topic=topic,
        message_id=request.headers.get("x-amz-sns-message-id") or None,
    )
    return message_events(body, delivery)


def after_request(request: InboundRequest, committed: bool) -> None:
    """Settle the request's SNS delivery with the commit's outcome.

    Committed: it is remembered, and a copy waiting for it is acknowledged as a
    duplicate. Not committed: nothing is remembered, and a waiting copy (or
    SNS's retry) is processed itself.
    """
    if not deliveries or not request.integration_key:
        return  # no claim in progress could be this request's
    try:
        body = decode_json_object(request.body)
    except UnrecognizedEvent:
        return
    topic, message_id = body.get("TopicArn"), body.get("MessageId")
    if isinstance(topic, str) and isinstance(message_id, str):
        key = (request.integration_key, topic, message_id)
        deliveries.settle(key, request, committed=committed)


VENDOR = Vendor(
    id=VENDOR_ID,
    name="Amazon CloudWatch",
    integration_type=INTEGRATION_TYPE,
    parse=parse,
    aliases=("cloudwatch", "amazon_cloudwatch", "aws_cloudwatch"),
    description=(
        "CloudWatch alarms through an SNS HTTPS subscription (signature-verified, "
        "auto-confirmed for allow-listed topics) or an EventBridge API destination."
    ),
    website_url="https://aws.amazon.com/cloudwatch/",
    check_settings=check_settings,
    after_request=after_request,
    checks_sender=checks_sender,
)


@hookimpl
def register_vendors() -> list[Vendor]:
    """Register the Amazon CloudWatch vendor."""
    return [VENDOR]
