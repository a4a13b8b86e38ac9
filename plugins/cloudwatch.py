"""Amazon CloudWatch alarms, delivered by SNS (HTTPS subscription) or by EventBridge.

Inbound URL: ``/integration/{key}/enqueue`` (or PagerDuty's older
``/adapter/cloudwatch_sns/v1/{key}``). Three body shapes arrive there:

* an SNS envelope (``Type`` = ``Notification``, ``SubscriptionConfirmation``
  or ``UnsubscribeConfirmation``), signature-verified, whose ``Message`` is a
  CloudWatch alarm or an EventBridge alarm event;
* an EventBridge ``CloudWatch Alarm State Change`` event posted by an API
  destination;
* a bare alarm (SNS raw message delivery), accepted only with
  ``verify_signature = false`` because it carries no signature.

Both delivery paths use the alarm ARN as ``dedup_key``, so they correlate.
Mapping rules: ``shared/reference/vendor-mapping.md`` §1.1, §1.2, §3 and §4.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import structlog

from gateway.pluginkit import (
    Event,
    InboundRequest,
    InvalidEvent,
    Link,
    UnrecognizedEvent,
    Vendor,
    fit_dedup_key,
    fit_summary,
    hookimpl,
    missing,
    parse_timestamp,
    redact,
)

from . import _sns
from ._vendor import (
    NotJson,
    SeenIds,
    clip,
    decode_json,
    decode_json_object,
    finish,
    iso_timestamp,
    loose_text,
    setting_bool,
    setting_choice,
    text,
    unknown_settings,
)

log = structlog.get_logger(__name__)

VENDOR_ID = "PZQ6AUS"
INTEGRATION_TYPE = "aws_cloudwatch_inbound_integration"
CLIENT = "Amazon CloudWatch"

STATE_CHANGE = "CloudWatch Alarm State Change"
CONFIGURATION_CHANGE = "CloudWatch Alarm Configuration Change"
STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")

SETTINGS = (
    "sns_topic_allowlist",
    "insufficient_data",
    "verify_signature",
    "allow_signature_version_1",
    "max_message_age_seconds",
)

#: How many SNS deliveries are remembered for idempotency.
SEEN_CAPACITY = 10_000
#: ``(integration key, TopicArn, MessageId)`` of recent SNS deliveries. The key is part of
#: it because two integrations subscribed to one topic each get the same MessageId.
seen_messages = SeenIds(SEEN_CAPACITY)


@dataclass(frozen=True, slots=True)
class CloudWatchSettings:
    """An integration's CloudWatch settings, checked."""

    topic_allowlist: frozenset[str] = frozenset()
    insufficient_data: str = "trigger"
    verify_signature: bool = True
    allow_signature_version_1: bool = True
    max_message_age_seconds: float = 0.0


def read_settings(raw: Mapping[str, Any], errors: list[str]) -> CloudWatchSettings:
    """Read the integration's settings, appending an error for each invalid one."""
    allowlist = raw.get("sns_topic_allowlist", [])
    if isinstance(allowlist, str):  # a single ARN written without brackets
        allowlist = [allowlist]
    if not isinstance(allowlist, list) or not all(isinstance(a, str) for a in allowlist):
        errors.append(
            "integration setting 'sns_topic_allowlist' is invalid (must be a list of topic ARNs)"
        )
        allowlist = []
    age = raw.get("max_message_age_seconds", 0)
    if isinstance(age, bool) or not isinstance(age, int | float) or age < 0:
        errors.append(
            "integration setting 'max_message_age_seconds' is invalid (must be a number >= 0)"
        )
        age = 0
    return CloudWatchSettings(
        topic_allowlist=frozenset(allowlist),
        insufficient_data=setting_choice(raw, "insufficient_data", ("trigger", "ignore"), errors),
        verify_signature=setting_bool(raw, "verify_signature", True, errors),
        allow_signature_version_1=setting_bool(raw, "allow_signature_version_1", True, errors),
        max_message_age_seconds=float(age),
    )


