"""Prometheus Alertmanager, through its native webhook receiver (``version: "4"``).

One event per notification, i.e. per aggregation group, exactly as
Alertmanager's own PagerDuty receiver does: ``dedup_key`` is the SHA-256 hex
of ``groupKey`` and ``summary`` is the default ``__subject`` template, so an
incident opened by the native receiver resolves through the gateway and
vice versa. Inbound URL: ``/integration/{key}/enqueue``. Mapping rules:
``shared/reference/vendor-mapping.md`` §1.5.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from gateway.pluginkit import (
    Event,
    InboundRequest,
    InvalidEvent,
    Link,
    Vendor,
    fit_summary,
    hookimpl,
    missing,
)

from ._vendor import (
    decode_json_object,
    finish,
    invalid_type,
    iso_timestamp,
    loose_text,
    text,
    unknown_settings,
)

VENDOR_ID = "PGWAMGR"  # gateway-assigned: PagerDuty has no Alertmanager webhook vendor
INTEGRATION_TYPE = "event_transformer_api_inbound_integration"
CLIENT = "Alertmanager"
WEBHOOK_VERSION = "4"

# Severities Prometheus rules commonly use that are not PD-CEF words.
SEVERITY_ALIASES = {"page": "critical", "none": "info"}
SEVERITIES = ("critical", "error", "warning", "info")
# Alertmanager's PagerDuty notifier: `if n.conf.Severity == "" { n.conf.Severity = "error" }`.
DEFAULT_SEVERITY = "error"
SOURCE_LABELS = ("instance", "cluster", "job")
# A group can hold thousands of alerts; their generator URLs are usually one or a few.
MAX_LINKS = 20


def check_settings(raw: Mapping[str, Any]) -> list[str]:
    """Alertmanager has no settings: any key is a mistake worth reporting at start-up."""
    return unknown_settings(raw, ())


def group_key_hash(group_key: str) -> str:
    """SHA-256 hex of the group key: Alertmanager's ``Key.Hash()``, its PagerDuty dedup key."""
    return hashlib.sha256(group_key.encode("utf-8", "surrogatepass")).hexdigest()


def sorted_values(labels: Mapping[str, str]) -> list[str]:
    """Label values in Alertmanager's ``SortedPairs`` order: ``alertname`` first, then by name."""
    names = sorted(name for name in labels if name != "alertname")
    if "alertname" in labels:
        names.insert(0, "alertname")
    return [labels[name] for name in names]


def subject(
    status: str,
    firing: int,
    group_labels: Mapping[str, str],
    common_labels: Mapping[str, str],
) -> str:
    """Alertmanager's default ``__subject``.

    ``[FIRING:<n>] <group label values> (<other common label values>)``.
    """
    head = f"[{status.upper()}:{firing}]" if status == "firing" else f"[{status.upper()}]"
    text_ = f"{head} {' '.join(sorted_values(group_labels))} "
    if len(common_labels) > len(group_labels):
        rest = {k: v for k, v in common_labels.items() if k not in group_labels}
        text_ += f"({' '.join(sorted_values(rest))})"
    return text_


def _labels(obj: Mapping[str, Any], key: str, name: str, errors: list[str]) -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        errors.append(invalid_type(name, "an object of strings"))
        return {}
    return value


def _alerts(body: Mapping[str, Any], errors: list[str]) -> list[dict[str, Any]]:
    alerts = body.get("alerts")
    if alerts is None:
        errors.append(missing("alerts"))
        return []
    if not isinstance(alerts, list):
        errors.append(invalid_type("alerts", "an array"))
        return []
    checked = []
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            errors.append(invalid_type(f"alerts[{i}]", "an object"))
            continue
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            errors.append(f"'alerts[{i}].status' is invalid (must be firing or resolved)")
        _labels(alert, "labels", f"alerts[{i}].labels", errors)
        checked.append(alert)
    return checked


def _severity(common_labels: Mapping[str, str]) -> str:
    value = common_labels.get("severity", "").strip().lower()
    value = SEVERITY_ALIASES.get(value, value)
    return value if value in SEVERITIES else DEFAULT_SEVERITY


