"""SNS notifications that carry no CloudWatch alarm: plain text, or JSON of another kind.

``aws sns publish`` and many AWS services (AWS Backup, RDS events, CodePipeline,
EventBridge rules for other events …) publish to the same topics as alarms. A
notification whose signature and topic have passed is never refused for its
content, since SNS does not retry a 4xx and the message would be lost: it opens
an alert of its own, keyed by its ``MessageId`` so that SNS's redeliveries of it
stay one alert.
"""

from __future__ import annotations

from typing import Any

import structlog

from gateway.pluginkit import Event, Severity, fit_dedup_key, fit_summary

from .. import _sns
from .._vendor import clip, finish, iso_timestamp, loose_text
from .alarms import CONFIGURATION_CHANGE, STATE_CHANGE, Delivery

log = structlog.get_logger(__name__)

CLIENT = "Amazon SNS"
#: Nothing in such a message says how bad it is; the gateway's policy for a vendor without
#: a severity signal (as for CloudWatch's ALARM) is to page rather than to under-report.
DEFAULT_SEVERITY: Severity = "critical"


def is_alarm(message: dict[str, Any]) -> bool:
    """Whether a JSON ``Message`` is a CloudWatch alarm (alarm action or EventBridge event)."""
    if "AlarmName" in message or "NewStateValue" in message:
        return True
    return message.get("detail-type") in (STATE_CHANGE, CONFIGURATION_CHANGE)


def first_line(text: str) -> str | None:
    """The message's first line that is not blank, as sent (its CR of a CRLF ending dropped)."""
    for raw in text.split("\n"):
        line = raw.removesuffix("\r")
        if loose_text(line):
            return line
    return None


def summary(envelope: _sns.Envelope) -> str:
    """``Subject``, else the message's first non-blank line, else a text naming the topic."""
    return (
        loose_text(envelope.fields.get("Subject"))
        or first_line(envelope.message)
        or f"SNS notification on {envelope.topic.name}"
    )


def notice_events(envelope: _sns.Envelope, parsed: Any, delivery: Delivery) -> list[Event]:
    """Map a notification that is not an alarm to one trigger.

    ``parsed`` is the ``Message`` decoded as JSON (``None`` when it is not JSON).
    An object or an array is kept decoded in ``custom_details.message``; anything
    else (text, or a bare JSON number or string) is kept as the text sent.
    """
    structured = isinstance(parsed, dict | list)
    log.info(
        "sns.notification_not_an_alarm",
        topic=envelope.topic.arn,
        message_id=clip(envelope.message_id),
        content="json" if structured else "text",
    )
    details: dict[str, Any] = {"message": parsed if structured else envelope.message}
    subject = envelope.fields.get("Subject")
    if isinstance(subject, str):
        details["subject"] = subject
    details["sns_message_id"] = envelope.message_id
    details["topic_arn"] = envelope.topic.arn
    event = Event(
        routing_key=delivery.routing_key,
        event_action="trigger",
        dedup_key=fit_dedup_key(envelope.message_id),
        summary=fit_summary(summary(envelope)),
        source=envelope.topic.arn,
        severity=DEFAULT_SEVERITY,
        timestamp=iso_timestamp(envelope.timestamp),
        component=envelope.topic.name,
        group=envelope.topic.account,
        custom_details=details,
        client=CLIENT,
    )
    return [finish(event)]
