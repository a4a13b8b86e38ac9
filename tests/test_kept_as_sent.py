"""Refuse only what is unusable, keep the rest exactly: images, links, text and the metrics.

A 4xx to a monitoring tool loses that alert for good. These tests send events over
real HTTP to an in-process gateway and read what the store kept, what the incident
page shows, and how ``/metrics`` counts what was refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.http.ui.contexts import web_scheme
from gateway.testing import TestGateway, gateway_running
from tests.incident_helpers import make_tokens
from tests.scaffold import config, events_v1, key, service, v2, v2_service, vendor_integration

KEY = key("kept-v2")
V1_KEY = key("kept-v1")
DD_KEY = key("kept-dd")
CONFIG = config(
    v2_service("Grafana", KEY),
    service("Legacy", events_v1(V1_KEY)),
    service("Datadog", vendor_integration("dd", "datadog", DD_KEY)),
)

HTTP_IMAGE = {"src": "http://grafana.local:3000/render/d-solo/abc?panelId=2", "alt": "CPU panel"}
HTTPS_IMAGE = {"src": "https://grafana.example.com/render/x.png", "href": "https://g.example/d/x"}
HOSTILE_IMAGE = {"src": "data:image/svg+xml,<svg onload=alert(1)>", "href": "javascript:alert(2)"}
LINKS = [
    {"href": "http://grafana.local:3000/d/abc", "text": "Dashboard"},
    {"href": "javascript:alert(3)", "text": "Runbook"},
    {"href": " JavaScript:alert(4)"},
    {"href": "data:text/html,<script>alert(5)</script>", "text": "Data"},
]


async def _alert_body(gw: TestGateway) -> dict[str, Any]:
    (incident,) = await gw.incidents()
    (alert,) = await gw.alerts(incident.id)
    return alert.body


# -- item 1: any image or link URL is accepted and kept --------------------------------------


async def test_http_images_and_any_link_are_accepted_and_kept(tmp_path: Path) -> None:
    body = v2(KEY, dedup_key="grafana-cpu")
    body["images"] = [HTTP_IMAGE, HTTPS_IMAGE, HOSTILE_IMAGE]
    body["links"] = LINKS
    async with gateway_running(tmp_path, CONFIG) as gw:
        answer = await gw.client.post("/v2/enqueue", json=body)
        assert answer.status_code == 202, answer.text
        stored = await _alert_body(gw)
    assert stored["images"] == [HTTP_IMAGE, HTTPS_IMAGE, HOSTILE_IMAGE]
    assert stored["links"] == LINKS


async def test_v1_image_contexts_on_http_are_accepted(tmp_path: Path) -> None:
    body = {
        "service_key": V1_KEY,
        "event_type": "trigger",
        "description": "CPU high",
        "contexts": [{"type": "image", "src": "http://nagios.local/graph.png"}],
    }
    async with gateway_running(tmp_path, CONFIG) as gw:
        answer = await gw.client.post("/generic/2010-04-15/create_event.json", json=body)
        assert answer.status_code == 200, answer.text
        stored = await _alert_body(gw)
    assert stored["images"] == [{"src": "http://nagios.local/graph.png"}]


async def test_structural_errors_in_images_are_still_refused(tmp_path: Path) -> None:
    body = v2(KEY)
    body["images"] = [{"alt": "no src"}]
    async with gateway_running(tmp_path, CONFIG) as gw:
        answer = await gw.client.post("/v2/enqueue", json=body)
        assert answer.status_code == 400
        assert answer.json()["errors"] == ["'images[0].src' is missing or blank"]
        assert await gw.incidents() == []


# -- item 1: the incident page shows only what is safe ---------------------------------------


async def _incident_page(gw: TestGateway) -> httpx.Response:
    tokens = await make_tokens(gw)
    login = await gw.client.get("/ui/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert csrf is not None
    data = {"token": tokens["observer"], "csrf_token": csrf.group(1)}
    assert (await gw.client.post("/ui/login", data=data)).status_code == 303
    (incident,) = await gw.incidents()
    page = await gw.client.get(f"/ui/incidents/{incident.id}")
    assert page.status_code == 200
    return page


async def test_the_incident_page_shows_https_images_inline_and_nothing_unsafe(
    tmp_path: Path,
) -> None:
    body = v2(KEY, dedup_key="page")
    body["images"] = [HTTP_IMAGE, HTTPS_IMAGE, HOSTILE_IMAGE]
    body["links"] = LINKS
    async with gateway_running(tmp_path, CONFIG) as gw:
        assert (await gw.client.post("/v2/enqueue", json=body)).status_code == 202
        page = await _incident_page(gw)
    html = page.text
    # Only the https image is an <img>, inside a link to its https href.
    assert re.findall(r"<img [^>]*>", html) == [
        '<img src="https://grafana.example.com/render/x.png" alt="Image" loading="lazy" '
        'referrerpolicy="no-referrer">'
    ]
    assert 'href="https://g.example/d/x"' in html
    # The http image and the http link are plain links.
    assert 'href="http://grafana.local:3000/render/d-solo/abc?panelId=2"' in html
    assert "Image: CPU panel" in html
    assert '<a href="http://grafana.local:3000/d/abc"' in html
    # javascript: and data: are never a link target or an image source, only text.
    hrefs = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert not [u for u in hrefs if u.strip().lower().startswith(("javascript:", "data:"))]
    assert "javascript:alert(3)" in html  # shown, as text
    assert "Runbook (not a web address)" in html
    # Images from https hosts may load; nothing else from elsewhere.
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data: https:;" in policy


# -- item 2: text is kept byte-for-byte -------------------------------------------------------


async def test_a_datadog_title_keeps_its_trailing_space(tmp_path: Path) -> None:
    webhook = {
        "title": "Disk almost full on web-01 ",
        "alert_cycle_key": "cycle-1",
        "alert_transition": "Triggered",
        "hostname": "web-01 ",
    }
    async with gateway_running(tmp_path, CONFIG) as gw:
        answer = await gw.client.post(f"/integration/{DD_KEY}/enqueue", json=webhook)
        assert answer.status_code == 202, answer.text
        (incident,) = await gw.incidents()
        (alert,) = await gw.alerts(incident.id)
    assert incident.title == alert.summary == "Disk almost full on web-01 "
    assert alert.body["source"] == "web-01 "
    assert alert.body["custom_details"]["title"] == "Disk almost full on web-01 "


# -- item 10: a refusal is counted under the action its body named ----------------------------


def _counts(text: str) -> dict[tuple[str, str, str], float]:
    found = {}
    pattern = re.compile(
        r'^alert_gateway_events_total\{action="([^"]*)",outcome="([^"]*)",vendor="([^"]*)"\} (\S+)$'
    )
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            found[match.group(1, 2, 3)] = float(match.group(4))
    return found


async def test_refusals_are_counted_under_the_action_the_body_named(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        bad_severity = v2(KEY, severity="disaster")  # refused by PD-CEF validation
        bad_type = v2(KEY, summary=42)  # refused by the parser's type check
        bad_resolve = v2(KEY, "resolve")  # no dedup_key
        bad_change = {"routing_key": KEY, "payload": {"source": "deploy"}}  # no summary
        bogus = v2(KEY, "explode-the-labels")  # not an action: "unknown"
        for path, event in [
            ("/v2/enqueue", bad_severity),
            ("/v2/enqueue", bad_type),
            ("/v2/enqueue", bad_resolve),
            ("/v2/change/enqueue", bad_change),
            ("/v2/enqueue", bogus),
            ("/v2/enqueue", {"routing_key": KEY, "event_action": {"a": 1}}),
        ]:
            assert (await gw.client.post(path, json=event)).status_code == 400
        v1 = {"service_key": V1_KEY, "event_type": "trigger"}  # no description
        v1_path = "/generic/2010-04-15/create_event.json"
        assert (await gw.client.post(v1_path, json=v1)).status_code == 400
        counts = _counts((await gw.client.get("/metrics")).text)
    assert counts[("trigger", "invalid", "events_api_v2")] == 2
    assert counts[("resolve", "invalid", "events_api_v2")] == 1
    assert counts[("change", "invalid", "events_api_v2")] == 1
    assert counts[("unknown", "invalid", "events_api_v2")] == 2
    assert counts[("trigger", "invalid", "events_api_v1")] == 1
    assert not [k for k in counts if k[0] not in ("trigger", "resolve", "change", "unknown")]


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("https://g.example/x.png", "https"),
        ("HTTPS://G.EXAMPLE/X.PNG", "https"),
        ("http://g.local/x.png", "http"),
        (" https://g.example/x.png", None),  # judged as the browser would not: text
        ("java\tscript:alert(1)", None),
        ("javascript://%0aalert(1)", None),
        ("data:image/png;base64,AAAA", None),
        ("//g.example/x.png", None),
        ("/relative/x.png", None),
        ("", None),
    ],
)
def test_only_urls_beginning_with_a_web_scheme_are_followable(url: str, scheme: str | None) -> None:
    assert web_scheme(url) == scheme