def _earliest_start(alerts: list[dict[str, Any]]) -> str | None:
    # RFC 3339 UTC strings with fixed-width milliseconds sort chronologically.
    starts = [t for t in (iso_timestamp(a.get("startsAt")) for a in alerts) if t]
    return min(starts) if starts else None


def _links(alerts: list[dict[str, Any]]) -> list[Link]:
    links: list[Link] = []
    seen: set[str] = set()
    for alert in alerts:
        url = loose_text(alert.get("generatorURL"))
        if url and url not in seen and url.startswith(("https://", "http://")):
            seen.add(url)
            links.append(Link(href=url, text="Prometheus"))
            if len(links) == MAX_LINKS:
                break
    return links


async def parse(request: InboundRequest) -> list[Event]:
    """Parse one Alertmanager webhook notification into one event for its group."""
    body = decode_json_object(request.body)
    if "alerts" not in body and ("event_action" in body or "routing_key" in body):
        raise InvalidEvent(
            [
                "this is a PagerDuty Events API v2 event (Alertmanager's pagerduty_configs): "
                "send it to /v2/enqueue, or use webhook_configs for this URL"
            ]
        )
    errors: list[str] = []
    if not request.integration_key:
        errors.append(
            "Alertmanager webhooks must be sent to /integration/{integration_key}/enqueue"
        )
    version = body.get("version")
    if version is not None and version != WEBHOOK_VERSION:
        errors.append(f"'version' is invalid (must be \"{WEBHOOK_VERSION}\")")
    status = text(body, "status", errors, required=True)
    if status and status not in ("firing", "resolved"):
        errors.append("'status' is invalid (must be firing or resolved)")
    group_key = text(body, "groupKey", errors, required=True)
    receiver = text(body, "receiver", errors)
    external_url = text(body, "externalURL", errors)
    group_labels = _labels(body, "groupLabels", "groupLabels", errors)
    common_labels = _labels(body, "commonLabels", "commonLabels", errors)
    alerts = _alerts(body, errors)
    truncated = body.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int):
        errors.append(invalid_type("truncatedAlerts", "an integer"))
    if errors:
        raise InvalidEvent(errors)
    assert status is not None and group_key is not None and request.integration_key is not None
    firing = [a for a in alerts if a.get("status") == "firing"]
    resolved = [a for a in alerts if a.get("status") == "resolved"]
    is_resolve = status == "resolved"
    client_url = None
    if external_url and external_url.startswith(("https://", "http://")):
        client_url = f"{external_url}/#/alerts?receiver={quote(receiver or '', safe='')}"
    event = Event(
        routing_key=request.integration_key,
        event_action="resolve" if is_resolve else "trigger",
        dedup_key=group_key_hash(group_key),
        summary=fit_summary(subject(status, len(firing), group_labels, common_labels)),
        source=next(
            (common_labels[k] for k in SOURCE_LABELS if common_labels.get(k, "").strip()),
            CLIENT,
        ),
        severity="info" if is_resolve else _severity(common_labels),  # type: ignore[arg-type]
        timestamp=_earliest_start(firing) or _earliest_start(alerts),
        component=loose_text(common_labels.get("service")) or loose_text(common_labels.get("job")),
        group=loose_text(common_labels.get("cluster"))
        or loose_text(common_labels.get("namespace")),
        class_=loose_text(common_labels.get("alertname")),
        custom_details={
            "firing": firing,
            "resolved": resolved,
            "num_firing": len(firing),
            "num_resolved": len(resolved),
            "groupKey": group_key,
            "externalURL": external_url,
            "truncatedAlerts": truncated,
        },
        links=_links(alerts),
        client=CLIENT,
        client_url=client_url,
    )
    return [finish(event)]


VENDOR = Vendor(
    id=VENDOR_ID,
    name="Prometheus Alertmanager",
    integration_type=INTEGRATION_TYPE,
    parse=parse,
    aliases=("alertmanager", "prometheus"),
    description=(
        "Prometheus Alertmanager webhook_configs (version 4): one event per alert group, "
        "keyed like Alertmanager's own PagerDuty receiver."
    ),
    website_url="https://prometheus.io/docs/alerting/latest/alertmanager/",
    check_settings=check_settings,
)


@hookimpl
def register_vendors() -> list[Vendor]:
    """Register the Prometheus Alertmanager vendor."""
    return [VENDOR]
