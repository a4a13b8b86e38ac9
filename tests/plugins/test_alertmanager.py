"""Alertmanager webhook vendor: one event per group, keyed like the native PagerDuty receiver.

The webhook body below describes the same group as
``prometheus_alertmanager_pagerduty_v2.json`` (what Alertmanager's own
PagerDuty receiver sent for it), so the key and summary are checked against
Alertmanager's real output, not against our reading of its source.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from alert_gateway_plugins import alertmanager

from gateway import cef
from gateway.errors import InvalidEvent, UnrecognizedEvent
from gateway.model import Event, InboundRequest
from gateway.plugins import load_plugins
from gateway.testing import inbound_request
from tests.support import SAMPLES

KEY = "a1e97a9a9e90000000000000000000c3"
GROUP_KEY = '{}/{severity="critical"}:{alertname="APIHighErrorRate", service="checkout-api"}'
LABELS = {
    "alertname": "APIHighErrorRate",
    "cluster": "prod-eu-1",
    "namespace": "checkout",
    "service": "checkout-api",
    "severity": "critical",
    "team": "payments",
}


def native() -> dict[str, Any]:
    """What Alertmanager's PagerDuty receiver sent for the group (the v2 sample)."""
    decoded: dict[str, Any] = json.loads(
        (SAMPLES / "prometheus_alertmanager_pagerduty_v2.json").read_text()
    )
    return decoded


def firing_alert(**changes: Any) -> dict[str, Any]:
    """The sample's firing alert, as the webhook receiver renders it."""
    alert: dict[str, Any] = copy.deepcopy(native()["payload"]["custom_details"]["firing"][0])
    alert.update(changes)
    return alert


def webhook(**changes: Any) -> dict[str, Any]:
    """The webhook (version 4) notification for the sample's group."""
    body: dict[str, Any] = {
        "receiver": "pagerduty-critical",
        "status": "firing",
        "alerts": [firing_alert()],
        "groupLabels": {"alertname": "APIHighErrorRate", "service": "checkout-api"},
        "commonLabels": dict(LABELS),
        "commonAnnotations": {"summary": "checkout-api 5xx ratio above 5%"},
        "externalURL": "https://alertmanager.prod-eu-1.acme.example",
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
    }
    for name, value in changes.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def request(payload: dict[str, Any] | bytes, *, key: str | None = KEY) -> InboundRequest:
    """A request as the HTTP layer builds it for ``/integration/{key}/enqueue``."""
    return inbound_request(
        payload,
        integration_key=key,
        content_type="application/json",
        headers={"user-agent": "Alertmanager/0.28.1"},
    )


async def one(payload: dict[str, Any] | bytes, **kwargs: Any) -> Event:
    """Parse a body that must give exactly one valid event."""
    events = await alertmanager.VENDOR.parse(request(payload, **kwargs))
    assert len(events) == 1
    assert cef.validate(events[0]) == []
    return events[0]


async def rejected(payload: dict[str, Any] | bytes, **kwargs: Any) -> list[str]:
    """Parse a body that must be rejected as invalid; its error strings."""
    with pytest.raises(InvalidEvent) as info:
        await alertmanager.VENDOR.parse(request(payload, **kwargs))
    return info.value.errors


async def test_firing_group_matches_the_native_receiver() -> None:
    event = await one(webhook())
    sent = native()
    assert event.routing_key == KEY
    assert event.event_action == "trigger"
    assert event.dedup_key == sent["dedup_key"]
    assert event.dedup_key == hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    assert event.summary == sent["payload"]["summary"]
    assert (
        event.summary
        == "[FIRING:1] APIHighErrorRate checkout-api (prod-eu-1 checkout critical payments)"
    )
    assert event.severity == sent["payload"]["severity"] == "critical"
    assert event.source == "prod-eu-1"  # commonLabels.cluster (no instance label)
    assert event.client == "Alertmanager"
    assert event.client_url == sent["client_url"]
    assert event.timestamp == "2026-11-03T09:44:12.113Z"
    assert event.class_ == "APIHighErrorRate"
    assert [link.href for link in event.links] == [firing_alert()["generatorURL"]]


