"""The plugin kit: gateway.pluginkit is the whole face, and gateway.testing's helpers for authors.

``inbound_request``/``mail_request`` must build what the core hands a vendor,
``parse_events`` must accept and refuse what a real gateway does, and
``ChangeRecorder`` must see every committed change.
"""

from __future__ import annotations

import ast
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trio
from alert_gateway_plugins import events_v2, nagios

from gateway import pluginkit
from gateway.pluginkit import (
    SMTP_METHOD,
    Event,
    InboundRequest,
    InvalidEvent,
    UnrecognizedEvent,
    Vendor,
)
from gateway.testing import (
    ChangeRecorder,
    gateway_running,
    inbound_request,
    mail_request,
    parse_events,
)
from tests.support import REPO, key, v2

KEY = key("kit")
CONFIG = f"""
[[services]]
name = "Kit"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{KEY}"
"""


# -- the face --------------------------------------------------------------------------------------


def test_pluginkit_exports_exactly_what_a_vendor_plugin_needs() -> None:
    assert sorted(pluginkit.__all__) == sorted(
        [
            *("hookimpl", "Event", "Image", "Link", "InboundRequest", "Outcome", "Response"),
            *("Vendor", "IncidentChange", "SMTP_METHOD", "EventAction", "Severity"),
            *("SEVERITIES", "MAX_SUMMARY_CHARS", "MAX_DEDUP_KEY_CHARS", "MAX_EVENT_BYTES"),
            *("ROUTING_KEY_LENGTH", "SIZE_ERROR_DETAILS"),
            *("fit_summary", "fit_dedup_key", "fit_size", "validate", "missing"),
            *("routing_key_errors", "parse_timestamp", "as_text"),
            *("InvalidEvent", "UnrecognizedEvent", "RetryLater", "PayloadTooLarge"),
            *("RateLimited", "redact"),
            # A delivery kind's half (docs/plugins.md, register_delivery_kinds).
            *("DeliveryKind", "OutboundMessage", "RetryPolicy", "SendEnv", "classify_status"),
            *("Delivered", "Retry", "Drop", "enqueue", "register_producer"),
            # A contact method type (register_contact_method_types).
            "ContactMethodType",
            # The delivery kind that notifies contact methods of that type.
            "register_contact_delivery",
        ]
    )
    for name in pluginkit.__all__:
        assert getattr(pluginkit, name) is not None, name


