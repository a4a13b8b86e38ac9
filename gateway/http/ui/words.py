"""Plain words for the web UI: relative times, setting names and values, statuses.

The REST API speaks PagerDuty's field names and ISO timestamps because programs read it;
people read the UI. These are template filters of the UI's blueprint, so a page never
shows ``incident_urgency_rule`` or ``2026-12-02T00:37:56.510Z`` where a person expects
"Urgency" or "5 minutes ago".
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup

from gateway.http.ui._web import blueprint

__all__ = [
    "exact_time",
    "notification_words",
    "relative_time",
    "setting_label",
    "setting_value",
    "status_words",
    "when",
]

SETTING_LABELS = {
    "alert_creation": "Incident behaviour",
    "incident_urgency_rule": "Urgency",
    "acknowledgement_timeout": "Acknowledgement timeout",
    "auto_resolve_timeout": "Auto-resolution",
    "alert_grouping": "Alert grouping",
    "alert_grouping_timeout": "Alert grouping window",
    "escalation_policy": "Escalation policy",
    "status": "Status",
}

_VALUE_WORDS = {
    "create_alerts_and_incidents": "alerts and incidents",
    "create_incidents": "incidents only",
    "high": "high",
    "low": "low",
    "severity_based": "based on the alert's severity",
    "time": "by time window",
    "intelligent": "intelligent",
    "content_based": "by content",
    "active": "enabled",
    "disabled": "disabled",
}

_STATUS_WORDS = {
    "active": "Active",
    "warning": "Warning: an incident is acknowledged",
    "critical": "Critical: an incident is triggered",
    "maintenance": "In maintenance",
    "disabled": "Disabled",
}


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _amount(seconds: float) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    n = int(seconds)
    return f"{n} second{'s' if n != 1 else ''}"


def relative_time(stamp: str | None, now: datetime | None = None) -> str:
    """``"5 minutes ago"``, ``"in 2 hours"``, ``"just now"``; ``"—"`` for no time."""
    if not stamp:
        return "—"
    delta = ((now or datetime.now(UTC)) - _parse(stamp)).total_seconds()
    if abs(delta) < 10:
        return "just now"
    return f"{_amount(delta)} ago" if delta > 0 else f"in {_amount(-delta)}"


def exact_time(stamp: str) -> str:
    """The exact time a person reads: ``2026-12-02 00:37:56 UTC``."""
    return _parse(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@blueprint.app_template_filter("when")
def when(stamp: str | None) -> Markup:
    """A ``<time>`` element: the relative time, the exact one on hover and for machines."""
    if not stamp:
        return Markup("—")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        stamp, exact_time(stamp), relative_time(stamp)
    )


@blueprint.app_template_filter("setting_label")
def setting_label(field: str) -> str:
    """The name a person reads for a service setting's REST field name."""
    return SETTING_LABELS.get(field, field.replace("_", " ").capitalize())


@blueprint.app_template_filter("setting_value")
def setting_value(field: str, value: str | None) -> str:
    """A setting's value in words: timeouts in minutes, "off", the modes' plain names."""
    if value is None or value == "":
        return "off" if field.endswith("timeout") else "none"
    if field in ("acknowledgement_timeout", "auto_resolve_timeout") and value.isdigit():
        return _amount(int(value))
    if field == "alert_grouping_timeout" and value.isdigit():
        return _amount(int(value) * 60)
    return _VALUE_WORDS.get(value, value)


@blueprint.app_template_filter("status_words")
def status_words(shown: str) -> str:
    """A service's displayed status as a sentence, not the API's one word."""
    return _STATUS_WORDS.get(shown, shown.capitalize())


@blueprint.app_template_filter("notification_words")
def notification_words(kind: str) -> str:
    """A notification's medium in words: ``email_notification`` → "email"."""
    return kind.removesuffix("_notification").replace("_", " ")