async def test_custom_details_shape() -> None:
    details = (await one(webhook())).custom_details
    assert details["firing"] == [firing_alert()]
    assert details["resolved"] == []
    assert details["num_firing"] == 1
    assert details["num_resolved"] == 0
    assert details["groupKey"] == GROUP_KEY
    assert details["externalURL"] == "https://alertmanager.prod-eu-1.acme.example"
    assert details["truncatedAlerts"] == 0


async def test_resolved_group_resolves_the_same_key() -> None:
    alert = firing_alert(status="resolved", endsAt="2026-11-03T10:14:12.113Z")
    event = await one(webhook(status="resolved", alerts=[alert]))
    assert event.event_action == "resolve"
    assert event.dedup_key == native()["dedup_key"]
    assert event.severity == "info"
    assert (
        event.summary
        == "[RESOLVED] APIHighErrorRate checkout-api (prod-eu-1 checkout critical payments)"
    )
    assert event.source == "prod-eu-1"
    assert event.custom_details["num_resolved"] == 1
    assert event.timestamp == "2026-11-03T09:44:12.113Z"


async def test_partly_resolved_group_still_triggers_and_counts_firing_only() -> None:
    labels_b = dict(LABELS, pod="checkout-api-2")
    alerts = [
        firing_alert(labels=dict(LABELS, pod="checkout-api-1"), startsAt="2026-11-03T09:50:00Z"),
        firing_alert(labels=labels_b, startsAt="2026-11-03T09:40:00.5+01:00"),
        firing_alert(status="resolved", startsAt="2026-11-03T07:00:00Z"),
    ]
    event = await one(webhook(alerts=alerts))
    assert event.event_action == "trigger"
    assert event.summary is not None
    assert event.summary.startswith("[FIRING:2] APIHighErrorRate checkout-api (")
    # The earliest firing start (08:40:00.5 UTC), not the resolved alert's.
    assert event.timestamp == "2026-11-03T08:40:00.500Z"
    assert event.custom_details["num_firing"] == 2
    assert event.custom_details["num_resolved"] == 1


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", "critical"),
        ("Warning", "warning"),
        ("error", "error"),
        ("info", "info"),
        ("page", "critical"),
        ("none", "info"),
        ("high", "error"),
        ("", "error"),
        (None, "error"),
    ],
)
async def test_severity_from_common_labels(severity: str | None, expected: str) -> None:
    labels = dict(LABELS)
    if severity is None:
        del labels["severity"]
    else:
        labels["severity"] = severity
    event = await one(webhook(commonLabels=labels))
    assert event.severity == expected


@pytest.mark.parametrize(
    ("labels", "source"),
    [
        ({"instance": "10.0.0.5:9100", "cluster": "c", "job": "j"}, "10.0.0.5:9100"),
        ({"cluster": "c", "job": "j"}, "c"),
        ({"job": "node"}, "node"),
        ({"instance": " ", "alertname": "X"}, "Alertmanager"),
        ({}, "Alertmanager"),
    ],
)
async def test_source_fallbacks(labels: dict[str, str], source: str) -> None:
    event = await one(webhook(commonLabels=labels, groupLabels={}))
    assert event.source == source


def test_subject_template() -> None:
    group = {"service": "api", "alertname": "Down"}
    common = {"service": "api", "alertname": "Down", "zone": "b", "env": "prod"}
    assert alertmanager.subject("firing", 3, group, common) == "[FIRING:3] Down api (prod b)"
    assert alertmanager.subject("resolved", 0, group, group) == "[RESOLVED] Down api "
    assert alertmanager.subject("firing", 1, {}, {}) == "[FIRING:1]  "


async def test_group_without_extra_common_labels_has_no_parenthesis() -> None:
    groups = {"alertname": "APIHighErrorRate", "service": "checkout-api"}
    event = await one(webhook(commonLabels=groups))
    # Alertmanager's own __subject ends with that space; it is kept, as its notifier sends it.
    assert event.summary == "[FIRING:1] APIHighErrorRate checkout-api "


