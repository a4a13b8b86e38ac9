"""Datadog monitor notifications, through a Datadog webhook.

Datadog has no fixed webhook body: the user writes a JSON template and
Datadog substitutes ``$VARIABLES`` into it. This plugin expects the template
published in ``docs/vendors.md`` (a superset of Datadog's default one), and
maps it by ``shared/reference/vendor-mapping.md`` §1.3. Inbound URL:
``/integration/{key}/enqueue``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from gateway.pluginkit import (
    Event,
    Image,
    InboundRequest,
    InvalidEvent,
    Link,
    Vendor,
    fit_dedup_key,
    fit_summary,
    hookimpl,
)

from ._vendor import (
    decode_json_object,
    epoch_timestamp,
    finish,
    loose_text,
    setting_choice,
    text,
    unknown_settings,
)

log = structlog.get_logger(__name__)

VENDOR_ID = "PGWDDOG"  # gateway-assigned: PagerDuty's own Datadog vendor id is not published
INTEGRATION_TYPE = "event_transformer_api_inbound_integration"
CLIENT = "Datadog"
PREFIX = "datadog:"

SETTINGS = ("no_data_severity",)
# The first choice is the default.
NO_DATA_SEVERITIES = ("warning", "critical", "error", "info")

PRIORITY_SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}
ALERT_TYPE_SEVERITY = {"error": "error", "warning": "warning", "info": "info", "success": "info"}
DEFAULT_SEVERITY = "error"

# Template fields this plugin reads; each must be a string (or an unquoted scalar).
_FIELDS = (
    "id",
    "title",
    "alert_title",
    "event_type",
    "date",
    "alert_id",
    "alert_cycle_key",
    "aggreg_key",
    "alert_transition",
    "alert_type",
    "alert_scope",
    "alert_metric",
    "alert_priority",
    "hostname",
    "link",
    "snapshot",
)


def check_settings(raw: Mapping[str, Any]) -> list[str]:
    """Every problem with an integration's Datadog settings (for start-up checks)."""
    errors = unknown_settings(raw, SETTINGS)
    setting_choice(raw, "no_data_severity", NO_DATA_SEVERITIES, errors)
    return errors


def _base_transition(transition: str) -> str:
    """``Re-Warn`` → ``warn``: renotifications keep their transition's meaning."""
    base = transition.strip().lower()
    return base[3:].strip() if base.startswith("re-") else base


def dedup_key_of(fields: Mapping[str, str | None]) -> str | None:
    """``datadog:`` + the alert cycle key, or the documented fallbacks in order."""
    if fields["alert_cycle_key"]:
        return PREFIX + fields["alert_cycle_key"]
    if fields["aggreg_key"]:
        return PREFIX + fields["aggreg_key"]
    if fields["alert_id"]:
        return PREFIX + fields["alert_id"] + ":" + (fields["alert_scope"] or "")
    if fields["id"]:
        return PREFIX + fields["id"]
    return None


def severity_of(fields: Mapping[str, str | None], no_data_severity: str) -> str:
    """Transition first (Warn, No Data), then ``alert_priority``, then ``alert_type``."""
    base = _base_transition(fields["alert_transition"] or "")
    if base == "warn":
        return "warning"
    if base == "no data":
        return no_data_severity
    priority = (fields["alert_priority"] or "").strip().upper()
    if priority in PRIORITY_SEVERITY:
        return PRIORITY_SEVERITY[priority]
    alert_type = (fields["alert_type"] or "").strip().lower()
    return ALERT_TYPE_SEVERITY.get(alert_type, DEFAULT_SEVERITY)


async def parse(request: InboundRequest) -> list[Event]:
    """Parse one Datadog webhook notification into one event."""
    body = decode_json_object(request.body)
    errors: list[str] = []
    no_data_severity = setting_choice(
        request.settings, "no_data_severity", NO_DATA_SEVERITIES, errors
    )
    if errors:
        log.error("datadog.settings_invalid", errors=errors)
        raise InvalidEvent(errors)
    if not request.integration_key:
        raise InvalidEvent(
            ["Datadog webhooks must be sent to /integration/{integration_key}/enqueue"]
        )
    fields = {name: text(body, name, errors, scalars=True) for name in _FIELDS}
    if errors:
        raise InvalidEvent(errors)
    # Kept exactly as sent (a title's or a host's spaces included); a blank field counts
    # as absent, so the next field in each fallback chain is used.
    fields = {name: value if value and value.strip() else None for name, value in fields.items()}
    dedup_key = dedup_key_of(fields)
    if dedup_key is None:
        raise InvalidEvent(
            ["'alert_cycle_key' is missing or blank (and so are aggreg_key, alert_id and id)"]
        )
    recovered = _base_transition(fields["alert_transition"] or "") == "recovered"
    link = loose_text(body.get("link"))
    snapshot = loose_text(body.get("snapshot"))
    event = Event(
        routing_key=request.integration_key,
        event_action="resolve" if recovered else "trigger",
        dedup_key=fit_dedup_key(dedup_key),
        summary=fit_summary(
            fields["title"] or fields["alert_title"] or "", fallback=f"Datadog alert {dedup_key}"
        ),
        source=fields["hostname"] or fields["alert_scope"] or "datadog",
        severity="info" if recovered else severity_of(fields, no_data_severity),  # type: ignore[arg-type]
        timestamp=epoch_timestamp(fields["date"], millis=True),
        component=fields["alert_metric"],
        class_=fields["event_type"],
        custom_details=body,
        links=[Link(href=link, text="Datadog event")] if link else [],
        # Any snapshot URL is kept; the UI shows only https images inline.
        images=[Image(src=snapshot, href=link, alt="Datadog snapshot")] if snapshot else [],
        client=CLIENT,
        client_url=link,
    )
    return [finish(event)]


VENDOR = Vendor(
    id=VENDOR_ID,
    name="Datadog",
    integration_type=INTEGRATION_TYPE,
    parse=parse,
    aliases=("datadog",),
    description=(
        "Datadog monitor notifications through a webhook using the gateway's JSON template "
        "(see docs/vendors.md)."
    ),
    website_url="https://www.datadoghq.com/",
    check_settings=check_settings,
)


@hookimpl
def register_vendors() -> list[Vendor]:
    """Register the Datadog vendor."""
    return [VENDOR]