def checks_sender(raw: Mapping[str, Any]) -> bool:
    """Whether the integration authenticates its sender: SNS signatures or a topic allow-list.

    With either on, events reach it only through SNS: a forged Events API event posted
    with its key carries no signature and no topic, so the generic paths refuse it.
    """
    settings = read_settings(raw, [])
    return settings.verify_signature or bool(settings.topic_allowlist)


def check_settings(raw: Mapping[str, Any]) -> list[str]:
    """Every problem with an integration's CloudWatch settings (for start-up checks)."""
    errors = unknown_settings(raw, SETTINGS)
    read_settings(raw, errors)
    return errors


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


# -- ARNs, regions and links ------------------------------------------------------------------


def partition_for(region: str) -> str:
    """The AWS partition a region belongs to."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _region_of_arn(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None


def console_url(region: str | None, alarm_name: str) -> str | None:
    """A deep link to the alarm in the CloudWatch console."""
    if not region or not region.replace("-", "").isalnum() or not region.isascii():
        return None
    if region.startswith("cn-"):
        base = "https://console.amazonaws.cn"
    elif region.startswith("us-gov-"):
        base = "https://console.amazonaws-us-gov.com"
    else:
        base = f"https://{region}.console.aws.amazon.com"
    name = quote(alarm_name, safe="")
    return f"{base}/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """How an alarm reached us: the SNS context when it came through SNS."""

    routing_key: str
    settings: CloudWatchSettings
    topic: _sns.TopicArn | None = None
    message_id: str | None = None
    sns_timestamp: str | None = None


def _action(state: str, delivery: Delivery) -> tuple[str, str] | None:
    """``(event_action, severity)`` for an alarm state; ``None`` to emit nothing."""
    if state == "ALARM":
        return "trigger", "critical"
    if state == "OK":
        return "resolve", "info"
    # INSUFFICIENT_DATA never resolves: PagerDuty's own integration does not either.
    if delivery.settings.insufficient_data == "ignore":
        return None
    return "trigger", "warning"


def _state(value: str | None, name: str, errors: list[str]) -> str:
    if value and value not in STATES:
        errors.append(f"'{name}' is invalid (must be one of: ALARM, OK, INSUFFICIENT_DATA)")
    return value or ""


# -- Alarm message (SNS "Message" of a CloudWatch alarm action) -------------------------------


def _first_metric(trigger: Mapping[str, Any]) -> Mapping[str, Any]:
    """The metric a ``Trigger`` describes: itself, or a metric-math alarm's first MetricStat."""
    if "MetricName" in trigger or "Dimensions" in trigger:
        return trigger
    metrics = trigger.get("Metrics")
    if isinstance(metrics, list):
        for item in metrics:
            stat = item.get("MetricStat") if isinstance(item, dict) else None
            metric = stat.get("Metric") if isinstance(stat, dict) else None
            if isinstance(metric, dict):
                return metric
    return {}


def _first_dimension(dimensions: Any) -> str | None:
    if isinstance(dimensions, list):
        for item in dimensions:
            if isinstance(item, dict) and loose_text(item.get("value")):
                return str(item["value"])
    elif isinstance(dimensions, dict):
        for value in dimensions.values():
            if loose_text(value):
                return str(value)
    return None


