"""The plugin's own tests, with the helpers of ``gateway.testing``.

``parse`` alone: ``inbound_request`` builds the request the gateway would hand
the vendor and ``parse_events`` parses it exactly as the gateway does (parse,
then PagerDuty's validation). End to end: ``gateway_running`` starts a real
gateway with this plugin loaded through its entry point (install the package
first: ``pip install -e '.[test]'``), and ``ChangeRecorder`` records the
``incident_changed`` calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alert_gateway_example import VENDOR
from structlog.testing import capture_logs

from gateway.pluginkit import InvalidEvent, UnrecognizedEvent
from gateway.testing import ChangeRecorder, gateway_running, inbound_request, parse_events

KEY = "e8a3p1e0000000000000000000000001"
CONFIG = f"""
[[services]]
name = "Web"
  [[services.integrations]]
  name = "Example"
  vendor = "example"
  integration_key = "{KEY}"
"""
ALERTING = {"id": "disk-web-01", "state": "alerting", "title": "Disk 95% full",
            "host": "web-01", "level": "warning", "details": {"used": "95%"}}  # fmt: skip


async def test_parse_alerting_and_ok() -> None:
    (event,) = await parse_events(VENDOR, inbound_request(ALERTING, integration_key=KEY))
    assert (event.event_action, event.dedup_key, event.severity) == (
        "trigger",
        "example:disk-web-01",
        "warning",
    )
    assert (event.summary, event.source, event.routing_key) == ("Disk 95% full", "web-01", KEY)
    ok = {"id": "disk-web-01", "state": "ok"}
    (event,) = await parse_events(VENDOR, inbound_request(ok, integration_key=KEY))
    assert (event.event_action, event.dedup_key) == ("resolve", "example:disk-web-01")


async def test_parse_refuses_what_it_cannot_use() -> None:
    with pytest.raises(InvalidEvent) as info:
        melting = {"id": "disk-web-01", "state": "melting"}
        await parse_events(VENDOR, inbound_request(melting, integration_key=KEY))
    assert info.value.errors == ["'state' is invalid (must be 'alerting' or 'ok')"]
    with pytest.raises(UnrecognizedEvent):
        await parse_events(VENDOR, inbound_request(b"not json", integration_key=KEY))


async def test_alerting_then_ok(tmp_path: Path) -> None:
    changes = ChangeRecorder()
    async with gateway_running(tmp_path, CONFIG, plugins=[("changes", changes)]) as gw:
        url = gw.integration_url(KEY)
        with capture_logs() as logs:
            answer = await gw.client.post(url, json=ALERTING)
            assert answer.status_code == 202, answer.text
            assert answer.json()["dedup_key"] == "example:disk-web-01"

            (incident,) = await gw.incidents()
            assert (incident.status, incident.title) == ("triggered", "Disk 95% full")
            (alert,) = await gw.alerts(incident.id)
            assert (alert.severity, alert.body["source"]) == ("warning", "web-01")
            assert alert.body["custom_details"] == {
                "used": "95%",
                "parsed_by": "alert-gateway-example-plugin",  # enrich_event
            }

            answer = await gw.client.post(url, json={"id": "disk-web-01", "state": "ok"})
            assert answer.status_code == 202, answer.text
            changes_seen = await changes.wait_for(2)
        (incident,) = await gw.incidents()
        assert incident.status == "resolved"

    assert [(c.incident_id, c.previous_status, c.status) for c in changes_seen] == [
        (incident.id, None, "triggered"),
        (incident.id, "triggered", "resolved"),
    ]
    # This plugin's own incident_changed logged each change.
    logged = [e for e in logs if e["event"] == "example.incident_changed"]
    assert [(e["previous_status"], e["status"]) for e in logged] == [
        (None, "triggered"),
        ("triggered", "resolved"),
    ]


async def test_a_body_it_cannot_use_is_refused(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        url = gw.integration_url(KEY)
        answer = await gw.client.post(url, json={"id": "disk-web-01", "state": "melting"})
        assert answer.status_code == 400
        assert answer.json()["errors"] == ["'state' is invalid (must be 'alerting' or 'ok')"]
        answer = await gw.client.post(url, content=b"not json")
        assert answer.status_code == 400
        assert answer.json()["status"] == "Unrecognized object"
        assert await gw.count("alerts") == 0


def test_chat_webhook_text_and_address_check() -> None:
    from alert_gateway_example.chat import chat_text, check_webhook_url

    body = {
        "incident": {"number": 7, "title": "Disk full", "urgency": "high",
                     "html_url": "https://gw.example.com/ui/incidents/Q1"},
        "service": {"name": "Web"},
        "user": {"name": "Alice"},
    }  # fmt: skip
    assert chat_text(body) == (
        "Alice: incident #7 Disk full (high urgency, Web) needs you. "
        "Open and acknowledge it: https://gw.example.com/ui/incidents/Q1"
    )
    changed = {**body, "change": {"type": "acknowledged", "summary": "Acknowledged by Bob"}}
    assert chat_text(changed) == (
        "Alice: incident #7 Disk full (Web), assigned to you, was acknowledged: "
        "Acknowledged by Bob. https://gw.example.com/ui/incidents/Q1"
    )
    assert check_webhook_url("https://chat.example.com/hooks/abc") == []
    assert check_webhook_url("ftp://x") and check_webhook_url("not a url")
