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

from gateway.testing import TestGateway, gateway_running
from tests.support import key

CHECKED = {
    # CloudWatch with its defaults: every SNS message's signature is verified.
    "cloudwatch signed": (key("cw-signed"), 'vendor = "cloudwatch"', ""),
    # Signatures off, but only these topics may send: a generic event has no topic.
    "cloudwatch topics": (
        key("cw-topics"),
        'vendor = "cloudwatch"',
        "  verify_signature = false\n"
        '  sns_topic_allowlist = ["arn:aws:sns:eu-west-1:123456789012:alarms"]',
    ),
    # Mail is taken only from nagios@: a forged v2 event names no sender at all.
    "email from filter": (
        key("mail-filtered"),
        'type = "email"\n  integration_email = "filtered@acme.example"',
        '  email_filter_mode = "or-rules-email"\n'
        "    [[services.integrations.email_filters]]\n"
        '    from_email_mode = "match"\n'
        "    from_email_regex = '^nagios@'",
    ),
}
OPEN = {
    "cloudwatch unsigned": (key("cw-open"), 'vendor = "cloudwatch"', "  verify_signature = false"),
    "email without filter": (
        key("mail-open"),
        'type = "email"\n  integration_email = "open@acme.example"',
        "",
    ),
    "datadog": (key("datadog"), 'vendor = "datadog"', ""),
    "nagios": (key("nagios"), 'vendor = "nagios"', ""),
    "alertmanager": (key("alertmanager"), 'vendor = "alertmanager"', ""),
    "events v2": (key("v2"), 'type = "events_api_v2"', ""),
    "events v1": (key("v1"), 'type = "events_api_v1"', ""),
}
UNKNOWN = key("never-an-integration")


def _config() -> str:
    lines = ["[[services]]", 'name = "Keys"']
    for name, (integration_key, kind, settings) in {**CHECKED, **OPEN}.items():
        lines += [
            "  [[services.integrations]]",
            f'  name = "{name}"',
            f"  {kind}",
            f'  integration_key = "{integration_key}"',
        ]
        if settings:
            lines.append(settings)
    return "\n".join(lines) + "\n"


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
    async with gateway_running(tmp_path, _config()) as gateway:
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
    integration_key = CHECKED[integration][0]
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
    integration_key = OPEN[integration][0]
    alerts, changes = await _stored(gw)
    answer = await _post(gw, path, integration_key)
    assert answer.status_code in (200, 202), answer.text
    if path == "v2 change":
        assert await _stored(gw) == (alerts, changes + 1)
    else:
        assert await _stored(gw) == (alerts + 1, changes)
