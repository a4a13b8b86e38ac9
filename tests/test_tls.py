"""HTTPS: the `pagerduty` package (which accepts only https base URLs) against the gateway."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pagerduty
import pytest

from tests.scaffold import Daemon, config, key, v2_service
from tests.tls import make_ca_and_server

pytestmark = pytest.mark.slow  # a real daemon process and a throw-away CA

KEY = key("tls")


def test_pagerduty_events_client_over_https(tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    ca, cert, private_key = make_ca_and_server(tmp_path)
    daemon = spawn(
        config(v2_service("Secure", KEY), server={"certfile": cert, "keyfile": private_key})
    )
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
