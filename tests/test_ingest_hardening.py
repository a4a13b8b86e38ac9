"""The ingest pipeline under a hostile or clumsy sender: hang-ups, keys in URLs, routing.

Each test runs a real in-process gateway over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from structlog.testing import capture_logs

from gateway.errors import RetryLater
from gateway.pluginkit import Event, InboundRequest, Vendor, hookimpl
from tests.scaffold import (
    TestGateway,
    config,
    events_v2,
    gateway_running,
    key,
    service,
    v2,
    vendor_integration,
)

KEY_A = key("url-a")
KEY_B = key("body-b")

CONFIG = config(
    service("Alpha", events_v2(KEY_A, "a")),
    service("Bravo", events_v2(KEY_B, "b")),
    rate_limit=2,
)


def _trigger(routing_key: str, dedup_key: str) -> bytes:
    body = v2(
        routing_key, dedup_key=dedup_key, summary="disk full", source="db-1", severity="error"
    )
    return json.dumps(body).encode()


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[TestGateway]:
    async with gateway_running(tmp_path, CONFIG) as gateway:
        yield gateway


def _metric(text: str, outcome: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("alert_gateway_events_total{") and f'outcome="{outcome}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_a_client_hanging_up_mid_body_is_its_own_outcome(gw: TestGateway) -> None:
    host, port = gw.base_url.removeprefix("http://").rsplit(":", 1)
    with capture_logs() as logs:
        stream = await trio.open_tcp_stream(host, int(port))
        head = (
            "POST /v2/enqueue HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            "Content-Length: 500\r\n\r\n"
        )
        await stream.send_all(head.encode() + b'{"routing_key": "')
        await trio.sleep(0.1)  # the body is being read when the client goes
        await stream.aclose()
        with trio.fail_after(5):
            while not any(e["event"] == "event.client_disconnected" for e in logs):
                await trio.sleep(0.02)
    metrics = (await gw.client.get("/metrics")).text
    assert _metric(metrics, "client_disconnected") == 1
    assert _metric(metrics, "error") == 0
    [entry] = [e for e in logs if e["event"] == "event.client_disconnected"]
    assert entry["log_level"] == "info"
    assert "exc_info" not in entry
    assert not [e for e in logs if e["event"] == "event.internal_error"]


async def test_the_key_in_the_url_is_never_logged_whole(gw: TestGateway) -> None:
    with capture_logs() as logs:
        bad = await gw.client.post(f"/integration/{KEY_A}/enqueue", content=b"{not json")
        good = await gw.client.post(
            f"/integration/{KEY_A}/enqueue", content=_trigger(KEY_A, "logged")
        )
    assert bad.status_code == 400
    assert good.status_code == 202
    refused = [e for e in logs if e["event"] == "event.refused"]
    assert refused, logs
    assert refused[0]["path"] == f"/integration/…{KEY_A[-4:]}/enqueue"
    for entry in logs:
        assert KEY_A not in json.dumps(entry, default=str), entry


async def test_the_url_key_decides_routing_and_the_rate_limit(gw: TestGateway) -> None:
    # Posted to A's URL with B's key in the body: the URL decides, so it lands on A.
    answers = [
        await gw.client.post(f"/integration/{KEY_A}/enqueue", content=_trigger(KEY_B, f"d{n}"))
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [202, 202, 429]
    services = {s.name: s.id for s in await gw.store.read(lambda r: r.services())}
    incidents = await gw.incidents()
    assert {i.service_id for i in incidents} == {services["Alpha"]}
    # B was never counted: its own key still has its whole minute's allowance.
    for n in range(2):
        direct = await gw.client.post("/v2/enqueue", content=_trigger(KEY_B, f"b{n}"))
        assert direct.status_code == 202, direct.text


class _UpstreamDown:
    """A vendor whose upstream (think: SNS's certificate host) is unreachable."""

    @hookimpl
    def register_vendors(self) -> list[Vendor]:
        async def parse(request: InboundRequest) -> list[Event]:
            raise RetryLater("the SNS signing certificate could not be fetched")

        return [Vendor(id="PUPSTRM", name="Upstream down", integration_type="x", parse=parse)]


async def test_a_transient_upstream_fault_says_what_failed(tmp_path: Path) -> None:
    config_text = config(
        service("Alpha", events_v2(KEY_A, "a")),
        service("Upstream", vendor_integration("upstream", "PUPSTRM", key("upstream"))),
    )
    async with gateway_running(
        tmp_path, config_text, plugins=[("upstream", _UpstreamDown())]
    ) as gw:
        answer = await gw.client.post(f"/integration/{key('upstream')}/enqueue", content=b"{}")
        stored = await gw.client.post("/v2/enqueue", content=_trigger(KEY_A, "fine"))
    assert answer.status_code == 503
    # Not "could not commit the event to its store": that sends operators to the disk.
    assert answer.json()["errors"] == ["the SNS signing certificate could not be fetched"]
    assert stored.status_code == 202