def _gateway_imports(path: Path) -> set[str]:
    """The ``gateway`` modules a file imports (``from gateway import x`` counts as gateway.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "gateway":
                found |= {f"gateway.{alias.name}" for alias in node.names}
            elif node.module.startswith("gateway."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "gateway"}
    return found


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "plugins").rglob("*.py")) + sorted((REPO / "examples").rglob("src/**/*.py")),
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_plugins_import_only_the_plugin_face(path: Path) -> None:
    assert _gateway_imports(path) <= {"gateway.pluginkit"}


def test_the_examples_tests_import_only_the_face_and_the_testing_helpers() -> None:
    for path in (REPO / "examples").rglob("tests/*.py"):
        assert _gateway_imports(path) <= {"gateway.pluginkit", "gateway.testing"}, path


# -- inbound_request and mail_request --------------------------------------------------------------


def test_inbound_request_encodes_the_body_by_its_type() -> None:
    as_json = inbound_request({"a": 1}, integration_key=KEY)
    assert as_json == InboundRequest(
        method="POST",
        path=f"/integration/{KEY}/enqueue",
        headers={"content-type": "application/json"},
        body=b'{"a": 1}',
        integration_key=KEY,
    )
    assert inbound_request("état").body == "état".encode()
    assert inbound_request("x").content_type == "text/plain"
    assert inbound_request(b"\xff").content_type == "application/octet-stream"
    assert inbound_request(["a"]).body == b'["a"]'
    assert inbound_request().path == "/"


def test_inbound_request_form_headers_query_settings_and_path() -> None:
    request = inbound_request(
        form={"pd_nagios_object": "host", "HOSTNAME": "web 1"},
        path=nagios.PATH,
        headers={"User-Agent": "curl/8", "Content-Type": "text/plain"},
        query={"x": "1"},
        settings={"verify": True},
        method="PUT",
    )
    assert request.body == b"pd_nagios_object=host&HOSTNAME=web+1"
    assert request.headers == {"user-agent": "curl/8", "content-type": "text/plain"}
    assert (request.path, request.method, request.integration_key) == (nagios.PATH, "PUT", None)
    assert (dict(request.query), dict(request.settings)) == ({"x": "1"}, {"verify": True})
    assert inbound_request(b"", content_type="text/csv").content_type == "text/csv"


def test_mail_request_is_what_the_smtp_listener_hands_a_vendor() -> None:
    message = EmailMessage()
    message["Subject"] = "Disk full"
    message.set_content("body")
    request = mail_request(message, integration_key=KEY, settings={"rule": 1}, rcpt_to="a@b.c")
    assert (request.method, request.path, request.integration_key) == (SMTP_METHOD, "smtp", KEY)
    assert request.headers == {
        "content-type": "message/rfc822",
        "x-smtp-mail-from": "monitor@example.com",
        "x-smtp-rcpt-to": "a@b.c",
        "x-smtp-peer": "127.0.0.1",
    }
    assert request.body == message.as_bytes()
    assert dict(request.settings) == {"rule": 1}
    assert mail_request("Subject: x\r\n\r\nbody", integration_key=KEY).body.startswith(b"Subject")


# -- parse_events ----------------------------------------------------------------------------------


async def test_parse_events_returns_valid_events_routed_by_the_urls_key() -> None:
    other = key("kit-other")
    (event,) = await parse_events(
        events_v2.VENDOR, inbound_request(v2(other, dedup_key="d"), integration_key=KEY)
    )
    assert (event.routing_key, event.dedup_key, event.event_action) == (KEY, "d", "trigger")


async def test_parse_events_raises_what_the_core_answers() -> None:
    with pytest.raises(UnrecognizedEvent):
        await parse_events(events_v2.VENDOR, inbound_request(b"not json", path="/v2/enqueue"))
    with pytest.raises(InvalidEvent) as info:
        await parse_events(events_v2.VENDOR, inbound_request({"routing_key": KEY}))
    assert info.value.errors


def _vendor(result: Any) -> Vendor:
    async def parse(request: InboundRequest) -> Any:
        return result

    return Vendor(id="PKITTST", name="Kit", integration_type="kit", parse=parse)


async def test_parse_events_validates_like_the_core() -> None:
    # A parser that returns an event breaking PD-CEF is refused, with PagerDuty's strings.
    no_summary = Event(routing_key=KEY, event_action="trigger", source="h", severity="info")
    with pytest.raises(InvalidEvent) as info:
        await parse_events(_vendor([no_summary]), inbound_request(integration_key=KEY))
    assert info.value.errors == ["'payload.summary' is missing or blank"]
    with pytest.raises(TypeError, match="parse must return list"):
        await parse_events(_vendor({"not": "a list"}), inbound_request(integration_key=KEY))
    assert await parse_events(_vendor([]), inbound_request(integration_key=KEY)) == []


async def test_parse_events_agrees_with_a_running_gateway(tmp_path: Path) -> None:
    bodies: list[Any] = [v2(KEY, dedup_key="ok"), v2(KEY, summary=""), {"routing_key": KEY}]
    async with gateway_running(tmp_path, CONFIG) as gw:
        for body in bodies:
            answer = await gw.client.post("/v2/enqueue", json=body)
            try:
                await parse_events(events_v2.VENDOR, inbound_request(body, path="/v2/enqueue"))
            except InvalidEvent as exc:
                assert (answer.status_code, answer.json()["errors"]) == (400, exc.errors)
            else:
                assert answer.status_code == 202, answer.text


# -- ChangeRecorder --------------------------------------------------------------------------------


async def test_change_recorder_sees_each_committed_change(tmp_path: Path) -> None:
    changes = ChangeRecorder()
    async with gateway_running(tmp_path, CONFIG, plugins=[("changes", changes)]) as gw:
        for action in ("trigger", "acknowledge", "resolve"):
            answer = await gw.client.post("/v2/enqueue", json=v2(KEY, action, dedup_key="k"))
            assert answer.status_code == 202, answer.text
        seen = await changes.wait_for(3)
        (incident,) = await gw.incidents()
    assert [(c.incident_id, c.previous_status, c.status) for c in seen] == [
        (incident.id, None, "triggered"),
        (incident.id, "triggered", "acknowledged"),
        (incident.id, "acknowledged", "resolved"),
    ]


async def test_change_recorder_wait_for_times_out() -> None:
    with pytest.raises(trio.TooSlowError):
        await ChangeRecorder().wait_for(1, timeout=0.05)
