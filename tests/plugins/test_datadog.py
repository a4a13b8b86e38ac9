"""Datadog webhook vendor: the published template, transitions, severities and keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alert_gateway_plugins import datadog

from gateway import cef
from gateway.errors import InvalidEvent, UnrecognizedEvent
from gateway.model import Event, InboundRequest
from gateway.plugins import load_plugins
from gateway.testing import inbound_request
from tests.support import SAMPLES

KEY = "da7ad0900000000000000000000000a1"
CYCLE = "datadog:7845201937645203385"
TRIGGER_TITLE = (
    "[P2] [Triggered on {env:prod,service:checkout-api}] Checkout API p95 latency is high"
)


def sample(name: str = "datadog_webhook_triggered.json") -> dict[str, Any]:
    """A sample webhook body, decoded."""
    decoded: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return decoded


def body(**changes: Any) -> dict[str, Any]:
    """The triggered sample with fields changed; ``None`` removes a field."""
    payload = sample()
    for name, value in changes.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def request(
    payload: dict[str, Any] | bytes,
    *,
    settings: dict[str, Any] | None = None,
    key: str | None = KEY,
) -> InboundRequest:
    """A request as the HTTP layer builds it for ``/integration/{key}/enqueue``."""
    return inbound_request(
        payload, integration_key=key, content_type="application/json", settings=settings
    )


async def one(payload: dict[str, Any] | bytes, **kwargs: Any) -> Event:
    """Parse a body that must give exactly one valid event."""
    events = await datadog.VENDOR.parse(request(payload, **kwargs))
    assert len(events) == 1
    assert cef.validate(events[0]) == []
    return events[0]


async def rejected(payload: dict[str, Any] | bytes, **kwargs: Any) -> list[str]:
    """Parse a body that must be rejected as invalid; its error strings."""
    with pytest.raises(InvalidEvent) as info:
        await datadog.VENDOR.parse(request(payload, **kwargs))
    return info.value.errors


async def test_sample_triggered() -> None:
    event = await one(sample())
    assert event.routing_key == KEY
    assert event.event_action == "trigger"
    assert event.dedup_key == CYCLE
    assert event.severity == "error"  # P2
    assert event.summary == TRIGGER_TITLE
    assert event.source == "env:prod,service:checkout-api"  # hostname is empty
    assert event.timestamp == "2026-11-03T09:49:11.000Z"
    assert event.class_ == "query_alert_monitor"
    assert event.component == "trace.http.request.duration.by.service.95p"
    assert [link.href for link in event.links] == [
        "https://app.datadoghq.com/event/event?id=7845201937645203385"
    ]
    assert event.links[0].text == "Datadog event"
    assert event.images[0].src.startswith("https://p.datadoghq.com/snapshot/")
    assert event.custom_details == sample()
    assert event.client == "Datadog"


async def test_sample_recovered_resolves_the_same_key() -> None:
    event = await one(sample("datadog_webhook_recovered.json"))
    assert event.event_action == "resolve"
    assert event.dedup_key == CYCLE
    assert event.severity == "info"
    assert event.summary == (
        "[P2] [Recovered on {env:prod,service:checkout-api}] Checkout API p95 latency is high"
    )
    assert event.source == "env:prod,service:checkout-api"
    assert event.timestamp == "2026-11-03T10:26:07.000Z"


@pytest.mark.parametrize(
    ("transition", "action", "severity"),
    [
        ("Triggered", "trigger", "error"),
        ("Re-Triggered", "trigger", "error"),
        ("Renotify", "trigger", "error"),
        ("Escalated", "trigger", "error"),
        ("Warn", "trigger", "warning"),
        ("Re-Warn", "trigger", "warning"),
        ("No Data", "trigger", "warning"),
        ("Re-No Data", "trigger", "warning"),
        ("Recovered", "resolve", "info"),
        ("Something New", "trigger", "error"),
        ("", "trigger", "error"),
    ],
)
async def test_transitions(transition: str, action: str, severity: str) -> None:
    event = await one(body(alert_transition=transition))
    assert event.event_action == action
    assert event.severity == severity
    assert event.dedup_key == CYCLE


async def test_no_data_severity_is_configurable() -> None:
    settings = {"no_data_severity": "critical"}
    event = await one(body(alert_transition="No Data"), settings=settings)
    assert event.severity == "critical"
    assert event.event_action == "trigger"


@pytest.mark.parametrize(
    ("priority", "severity"),
    [("P1", "critical"), ("P2", "error"), ("P3", "warning"), ("P4", "info"), ("p5", "info")],
)
async def test_priority_maps_severity(priority: str, severity: str) -> None:
    event = await one(body(alert_priority=priority))
    assert event.severity == severity


@pytest.mark.parametrize(
    ("alert_type", "severity"),
    [
        ("error", "error"),
        ("warning", "warning"),
        ("info", "info"),
        ("success", "info"),
        ("weird", "error"),
        ("", "error"),
    ],
)
async def test_alert_type_maps_severity_without_priority(alert_type: str, severity: str) -> None:
    event = await one(body(alert_priority="", alert_type=alert_type))
    assert event.severity == severity


async def test_no_priority_and_no_type_defaults_to_error() -> None:
    event = await one(body(alert_priority=None, alert_type=None))
    assert event.severity == "error"


@pytest.mark.parametrize(
    ("changes", "dedup_key"),
    [
        ({}, "datadog:7845201937645203385"),
        ({"alert_cycle_key": ""}, "datadog:b8e0c3a91f5d47e2a6c04d19e7f3a215"),
        (
            {"alert_cycle_key": None, "aggreg_key": None},
            "datadog:73419528:env:prod,service:checkout-api",
        ),
        (
            {"alert_cycle_key": None, "aggreg_key": None, "alert_scope": ""},
            "datadog:73419528:",
        ),
        (
            {"alert_cycle_key": None, "aggreg_key": None, "alert_id": None},
            "datadog:7845201937645203385",
        ),
        ({"alert_cycle_key": 123456789}, "datadog:123456789"),
    ],
)
async def test_dedup_key_fallbacks(changes: dict[str, Any], dedup_key: str) -> None:
    event = await one(body(**changes))
    assert event.dedup_key == dedup_key


async def test_payload_without_any_key_is_refused() -> None:
    errors = await rejected(body(alert_cycle_key=None, aggreg_key=None, alert_id=None, id=None))
    assert errors == [
        "'alert_cycle_key' is missing or blank (and so are aggreg_key, alert_id and id)"
    ]


async def test_long_cycle_key_is_hashed() -> None:
    event = await one(body(alert_cycle_key="k" * 300))
    assert event.dedup_key is not None
    assert len(event.dedup_key) == 64


@pytest.mark.parametrize(
    ("changes", "source"),
    [
        ({"hostname": "web-01"}, "web-01"),
        ({"hostname": ""}, "env:prod,service:checkout-api"),
        ({"hostname": None, "alert_scope": ""}, "datadog"),
        ({"hostname": "  ", "alert_scope": None}, "datadog"),
    ],
)
async def test_source_fallbacks(changes: dict[str, Any], source: str) -> None:
    event = await one(body(**changes))
    assert event.source == source


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        (
            {"title": None},
            "[Triggered on {env:prod,service:checkout-api}] Checkout API p95 latency is high",
        ),
        ({"title": "", "alert_title": ""}, f"Datadog alert {CYCLE}"),
        ({"title": "x" * 5000}, "x" * 1023 + "…"),
    ],
)
async def test_summary_fallbacks_and_truncation(changes: dict[str, Any], summary: str) -> None:
    event = await one(body(**changes))
    assert event.summary == summary


@pytest.mark.parametrize(
    ("date", "timestamp"),
    [
        ("1793699351000", "2026-11-03T09:49:11.000Z"),
        (1793699351123, "2026-11-03T09:49:11.123Z"),
        ("", None),
        ("$DATE", None),
        ("1e400", None),
        ("-5", None),
        ("99999999999999999999999", None),
    ],
)
async def test_timestamp_from_epoch_milliseconds(date: Any, timestamp: str | None) -> None:
    event = await one(body(date=date))
    assert event.timestamp == timestamp


async def test_unquoted_template_numbers_are_accepted() -> None:
    event = await one(body(alert_cycle_key=None, aggreg_key=None, alert_id=73419528))
    assert event.dedup_key == "datadog:73419528:env:prod,service:checkout-api"


async def test_a_plain_http_snapshot_is_kept() -> None:
    # Self-hosted tools link plain-http images; the UI decides how to show them.
    event = await one(body(snapshot="http://example.com/x.png", link=""))
    assert [(i.src, i.href) for i in event.images] == [("http://example.com/x.png", None)]
    assert event.links == []
    assert event.client_url is None


async def test_text_fields_keep_their_spaces() -> None:
    """A title's trailing space, a host's padding: kept exactly as the template sent them."""
    event = await one(
        body(title="CPU high on web-01 ", hostname=" web-01\t", alert_metric="system.cpu ")
    )
    assert event.summary == "CPU high on web-01 "
    assert event.source == " web-01\t"
    assert event.component == "system.cpu "
    assert event.custom_details["title"] == "CPU high on web-01 "


async def test_a_blank_field_counts_as_absent() -> None:
    event = await one(body(title="   ", alert_title="Latency high", hostname=" "))
    assert event.summary == "Latency high"
    assert event.source == "env:prod,service:checkout-api"  # alert_scope, the next in line


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"title": {"text": "x"}}, "'title' is invalid (must be a string)"),
        ({"alert_transition": ["Triggered"]}, "'alert_transition' is invalid (must be a string)"),
        ({"alert_cycle_key": {"a": 1}}, "'alert_cycle_key' is invalid (must be a string)"),
        ({"date": [1]}, "'date' is invalid (must be a string)"),
    ],
)
async def test_wrong_types_are_refused(changes: dict[str, Any], error: str) -> None:
    assert error in await rejected(body(**changes))


async def test_huge_payload_drops_custom_details() -> None:
    event = await one(body(body="b" * 600_000))
    assert event.custom_details == cef.SIZE_ERROR_DETAILS
    assert event.dedup_key == CYCLE


async def test_hostile_unicode_is_kept_exactly() -> None:
    title = "\u202eCPU\u200b high \u0000 😀 e\u0301"
    event = await one(body(title=title, alert_cycle_key="ключ\u200d"))
    assert event.summary == title.strip()
    assert event.dedup_key == "datadog:ключ\u200d"


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[]", b"null", b"\xff", b'{"id": "\\udc00"}', b"[" * 3000]
)
async def test_malformed_bodies_are_unrecognized(raw: bytes) -> None:
    with pytest.raises(UnrecognizedEvent):
        await datadog.VENDOR.parse(request(raw))


async def test_request_without_key_is_refused() -> None:
    assert await rejected(sample(), key=None) == [
        "Datadog webhooks must be sent to /integration/{integration_key}/enqueue"
    ]


async def test_invalid_setting_is_reported() -> None:
    settings = {"no_data_severity": "loud"}
    error = (
        "integration setting 'no_data_severity' is invalid (must be one of 'warning', "
        "'critical', 'error', 'info')"
    )
    assert await rejected(sample(), settings=settings) == [error]
    assert datadog.check_settings(settings) == [error]
    assert datadog.check_settings({"no_data_severity": "info"}) == []
    assert datadog.check_settings({"nodata": "info"})[0].startswith(
        "integration setting 'nodata' is unknown"
    )


def test_vendor_registration() -> None:
    [vendor] = datadog.register_vendors()
    assert vendor.id == "PGWDDOG"
    assert vendor.integration_type == "event_transformer_api_inbound_integration"
    assert vendor.aliases == ("datadog",)
    assert vendor.paths == ()
    assert vendor.check_settings is datadog.check_settings
    assert load_plugins().vendor("datadog") is datadog.VENDOR
