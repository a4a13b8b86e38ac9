"""Prometheus Alertmanager, through its native webhook receiver (``version: "4"``).

One event per notification, i.e. per aggregation group, exactly as
Alertmanager's own PagerDuty receiver does: ``dedup_key`` is the SHA-256 hex
of ``groupKey`` and ``summary`` is the default ``__subject`` template, so an
incident opened by the native receiver resolves through the gateway and
vice versa. Inbound URL: ``/integration/{key}/enqueue``.

Older Alertmanagers and tools imitating its webhook leave fields out
(``groupKey``, ``groupLabels``, ``commonLabels``, ``commonAnnotations``,
``externalURL``, even ``status``). A refused notification is an alert lost for
good, so the missing parts are derived from the alerts themselves (see
:func:`fallback_dedup_key`, :func:`derived_subject`); only a body with no
``alerts`` list, or with fields of the wrong type, is refused.
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

# Severities Prometheus rules commonly use that are not PD-CEF words.
SEVERITY_ALIASES = {"page": "critical", "none": "info"}
SEVERITIES = ("critical", "error", "warning", "info")
# Alertmanager's PagerDuty notifier: `if n.conf.Severity == "" { n.conf.Severity = "error" }`.
DEFAULT_SEVERITY = "error"
SOURCE_LABELS = ("instance", "cluster", "job")
# A group can hold thousands of alerts; their generator URLs are usually one or a few.
MAX_LINKS = 20
# The subject's name when the alerts share neither an alertname nor a summary annotation.
FALLBACK_NAME = "Alertmanager alert"
# Prometheus's label-set fingerprint: 64-bit FNV-1a, with a 0xff byte after each name and value.
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_FNV_MASK = 0xFFFFFFFFFFFFFFFF
_LABEL_SEPARATOR = 0xFF


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


def derived_subject(
    status: str,
    firing: int,
    common_labels: Mapping[str, str],
    common_annotations: Mapping[str, str],
) -> str:
    """The subject of a notification that carries no ``groupLabels`` (older or imitating senders).

    ``[FIRING:<n>] <name> (<values of the other common labels>)``, where the name is
    the common ``alertname`` label, else the common ``summary`` annotation, else
    :data:`FALLBACK_NAME`: never empty, whatever the alerts hold.
    """
    head = f"[{status.upper()}:{firing}]" if status == "firing" else f"[{status.upper()}]"
    name = (
        loose_text(common_labels.get("alertname"))
        or loose_text(common_annotations.get("summary"))
        or FALLBACK_NAME
    )
    rest = sorted_values({k: v for k, v in common_labels.items() if k != "alertname"})
    return f"{head} {name} ({' '.join(rest)})" if rest else f"{head} {name}"


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus's fingerprint of a label set, as Alertmanager sends it (16 hex digits).

    64-bit FNV-1a over each label's UTF-8 name, a 0xff byte, its value and a 0xff
    byte, labels sorted by name: an alert sent without ``fingerprint`` gets the
    one Alertmanager would have given it.
    """
    separator = bytes([_LABEL_SEPARATOR])
    data = b"".join(
        part.encode("utf-8", "surrogatepass") + separator
        for name in sorted(labels)
        for part in (name, labels[name])
    )
    value, prime, mask = _FNV_OFFSET, _FNV_PRIME, _FNV_MASK  # locals: the loop runs per byte
    for byte in data:
        value = ((value ^ byte) * prime) & mask
    return f"{value:016x}"


def alert_fingerprint(alert: Mapping[str, Any]) -> str:
    """The alert's ``fingerprint``, or its labels' fingerprint when it sent none."""
    given = alert.get("fingerprint")
    if isinstance(given, str) and given:
        return given
    labels = alert.get("labels")
    return label_fingerprint(labels if isinstance(labels, dict) else {})


def fallback_dedup_key(receiver: str, alerts: list[dict[str, Any]]) -> str:
    """The dedup key of a notification without ``groupKey``.

    SHA-256 hex of the receiver followed by the alerts' distinct fingerprints,
    sorted, each preceded by a line feed: stable across repeats and across
    alerts moving from firing to resolved, which is all a sender that names no
    group lets the gateway know about it.
    """
    fingerprints = sorted({alert_fingerprint(alert) for alert in alerts})
    return group_key_hash("\n".join([receiver, *fingerprints]))


def common_pairs(mappings: list[Mapping[str, Any]]) -> dict[str, str]:
    """The string pairs every mapping holds (Alertmanager's ``commonLabels`` rule)."""
    if not mappings:
        return {}
    common = {k: v for k, v in mappings[0].items() if isinstance(v, str)}
    for other in mappings[1:]:
        common = {k: v for k, v in common.items() if other.get(k) == v}
    return common


def _annotations(alert: Mapping[str, Any]) -> Mapping[str, Any]:
    value = alert.get("annotations")
    return value if isinstance(value, dict) else {}


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
        if status is not None and status not in ("firing", "resolved"):
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
    # Every other field may be missing (older versions, imitators): only a wrong type is
    # refused. ``version`` is not checked either: older Alertmanagers sent other numbers.
    status = text(body, "status", errors)
    if status is not None and status not in ("firing", "resolved"):
        errors.append("'status' is invalid (must be firing or resolved)")
    group_key = text(body, "groupKey", errors)
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
    assert request.integration_key is not None
    if status is None:
        # Alertmanager's own rule: the group is resolved when every alert in it is.
        every_resolved = bool(alerts) and all(a.get("status") == "resolved" for a in alerts)
        status = "resolved" if every_resolved else "firing"
    # An alert without a status shares the notification's.
    firing = [a for a in alerts if (a.get("status") or status) == "firing"]
    resolved = [a for a in alerts if (a.get("status") or status) == "resolved"]
    if body.get("commonLabels") is None:
        common_labels = common_pairs([a.get("labels") or {} for a in alerts])
    if body.get("groupLabels") is not None:
        summary = subject(status, len(firing), group_labels, common_labels)
    else:
        annotations = body.get("commonAnnotations")
        if not isinstance(annotations, dict):
            annotations = common_pairs([_annotations(a) for a in alerts])
        summary = derived_subject(status, len(firing), common_labels, annotations)
    is_resolve = status == "resolved"
    client_url = None
    if external_url and external_url.startswith(("https://", "http://")):
        client_url = f"{external_url}/#/alerts?receiver={quote(receiver or '', safe='')}"
    event = Event(
        routing_key=request.integration_key,
        event_action="resolve" if is_resolve else "trigger",
        dedup_key=group_key_hash(group_key)
        if group_key
        else fallback_dedup_key(receiver or "", alerts),
        summary=fit_summary(summary),
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