async def test_links_are_deduplicated_and_capped() -> None:
    alerts = [
        firing_alert(generatorURL=f"https://prometheus.example/graph?g{i % 30}") for i in range(100)
    ]
    alerts.append(firing_alert(generatorURL="javascript:alert(1)"))
    event = await one(webhook(alerts=alerts))
    assert len(event.links) == alertmanager.MAX_LINKS
    assert len({link.href for link in event.links}) == alertmanager.MAX_LINKS


async def test_client_url_quotes_the_receiver() -> None:
    event = await one(webhook(receiver="team a/b&c"))
    assert event.client_url == (
        "https://alertmanager.prod-eu-1.acme.example/#/alerts?receiver=team%20a%2Fb%26c"
    )
    event = await one(webhook(externalURL="not a url"))
    assert event.client_url is None


async def test_unknown_fields_and_missing_version_are_accepted() -> None:
    event = await one(
        webhook(version=None, notification_reason="new_alert", routeLabels={"a": "b"})
    )
    assert event.dedup_key == native()["dedup_key"]


async def test_huge_group_drops_custom_details() -> None:
    alerts = [
        firing_alert(labels=dict(LABELS, pod=f"checkout-api-{i}"), fingerprint=f"{i:016x}")
        for i in range(1500)
    ]
    event = await one(webhook(alerts=alerts))
    assert event.custom_details == cef.SIZE_ERROR_DETAILS
    assert event.summary is not None
    assert event.summary.startswith("[FIRING:1500] ")


async def test_hostile_unicode_group_key_is_hashed_exactly() -> None:
    group_key = '{}:{alertname="\u202eDown\u200b😀e\u0301"}'
    event = await one(webhook(groupKey=group_key))
    assert event.dedup_key == hashlib.sha256(group_key.encode("utf-8")).hexdigest()


async def test_events_api_v2_body_is_pointed_at_v2_enqueue() -> None:
    errors = await rejected((SAMPLES / "prometheus_alertmanager_pagerduty_v2.json").read_bytes())
    assert errors == [
        "this is a PagerDuty Events API v2 event (Alertmanager's pagerduty_configs): "
        "send it to /v2/enqueue, or use webhook_configs for this URL"
    ]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"groupKey": 5}, "'groupKey' is invalid (must be a string)"),
        ({"status": "pending"}, "'status' is invalid (must be firing or resolved)"),
        ({"receiver": ["a"]}, "'receiver' is invalid (must be a string)"),
        ({"alerts": None}, "'alerts' is missing or blank"),
        ({"alerts": {"a": 1}}, "'alerts' is invalid (must be an array)"),
        ({"alerts": ["x"]}, "'alerts[0]' is invalid (must be an object)"),
        (
            {"alerts": [{"status": "gone", "labels": {}}]},
            "'alerts[0].status' is invalid (must be firing or resolved)",
        ),
        (
            {"alerts": [{"status": "firing", "labels": {"a": 1}}]},
            "'alerts[0].labels' is invalid (must be an object of strings)",
        ),
        ({"commonLabels": ["a"]}, "'commonLabels' is invalid (must be an object of strings)"),
        ({"groupLabels": {"a": None}}, "'groupLabels' is invalid (must be an object of strings)"),
        ({"truncatedAlerts": "0"}, "'truncatedAlerts' is invalid (must be an integer)"),
        ({"externalURL": 1}, "'externalURL' is invalid (must be a string)"),
    ],
)
async def test_invalid_notifications_are_refused(changes: dict[str, Any], error: str) -> None:
    assert error in await rejected(webhook(**changes))


# -- Older Alertmanagers and imitators: fields missing, derived from the alerts -------------------


def node_alert(instance: str, **changes: Any) -> dict[str, Any]:
    """A firing node alert as an imitating tool sends it (no fingerprint)."""
    alert: dict[str, Any] = {
        "status": "firing",
        "labels": {
            "alertname": "HighCPU",
            "instance": instance,
            "job": "node",
            "severity": "warning",
        },
        "annotations": {"summary": f"CPU above 90% on {instance}"},
        "startsAt": "2026-11-03T09:00:00Z",
    }
    alert.update(changes)
    return alert


