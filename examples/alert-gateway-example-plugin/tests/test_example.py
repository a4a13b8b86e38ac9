"""The plugin's own tests: a real gateway, with this plugin loaded through its entry point.

Install the package first (``pip install -e '.[test]'``): the gateway finds
the plugin exactly as it will in production.
"""

from __future__ import annotations

from pathlib import Path

import alert_gateway_example

from gateway.testing import gateway_running

KEY = "e8a3p1e0000000000000000000000001"
CONFIG = f"""
[[services]]
name = "Web"
  [[services.integrations]]
  name = "Example"
  vendor = "example"
  integration_key = "{KEY}"
"""


async def test_alerting_then_ok(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        url = gw.integration_url(KEY)
        alerting = {"id": "disk-web-01", "state": "alerting", "title": "Disk 95% full",
                    "host": "web-01", "level": "warning", "details": {"used": "95%"}}  # fmt: skip
        answer = await gw.client.post(url, json=alerting)
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
        (incident,) = await gw.incidents()
        assert incident.status == "resolved"

    changes = [
        (c.incident_id, c.previous_status, c.status)
        for c in alert_gateway_example.recent_changes
        if c.incident_id == incident.id
    ]
    assert changes == [(incident.id, None, "triggered"), (incident.id, "triggered", "resolved")]


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
