"""A security setting an operator turned on holds on every path.

An integration whose vendor checks the sender (CloudWatch: SNS signatures or a topic
allow-list; email: a sender filter) takes events only through its own vendor's path.
Posting its key to a generic path (Events API v2, v2 change events, v1, the Nagios
path) is answered exactly as an unknown key is, and stores nothing. Integrations
whose vendor checks nothing keep accepting Events API v1/v2 there, as PagerDuty's
vendor integrations do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.scaffold import (
    Integration,
    TestGateway,
    config,
    email_integration,
    events_v1,
    events_v2,
    gateway_running,
    key,
    service,
    vendor_integration,
)


def _by_name(*integrations: Integration) -> dict[str, Integration]:
    return {integration.name: integration for integration in integrations}


def _key(integration: Integration) -> str:
    assert integration.integration_key, integration  # every one here has its key in the file
    return integration.integration_key


CHECKED = _by_name(
    # CloudWatch with its defaults: every SNS message's signature is verified.
    vendor_integration("cloudwatch signed", "cloudwatch", key("cw-signed")),
    # Signatures off, but only these topics may send: a generic event has no topic.
    vendor_integration(
        "cloudwatch topics",
        "cloudwatch",
        key("cw-topics"),
        verify_signature=False,
        sns_topic_allowlist=["arn:aws:sns:eu-west-1:123456789012:alarms"],
    ),
    # Mail is taken only from nagios@: a forged v2 event names no sender at all.
    email_integration(
        "email from filter",
        "filtered@acme.example",
        integration_key=key("mail-filtered"),
        email_filter_mode="or-rules-email",
        email_filters=[{"from_email_mode": "match", "from_email_regex": "^nagios@"}],
    ),
)
OPEN = _by_name(
    vendor_integration("cloudwatch unsigned", "cloudwatch", key("cw-open"), verify_signature=False),
    email_integration(
        "email without filter", "open@acme.example", integration_key=key("mail-open")
    ),
    vendor_integration("datadog", "datadog", key("datadog")),
    vendor_integration("nagios", "nagios", key("nagios")),
    vendor_integration("alertmanager", "alertmanager", key("alertmanager")),
    events_v2(key("v2"), "events v2"),
    events_v1(key("v1"), "events v1"),
)
UNKNOWN = key("never-an-integration")
CONFIG = config(service("Keys", *CHECKED.values(), *OPEN.values()))


JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _v2(k: str) -> tuple[str, bytes, dict[str, str]]:
    event = {
        "routing_key": k,
        "event_action": "trigger",
        "dedup_key": "forged",
        "payload": {"summary": "forged", "source": "attacker", "severity": "critical"},
    }
    return "/v2/enqueue", json.dumps(event).encode(), JSON


def _change(k: str) -> tuple[str, bytes, dict[str, str]]:
    event = {"routing_key": k, "payload": {"summary": "forged deploy", "source": "attacker"}}
    return "/v2/change/enqueue", json.dumps(event).encode(), JSON


def _v1(k: str) -> tuple[str, bytes, dict[str, str]]:
    event = {
        "service_key": k,
        "event_type": "trigger",
        "incident_key": "forged",
        "description": "x",
    }
    return "/generic/2010-04-15/create_event.json", json.dumps(event).encode(), JSON


def _nagios(k: str) -> tuple[str, bytes, dict[str, str]]:
    form = {
        "pd_nagios_object": "host",
        "pd_version": "1.0",
        "CONTACTPAGER": k,
        "NOTIFICATIONTYPE": "PROBLEM",
        "HOSTNAME": "web-03",
        "HOSTSTATE": "DOWN",
        "HOSTOUTPUT": "forged",
    }
    return "/nagios/2010-04-15/create_event", urlencode(form).encode(), FORM


PATHS: dict[str, Callable[[str], tuple[str, bytes, dict[str, str]]]] = {
    "v2": _v2,
    "v2 change": _change,
    "v1": _v1,
    "nagios": _nagios,
}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[TestGateway]:
    async with gateway_running(tmp_path, CONFIG) as gateway:
        yield gateway


async def _post(gw: TestGateway, path: str, k: str) -> httpx.Response:
    url, body, headers = PATHS[path](k)
    return await gw.client.post(url, content=body, headers=headers)


async def _stored(gw: TestGateway) -> tuple[int, int]:
    return await gw.count("alerts"), await gw.count("change_events")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("integration", CHECKED)
async def test_a_sender_checking_integration_refuses_generic_paths(
    gw: TestGateway, integration: str, path: str
) -> None:
    integration_key = _key(CHECKED[integration])
    before = await _stored(gw)
    unknown = await _post(gw, path, UNKNOWN)
    answer = await _post(gw, path, integration_key)
    assert unknown.status_code == 400, unknown.text
    # Exactly the answer to a key that never existed: nothing tells the sender more.
    assert (answer.status_code, answer.text) == (
        unknown.status_code,
        unknown.text.replace(UNKNOWN, integration_key),
    )
    assert "Invalid routing key" in answer.text or "invalid" in answer.text.lower()
    assert await _stored(gw) == before


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("integration", OPEN)
async def test_an_integration_that_checks_nothing_accepts_generic_paths(
    gw: TestGateway, integration: str, path: str
) -> None:
    integration_key = _key(OPEN[integration])
    alerts, changes = await _stored(gw)
    answer = await _post(gw, path, integration_key)
    assert answer.status_code in (200, 202), answer.text
    if path == "v2 change":
        assert await _stored(gw) == (alerts, changes + 1)
    else:
        assert await _stored(gw) == (alerts + 1, changes)