def bare(alerts: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A notification carrying only its alerts (and ``fields``): no group fields at all."""
    return {"alerts": alerts, **fields}


def fallback_key(receiver: str, fingerprints: list[str]) -> str:
    """The documented formula, written out independently of the plugin."""
    text = receiver + "".join("\n" + fp for fp in sorted(set(fingerprints)))
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("labels", "fingerprint"),
    [
        # Prometheus's own test vectors for its label-set fingerprint (prometheus/common).
        ({}, 14695981039346656037),
        ({"name": "garland, briggs", "fear": "love is not enough"}, 5799056148416392346),
        ({"first-label": "first-label-value"}, 5146282821936882169),
        (
            {"first-label": "first-label-value", "second-label": "second-label-value"},
            3195800080984914717,
        ),
    ],
)
def test_label_fingerprint_is_prometheus_fingerprint(
    labels: dict[str, str], fingerprint: int
) -> None:
    assert alertmanager.label_fingerprint(labels) == f"{fingerprint:016x}"


async def test_webhook_without_group_fields_is_accepted() -> None:
    alerts = [
        node_alert("a:9100", fingerprint="1111111111111111"),
        node_alert("b:9100", fingerprint="2222222222222222"),
    ]
    event = await one(bare(alerts, receiver="ops", status="firing", version="4"))
    assert event.event_action == "trigger"
    assert event.dedup_key == fallback_key("ops", ["2222222222222222", "1111111111111111"])
    # commonLabels = the labels every alert shares (alertname, job, severity).
    assert event.summary == "[FIRING:2] HighCPU (node warning)"
    assert event.severity == "warning"
    assert event.source == "node"
    assert event.class_ == "HighCPU"
    assert event.custom_details["num_firing"] == 2
    assert event.custom_details["groupKey"] is None
    assert event.client_url is None


async def test_alert_without_fingerprint_is_keyed_by_its_labels_fingerprint() -> None:
    alerts = [node_alert("a:9100"), node_alert("b:9100")]
    expected = [alertmanager.label_fingerprint(alert["labels"]) for alert in alerts]
    event = await one(bare(alerts, receiver="ops"))
    assert event.dedup_key == fallback_key("ops", expected)
    # The same alerts with the fingerprints Alertmanager would have sent: the same key.
    given = [dict(alert, fingerprint=fp) for alert, fp in zip(alerts, expected, strict=True)]
    assert (await one(bare(given, receiver="ops"))).dedup_key == event.dedup_key


async def test_fallback_key_is_stable_across_repeats_order_and_resolution() -> None:
    alerts = [node_alert("a:9100"), node_alert("b:9100")]
    first = await one(bare(alerts, receiver="ops"))
    repeat = await one(bare(list(reversed(alerts)), receiver="ops"))
    partly = await one(bare([alerts[0], dict(alerts[1], status="resolved")], receiver="ops"))
    done = [dict(alert, status="resolved") for alert in alerts]
    resolved = await one(bare(done, receiver="ops"))
    assert first.dedup_key == repeat.dedup_key == partly.dedup_key == resolved.dedup_key
    assert partly.event_action == "trigger"
    assert partly.summary == "[FIRING:1] HighCPU (node warning)"
    # No status in the body: resolved because every alert is, as Alertmanager decides.
    assert resolved.event_action == "resolve"
    assert resolved.summary == "[RESOLVED] HighCPU (node warning)"
    other = await one(bare(alerts, receiver="dev"))
    assert other.dedup_key != first.dedup_key
    nameless = await one(bare(alerts))
    assert nameless.dedup_key == fallback_key(
        "", [alertmanager.alert_fingerprint(a) for a in alerts]
    )


async def test_alert_without_status_takes_the_notifications() -> None:
    alert = node_alert("a:9100")
    del alert["status"]
    assert (await one(bare([alert], status="resolved"))).event_action == "resolve"
    event = await one(bare([alert]))
    assert event.event_action == "trigger"
    assert event.custom_details["firing"] == [alert]  # kept as sent, no status added


@pytest.mark.parametrize(
    ("fields", "summary"),
    [
        # Different alertnames, a shared summary annotation.
        ({}, "[FIRING:2] CPU above 90% (node)"),
        # commonAnnotations, when sent, is Alertmanager's own.
        ({"commonAnnotations": {"summary": "CPU hot"}}, "[FIRING:2] CPU hot (node)"),
    ],
)
async def test_summary_falls_back_to_the_common_summary_annotation(
    fields: dict[str, Any], summary: str
) -> None:
    alerts = [
        node_alert("a:9100", annotations={"summary": "CPU above 90%"}),
        node_alert("b:9100", annotations={"summary": "CPU above 90%", "runbook": "x"}),
    ]
    alerts[1]["labels"] = dict(alerts[1]["labels"], alertname="HighLoad", severity="critical")
    event = await one(bare(alerts, **fields))
    assert event.summary == summary
    assert event.severity == "error"  # no common severity label: Alertmanager's default
    assert event.class_ is None


async def test_summary_without_alertname_or_summary_is_a_fixed_text() -> None:
    alerts = [
        {"status": "firing", "labels": {"alertname": "A", "env": "prod"}},
        {"status": "firing", "labels": {"alertname": "B", "env": "prod"}},
    ]
    event = await one(bare(alerts))
    assert event.summary == "[FIRING:2] Alertmanager alert (prod)"
    event = await one(bare([{"labels": {}}]))
    assert event.summary == "[FIRING:1] Alertmanager alert"
    assert event.source == "Alertmanager"
    event = await one(bare([]))
    assert event.summary == "[FIRING:0] Alertmanager alert"


async def test_given_common_labels_are_used_over_the_intersection() -> None:
    alerts = [node_alert("a:9100"), node_alert("b:9100")]
    event = await one(bare(alerts, commonLabels={"alertname": "Custom", "severity": "critical"}))
    assert event.summary == "[FIRING:2] Custom (critical)"
    assert event.severity == "critical"


async def test_group_labels_without_group_key_keep_alertmanagers_subject() -> None:
    event = await one(webhook(groupKey=None, commonLabels=None, externalURL=None))
    assert event.summary == native()["payload"]["summary"]
    assert event.dedup_key == fallback_key("pagerduty-critical", ["e02a9c51f73b6d48"])


async def test_older_webhook_versions_are_accepted() -> None:
    event = await one(webhook(version="3", groupKey=None))
    assert event.event_action == "trigger"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"receiver": "ops", "status": "firing"}, "'alerts' is missing or blank"),
        ({"alerts": "none"}, "'alerts' is invalid (must be an array)"),
    ],
)
async def test_notification_without_an_alerts_list_is_refused(
    body: dict[str, Any], error: str
) -> None:
    assert await rejected(body) == [error]


@pytest.mark.parametrize(
    "raw", [b"", b'{"receiver": "x"', b"[]", b"4", b"\xc3\x28", b'{"groupKey": "\\ud800"}']
)
async def test_malformed_bodies_are_unrecognized(raw: bytes) -> None:
    with pytest.raises(UnrecognizedEvent):
        await alertmanager.VENDOR.parse(request(raw))


async def test_request_without_key_is_refused() -> None:
    assert await rejected(webhook(), key=None) == [
        "Alertmanager webhooks must be sent to /integration/{integration_key}/enqueue"
    ]


def test_vendor_registration() -> None:
    [vendor] = alertmanager.register_vendors()
    assert vendor.integration_type == "event_transformer_api_inbound_integration"
    assert vendor.aliases == ("alertmanager", "prometheus")
    assert vendor.paths == ()
    assert len(vendor.id) == 7
    assert vendor.id.startswith("P")
    host = load_plugins()
    assert host.vendor("prometheus") is alertmanager.VENDOR
    assert host.vendor(vendor.id) is alertmanager.VENDOR


def test_settings_are_checked() -> None:
    assert alertmanager.VENDOR.check_settings is not None
    assert alertmanager.VENDOR.check_settings({}) == []
    assert alertmanager.VENDOR.check_settings({"severity": "page"}) == [
        "integration setting 'severity' is unknown (known: none)"
    ]
