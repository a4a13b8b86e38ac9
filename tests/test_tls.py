"""HTTPS: the `pagerduty` package (which accepts only https base URLs) against the gateway."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pagerduty
import pytest

from tests.support import Daemon, key
from tests.tls import make_ca_and_server

KEY = key("tls")


def test_pagerduty_events_client_over_https(tmp_path: Path) -> None:
    ca, cert, private_key = make_ca_and_server(tmp_path)
    daemon = Daemon(
        tmp_path,
        f"""
[server]
certfile = "{cert}"
keyfile = "{private_key}"

[storage]
path = "gw.db"

[[services]]
name = "Secure"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{KEY}"
""",
    )
    try:
        daemon.start()
        assert daemon.base_url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(ca))
        client = pagerduty.EventsApiV2Client(KEY, base_url=daemon.base_url, verify=trust)
        dedup = client.trigger("Payment API down", "api-01", severity="critical")
        assert daemon.query("SELECT status, severity FROM alerts WHERE alert_key = ?", dedup) == [
            ("triggered", "critical")
        ]
        assert client.acknowledge(dedup) == dedup
        assert client.resolve(dedup) == dedup
        assert (
            daemon.scalar(
                "SELECT i.status FROM incidents i JOIN alerts a ON a.incident_id = i.id "
                "WHERE a.alert_key = ?",
                dedup,
            )
            == "resolved"
        )
        # A client that does not trust the throw-away CA is refused by TLS itself.
        with pytest.raises(httpx.ConnectError):
            httpx.post(daemon.base_url + "/v2/enqueue", json={}, verify=True)
        assert daemon.stop() == 0
    finally:
        daemon.kill()
