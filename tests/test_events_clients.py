"""pdpyras's and the `pagerduty` package's standard Events API v2 trigger, unchanged.

Both clients' own ``trigger`` calls, with an ``http://`` image as Grafana and other
self-hosted tools send, against an in-process gateway on 127.0.0.1 (only the base URL
changed). They used to fail with 400 over the image's scheme. The clients are
synchronous, so each runs in a worker thread while the gateway serves on the loop.
"""

from __future__ import annotations

import ssl
import warnings
from pathlib import Path
from typing import Any

import pagerduty
import trio

from gateway.testing import TestGateway, gateway_running
from tests.scaffold import config, key, v2_service
from tests.tls import make_ca_and_server

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pdpyras announces its deprecation on import
    import pdpyras

KEY = key("clients")
IMAGE = {"src": "http://grafana.local:3000/render/d-solo/cpu?panelId=2", "alt": "CPU"}
LINK = {"href": "http://grafana.local:3000/d/cpu", "text": "Grafana dashboard"}
SUMMARY = "CPU above 90% on app-07 "  # a trailing space, kept as sent


async def _stored(gw: TestGateway, dedup_key: str) -> dict[str, Any]:
    (incident,) = await gw.incidents()
    (alert,) = await gw.alerts(incident.id)
    assert alert.alert_key == dedup_key
    assert alert.summary == incident.title == SUMMARY
    return alert.body


async def test_pdpyras_events_session_trigger_with_an_http_image(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, config(v2_service("Grafana", KEY))) as gw:

        def trigger() -> str:
            session = pdpyras.EventsAPISession(KEY)
            session.url = gw.base_url
            dedup: str = session.trigger(
                SUMMARY, "app-07", severity="warning", images=[IMAGE], links=[LINK]
            )
            return dedup

        dedup_key = await trio.to_thread.run_sync(trigger)
        body = await _stored(gw, dedup_key)
    assert body["images"] == [IMAGE]
    assert body["links"] == [LINK]
    assert body["source"] == "app-07" and body["severity"] == "warning"


async def test_pagerduty_events_client_trigger_with_an_http_image(tmp_path: Path) -> None:
    # The `pagerduty` package accepts only https:// base URLs: the gateway serves TLS.
    ca, cert, private_key = make_ca_and_server(tmp_path)
    tls = config(v2_service("Grafana", KEY), server={"certfile": cert, "keyfile": private_key})
    async with gateway_running(tmp_path, tls) as gw:
        assert gw.base_url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(ca))

        def trigger() -> str:
            client = pagerduty.EventsApiV2Client(KEY, base_url=gw.base_url, verify=trust)
            return client.trigger(
                SUMMARY, "app-07", severity="warning", images=[IMAGE], links=[LINK]
            )

        dedup_key = await trio.to_thread.run_sync(trigger)
        body = await _stored(gw, dedup_key)
    assert body["images"] == [IMAGE]
    assert body["links"] == [LINK]
