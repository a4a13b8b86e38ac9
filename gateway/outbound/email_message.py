"""An email notification's text: the message a person reads, built from the notification body.

The body is the JSON :func:`gateway.core.notifications.notification_body` wrote: the
incident (number, title, urgency, link), its service, the person, and how to acknowledge.
Every header value goes through :func:`header_text` first: a title with CR/LF (anything a
monitored system sends can end up there) stays one line of the Subject and can never add
a header (``Bcc:``) of its own.
"""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

__all__ = ["build_message", "header_text", "message_id"]

#: Control characters (CR and LF among them) are never part of a header value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
#: Subjects longer than this are cut: mail clients show a line, not a paragraph.
SUBJECT_MAX = 200


def header_text(value: object, limit: int = 998) -> str:
    """``value`` as one safe header line: control characters become one space, cut to ``limit``."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_id(outbox_id: str, sender: str) -> str:
    """``<notification.<outbox id>@<sender's domain>>``: the same on every resend of one
    message, so a receiver (or a person's mail filter) can drop an at-least-once duplicate."""
    domain = sender.rpartition("@")[2] or "alert-gateway"
    return f"<notification.{header_text(outbox_id, 200)}@{header_text(domain, 200)}>"


def build_message(
    body: bytes, *, outbox_id: str, sender: str, recipient: str, date: Any
) -> EmailMessage:
    """The email for one notification message (``date``: an aware datetime)."""
    data = json.loads(body)
    incident = data.get("incident") or {}
    service = data.get("service") or {}
    user = data.get("user") or {}
    ack = data.get("acknowledge") or {}
    number, title = incident.get("number"), header_text(incident.get("title") or "")
    urgency = incident.get("urgency") or "high"
    service_name = service.get("name") or service.get("id") or "a service"
    change = data.get("change") if isinstance(data.get("change"), dict) else None
    what = header_text(change.get("type") or "changed", 40) if change else ""

    message = EmailMessage(policy=SMTP)
    message["From"] = header_text(sender)
    message["To"] = header_text(recipient)
    subject = f"[alert-gateway] #{number} {title} ({urgency} urgency, {service_name})"
    if change:  # a status-change rule's notification: what happened, first
        subject = f"[alert-gateway] #{number} {what}: {title} ({service_name})"
    message["Subject"] = header_text(subject, SUBJECT_MAX)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(outbox_id, sender)
    message["X-Alert-Gateway-Incident"] = header_text(incident.get("id") or "")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a page
    if change:
        message.set_content(_change_text(data, number, title, what, service_name, user))
    else:
        message.set_content(_text(data, number, title, urgency, service_name, user, ack))
    return message


def _change_text(
    data: dict[str, Any], number: Any, title: str, what: str, service_name: str,
    user: dict[str, Any],
) -> str:  # fmt: skip
    """A status-change notification: the incident assigned to the person changed."""
    incident = data.get("incident") or {}
    change = data.get("change") or {}
    lines = [
        f"Hello {user.get('name') or ''},".replace(" ,", ","),
        "",
        f"Incident #{number}, assigned to you, was {what}: {title}",
        "",
        f"  What:     {change.get('summary') or what}",
        f"  Service:  {service_name}",
        f"  Status:   {incident.get('status') or ''}",
        "",
        f"Open it: {incident.get('html_url') or ''}",
        "",
        "You get this because a notification rule of yours asks to hear when a high-urgency",
        "incident assigned to you changes.",
        "",
        "-- ",
        "alert-gateway",
    ]
    return "\n".join(lines) + "\n"


def _text(
    data: dict[str, Any],
    number: Any,
    title: str,
    urgency: str,
    service_name: str,
    user: dict[str, Any],
    ack: dict[str, Any],
) -> str:
    incident = data.get("incident") or {}
    link = incident.get("html_url") or ""
    request = json.dumps(ack.get("body") or {})
    lines = [
        f"Hello {user.get('name') or ''},".replace(" ,", ","),
        "",
        f"Incident #{number} needs you: {title}",
        "",
        f"  Service:  {service_name}",
        f"  Urgency:  {urgency}",
        f"  Status:   {incident.get('status') or 'triggered'}",
        f"  Opened:   {incident.get('created_at') or ''}",
        "",
        f"Open it: {link}",
        "",
        "To acknowledge it, press Acknowledge on that page, or call the REST API:",
        "",
        f"  curl -X {ack.get('method') or 'PUT'} '{ack.get('url') or ''}' \\",
        "    -H 'Authorization: Token token=<your API token>' \\",
        f"    -H 'From: {user.get('email') or '<your email>'}' \\",
        "    -H 'Content-Type: application/json' \\",
        f"    -d '{request}'",
        "",
        "Acknowledging stops further notifications and escalation for this incident.",
        "",
        "-- ",
        "alert-gateway",
    ]
    return "\n".join(lines) + "\n"
