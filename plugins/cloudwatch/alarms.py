"""CloudWatch alarm bodies → events: the alarm-action message and EventBridge's event.

Both shapes map onto one event keyed by the alarm ARN, so an alarm delivered
by SNS and the same alarm delivered by EventBridge correlate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import structlog

from gateway.pluginkit import (
    Event,
    EventAction,
    InvalidEvent,
    Link,
    Severity,
    fit_dedup_key,
    fit_summary,
    missing,
)

from .. import _sns
from .._vendor import clip, finish, iso_timestamp, loose_text, text
from .settings import CloudWatchSettings

log = structlog.get_logger(__name__)

CLIENT = "Amazon CloudWatch"

STATE_CHANGE = "CloudWatch Alarm State Change"
CONFIGURATION_CHANGE = "CloudWatch Alarm Configuration Change"
STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")


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


def _action(state: str, delivery: Delivery) -> tuple[EventAction, Severity] | None:
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
                event_action=event_action,
                dedup_key=fit_dedup_key(arn),
                summary=fit_summary(summary),
                source=_first_dimension(metric.get("Dimensions")) or name,
                severity=severity,
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
                event_action=event_action,
                dedup_key=fit_dedup_key(arn),
                summary=fit_summary(summary),
                source=_first_dimension(metric.get("dimensions")) or name,
                severity=severity,
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