def alarm_events(alarm: dict[str, Any], delivery: Delivery) -> list[Event]:
    """Map a CloudWatch alarm message (§1.1) to zero or one event."""
    errors: list[str] = []
    name = text(alarm, "AlarmName", errors, required=True) or ""
    state = _state(text(alarm, "NewStateValue", errors, required=True), "NewStateValue", errors)
    arn = text(alarm, "AlarmArn", errors)
    account = text(alarm, "AWSAccountId", errors, scalars=True)
    if errors:
        raise InvalidEvent(errors)
    topic = delivery.topic
    if not arn:
        # Older alarm payloads have no AlarmArn: rebuild it (alarm names are unique per
        # account and region only, so the ARN is the narrowest collision-free key).
        account = account or (topic.account if topic else None)
        if topic is None or not account:
            raise InvalidEvent(
                ["'AlarmArn' is missing and cannot be rebuilt (no TopicArn or AWSAccountId)"]
            )
        arn = f"arn:{topic.partition}:cloudwatch:{topic.region}:{account}:alarm:{name}"
    action = _action(state, delivery)
    if action is None:
        log.info("cloudwatch.insufficient_data_ignored", alarm=clip(name, 200))
        return []
    event_action, severity = action
    region_code = _region_of_arn(arn) or (topic.region if topic else None)
    region = loose_text(alarm.get("Region")) or region_code
    summary = f'{state}: "{name}" in {region}' if region else f'{state}: "{name}"'
    trigger = alarm.get("Trigger")
    metric = _first_metric(trigger) if isinstance(trigger, dict) else {}
    details = dict(alarm)
    if delivery.message_id is not None:
        details["sns_message_id"] = delivery.message_id
    if topic is not None:
        details["topic_arn"] = topic.arn
    link = console_url(region_code, name)
    return [
        finish(
            Event(
                routing_key=delivery.routing_key,
                event_action=event_action,  # type: ignore[arg-type]
                dedup_key=fit_dedup_key(arn),
                summary=fit_summary(summary),
                source=_first_dimension(metric.get("Dimensions")) or name,
                severity=severity,  # type: ignore[arg-type]
                timestamp=iso_timestamp(alarm.get("StateChangeTime"))
                or iso_timestamp(delivery.sns_timestamp),
                component=loose_text(metric.get("Namespace")),
                group=account or None,
                class_=loose_text(metric.get("MetricName")),
                custom_details=details,
                links=[Link(href=link, text="CloudWatch alarm")] if link else [],
                client=CLIENT,
                client_url=link,
            )
        )
    ]


# -- EventBridge "CloudWatch Alarm State Change" ------------------------------------------------


def _eventbridge_metric(configuration: Mapping[str, Any]) -> Mapping[str, Any]:
    metrics = configuration.get("metrics")
    if isinstance(metrics, list):
        for item in metrics:
            stat = item.get("metricStat") if isinstance(item, dict) else None
            metric = stat.get("metric") if isinstance(stat, dict) else None
            if isinstance(metric, dict):
                return metric
    return {}


def eventbridge_events(event: dict[str, Any], delivery: Delivery) -> list[Event]:
    """Map an EventBridge CloudWatch alarm event (§1.2) to zero or one event."""
    errors: list[str] = []
    detail_type = text(event, "detail-type", errors, required=True) or ""
    if errors:
        raise InvalidEvent(errors)
    if detail_type == CONFIGURATION_CHANGE:
        return []
    if detail_type != STATE_CHANGE:
        raise InvalidEvent(
            [f"'detail-type' {clip(detail_type)!r} is not supported (must be {STATE_CHANGE!r})"]
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEvent([missing("detail")])
    name = text(detail, "alarmName", errors, name="detail.alarmName", required=True) or ""
    state_obj = detail.get("state")
    if not isinstance(state_obj, dict):
        errors.append(missing("detail.state"))
        state_obj = {}
    value = text(state_obj, "value", errors, name="detail.state.value", required=True)
    state = _state(value, "detail.state.value", errors)
    region = text(event, "region", errors)
    account = text(event, "account", errors, scalars=True)
    resources = event.get("resources")
    arn = None
    if isinstance(resources, list) and resources and isinstance(resources[0], str):
        arn = resources[0] or None
    if errors:
        raise InvalidEvent(errors)
    if arn is None:
        if not region or not account:
            raise InvalidEvent(["'resources' is missing and the alarm ARN cannot be rebuilt"])
        arn = f"arn:{partition_for(region)}:cloudwatch:{region}:{account}:alarm:{name}"
    action = _action(state, delivery)
    if action is None:
        log.info("cloudwatch.insufficient_data_ignored", alarm=clip(name, 200))
        return []
    event_action, severity = action
    region = region or _region_of_arn(arn)
    summary = f'{state}: "{name}" in {region}' if region else f'{state}: "{name}"'
    configuration = detail.get("configuration")
    metric = _eventbridge_metric(configuration) if isinstance(configuration, dict) else {}
    details = dict(event)
    if delivery.message_id is not None:
        details["sns_message_id"] = delivery.message_id
    if delivery.topic is not None:
        details["topic_arn"] = delivery.topic.arn
    link = console_url(region, name)
    return [
        finish(
            Event(
                routing_key=delivery.routing_key,
                event_action=event_action,  # type: ignore[arg-type]
                dedup_key=fit_dedup_key(arn),
                summary=fit_summary(summary),
                source=_first_dimension(metric.get("dimensions")) or name,
                severity=severity,  # type: ignore[arg-type]
                timestamp=iso_timestamp(state_obj.get("timestamp"))
                or iso_timestamp(event.get("time")),
                component=loose_text(metric.get("namespace")),
                group=account or None,
                class_=loose_text(metric.get("name")),
                custom_details=details,
                links=[Link(href=link, text="CloudWatch alarm")] if link else [],
                client=CLIENT,
                client_url=link,
            )
        )
    ]


def message_events(message: dict[str, Any], delivery: Delivery) -> list[Event]:
    """Map an alarm body of either shape: EventBridge (``detail-type``) or alarm JSON."""
    if "detail-type" in message:
        return eventbridge_events(message, delivery)
    if "AlarmName" in message or "NewStateValue" in message:
        return alarm_events(message, delivery)
    raise InvalidEvent(
        ["Message is not a CloudWatch alarm (no AlarmName/NewStateValue and no detail-type)"]
    )


# -- SNS envelope -------------------------------------------------------------------------------


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
    """Handle one SNS envelope: verify it, then confirm, ignore or map it (§3, §4)."""
    envelope = _sns.read_envelope(body, signed=settings.verify_signature)
    if settings.verify_signature:
        await _sns.verify(body, allow_version_1=settings.allow_signature_version_1)
    if _too_old(envelope.timestamp, settings.max_message_age_seconds):
        raise InvalidEvent(["SNS message is too old (Timestamp outside max_message_age_seconds)"])
    topic = envelope.topic
    allowlisted = topic.arn in settings.topic_allowlist
    bound = log.bind(topic=topic.arn, message_id=clip(envelope.message_id), key=redact(routing_key))
    if settings.topic_allowlist and not allowlisted:
        bound.warning("sns.topic_refused", type=envelope.type)
        raise InvalidEvent([f"TopicArn {topic.arn} is not in this integration's allow-list"])
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
        _sns.check_subscribe_url(url, envelope.topic, str(envelope.fields.get("Token")))
    except InvalidEvent:
        seen_messages.discard(seen_key)
        raise
    if not allowlisted:
        # Auto-confirming is opt-in per topic: an operator confirms by hand.
        bound.warning("sns.subscription_pending", subscribe_url=url)
        return []
    subscription = await _sns.confirm_subscription(url)
    if subscription is None:
        # Let a manual re-POST of the same message try again.
        seen_messages.discard(seen_key)
        return []
    bound.info("sns.subscription_confirmed", subscription_arn=subscription)
    return []


# -- Entry point ----------------------------------------------------------------------------


async def parse(request: InboundRequest) -> list[Event]:
    """Parse one CloudWatch delivery (SNS envelope, EventBridge event or raw alarm)."""
    body = decode_json_object(request.body)
    settings = _settings(request)
    routing_key = _routing_key(request)
    raw = request.headers.get("x-amz-sns-rawdelivery", "").strip().lower() == "true"
    if "Type" in body and not raw:
        return await sns_events(body, routing_key, settings)
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
    """Forget a delivery whose events were not committed, so SNS's retry is processed."""
    if committed:
        return
    try:
        body = decode_json_object(request.body)
    except UnrecognizedEvent:
        return
    topic, message_id = body.get("TopicArn"), body.get("MessageId")
    if isinstance(topic, str) and isinstance(message_id, str) and request.integration_key:
        seen_messages.discard((request.integration_key, topic, message_id))


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
