"""Nagios vendor: pagerduty_nagios.pl form posts, keyed like PagerDuty's pd-nagios."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from alert_gateway_plugins import nagios

from gateway import cef
from gateway.errors import InvalidEvent, UnrecognizedEvent
from gateway.model import Event, InboundRequest, Outcome
from gateway.plugins import load_plugins
from gateway.testing import inbound_request
from tests.support import SAMPLES

SAMPLE_KEY = "3f8c1a9e52d04b7fa6e2c71d0b94e5aa"
URL_KEY = "9a9100000000000000000000000000b2"
SERVICE_KEY = "event_source=service;host_name=web-03;service_desc=HTTPS"


def sample_form(name: str = "nagios_service_problem.form") -> dict[str, str]:
    """A sample form, decoded."""
    return dict(parse_qsl((SAMPLES / name).read_text().strip(), keep_blank_values=True))


def host_form(**changes: str | None) -> dict[str, str]:
    """A host notification, as pagerduty_nagios.pl sends it for a host contact."""
    form = {
        "NOTIFICATIONTYPE": "PROBLEM",
        "HOSTNAME": "db-07",
        "HOSTSTATE": "DOWN",
        "HOSTOUTPUT": "CRITICAL - Host Unreachable (10.20.3.7)",
        "HOSTGROUPNAME": "prod-db",
        "TIMET": "1793699162",
        "CONTACTPAGER": SAMPLE_KEY,
        "pd_nagios_object": "host",
        "pd_version": "1.0",
    }
    return change(form, changes)


def change(form: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """A copy of ``form`` with fields changed; ``None`` removes a field."""
    form = dict(form)
    for name, value in changes.items():
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value
    return form


def request(form: dict[str, str] | bytes, *, key: str | None = None) -> InboundRequest:
    """A POST to PagerDuty's Nagios path (or to a key URL when ``key`` is given)."""
    return inbound_request(
        form if isinstance(form, bytes) else b"",
        form=None if isinstance(form, bytes) else form,
        path=None if key else nagios.PATH,
        integration_key=key,
        content_type="application/x-www-form-urlencoded",
    )


async def parse(form: dict[str, str] | bytes, **kwargs: Any) -> list[Event]:
    """Parse through the vendor, checking every event against PD-CEF."""
    events = await nagios.VENDOR.parse(request(form, **kwargs))
    for event in events:
        assert cef.validate(event) == []
    return events


async def one(form: dict[str, str] | bytes, **kwargs: Any) -> Event:
    """Parse a form that must give exactly one event."""
    events = await parse(form, **kwargs)
    assert len(events) == 1
    return events[0]


async def rejected(form: dict[str, str] | bytes, **kwargs: Any) -> list[str]:
    """Parse a form that must be rejected as invalid; its error strings."""
    with pytest.raises(InvalidEvent) as info:
        await nagios.VENDOR.parse(request(form, **kwargs))
    return info.value.errors


async def test_host_and_service_names_keep_their_spaces() -> None:
    event = await one(host_form(HOSTNAME="db-07 ", HOSTSTATE="DOWN "))
    assert event.source == "db-07 "
    assert event.summary == "HOSTNAME=db-07 ; HOSTSTATE=DOWN "
    assert event.severity == "critical"  # the state is still recognised
    assert event.custom_details["HOSTNAME"] == "db-07 "


async def test_notes_urls_are_kept_whatever_their_scheme() -> None:
    """The UI decides what is followable; the event keeps what Nagios sent."""
    event = await one(host_form(HOSTNOTESURL="/nagios/notes/db-07.html"))
    assert [(link.href, link.text) for link in event.links] == [
        ("/nagios/notes/db-07.html", "Notes")
    ]
    assert (await one(host_form(HOSTNOTESURL=" "))).links == []


async def test_sample_service_problem() -> None:
    event = await one((SAMPLES / "nagios_service_problem.form").read_bytes())
    assert event.routing_key == SAMPLE_KEY
    assert event.event_action == "trigger"
    assert event.dedup_key == SERVICE_KEY
    assert event.severity == "critical"
    assert event.summary == "SERVICEDESC=HTTPS; SERVICESTATE=CRITICAL; HOSTNAME=web-03"
    assert event.source == "web-03"
    assert event.component == "HTTPS"
    assert event.group == "prod-web"
    assert event.class_ == "nagios_service"
    assert event.timestamp == "2026-11-03T09:46:02.000Z"
    assert event.client == "Nagios"
    assert [link.href for link in event.links] == ["https://wiki.acme.example/runbooks/web-https"]
    details = event.custom_details
    assert "CONTACTPAGER" not in details
    assert SAMPLE_KEY not in details.values()
    assert details["SERVICEOUTPUT"].startswith("HTTP CRITICAL - Invalid HTTP response")
    assert details["pd_nagios_object"] == "service"
    assert details["HOSTALIAS"] == "Web Server 03 (prod)"
    assert len(details) == len(sample_form()) - 1


async def test_sample_service_recovery_resolves_the_same_key() -> None:
    event = await one((SAMPLES / "nagios_service_recovery.form").read_bytes())
    assert event.routing_key == SAMPLE_KEY
    assert event.event_action == "resolve"
    assert event.dedup_key == SERVICE_KEY
    assert event.severity == "info"
    assert event.summary == "SERVICEDESC=HTTPS; SERVICESTATE=OK; HOSTNAME=web-03"
    assert event.source == "web-03"
    assert "CONTACTPAGER" not in event.custom_details


async def test_acknowledgement_acknowledges() -> None:
    form = change(
        sample_form(),
        {"NOTIFICATIONTYPE": "ACKNOWLEDGEMENT", "NOTIFICATIONAUTHOR": "alice"},
    )
    event = await one(form)
    assert event.event_action == "acknowledge"
    assert event.dedup_key == SERVICE_KEY
    assert event.severity == "info"
    assert event.summary == "SERVICEDESC=HTTPS; SERVICESTATE=CRITICAL; HOSTNAME=web-03"
    assert event.source == "web-03"


@pytest.mark.parametrize(
    ("state", "severity"),
    [("CRITICAL", "critical"), ("WARNING", "warning"), ("UNKNOWN", "error"), ("ODD", "critical")],
)
async def test_service_state_severity(state: str, severity: str) -> None:
    event = await one(change(sample_form(), {"SERVICESTATE": state}))
    assert event.severity == severity
    assert event.summary == f"SERVICEDESC=HTTPS; SERVICESTATE={state}; HOSTNAME=web-03"


async def test_host_problem() -> None:
    event = await one(host_form())
    assert event.event_action == "trigger"
    assert event.dedup_key == "event_source=host;host_name=db-07"
    assert event.severity == "critical"
    assert event.summary == "HOSTNAME=db-07; HOSTSTATE=DOWN"
    assert event.source == "db-07"
    assert event.component is None
    assert event.class_ == "nagios_host"
    assert event.group == "prod-db"


@pytest.mark.parametrize(
    ("state", "severity"), [("DOWN", "critical"), ("UNREACHABLE", "error"), ("UP", "critical")]
)
async def test_host_state_severity(state: str, severity: str) -> None:
    event = await one(host_form(HOSTSTATE=state))
    assert event.severity == severity


async def test_host_recovery_resolves() -> None:
    event = await one(host_form(NOTIFICATIONTYPE="RECOVERY", HOSTSTATE="UP"))
    assert event.event_action == "resolve"
    assert event.dedup_key == "event_source=host;host_name=db-07"
    assert event.summary == "HOSTNAME=db-07; HOSTSTATE=UP"


async def test_object_kind_is_inferred_when_missing() -> None:
    service = await one(change(sample_form(), {"pd_nagios_object": None}))
    assert service.dedup_key == SERVICE_KEY
    host = await one(host_form(pd_nagios_object=None))
    assert host.dedup_key == "event_source=host;host_name=db-07"


@pytest.mark.parametrize(
    "kind",
    [
        "FLAPPINGSTART",
        "FLAPPINGSTOP",
        "FLAPPINGDISABLED",
        "DOWNTIMESTART",
        "DOWNTIMEEND",
        "DOWNTIMECANCELLED",
        "CUSTOM",
        "SOMETHINGNEW",
    ],
)
async def test_other_notification_types_produce_nothing(kind: str) -> None:
    assert await parse(change(sample_form(), {"NOTIFICATIONTYPE": kind})) == []


def test_success_is_answered_200() -> None:
    response = nagios.render_success([Outcome("trigger", SERVICE_KEY, "created")])
    assert response.status == 200
    assert response.body["incident_key"] == SERVICE_KEY
    assert nagios.render_success([]).status == 200


async def test_key_in_the_url_wins_over_contactpager() -> None:
    event = await one(sample_form(), key=URL_KEY)
    assert event.routing_key == URL_KEY
    event = await one(change(sample_form(), {"CONTACTPAGER": None}), key=URL_KEY)
    assert event.routing_key == URL_KEY


async def test_other_macros_repeating_the_key_are_dropped() -> None:
    form = change(sample_form(), {"_CONTACTPD_KEY": SAMPLE_KEY, "CONTACTADDRESS1": SAMPLE_KEY})
    event = await one(form)
    assert SAMPLE_KEY not in event.custom_details.values()
    assert "_CONTACTPD_KEY" not in event.custom_details


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"CONTACTPAGER": None}, ["'CONTACTPAGER' is missing or blank"]),
        ({"CONTACTPAGER": ""}, ["'CONTACTPAGER' is missing or blank"]),
        (
            {"CONTACTPAGER": "short"},
            ["Length of 'CONTACTPAGER' is incorrect (should be 32 characters)"],
        ),
        (
            {"CONTACTPAGER": "3f8c1a9e52d04b7fa6e2c71d0b94e5a!"},
            ["'CONTACTPAGER' cannot contain non-alphanumeric characters."],
        ),
        ({"NOTIFICATIONTYPE": None}, ["'NOTIFICATIONTYPE' is missing or blank"]),
        ({"HOSTNAME": None}, ["'HOSTNAME' is missing or blank"]),
        (
            {"SERVICEDESC": "", "SERVICESTATE": None},
            ["'SERVICEDESC' is missing or blank", "'SERVICESTATE' is missing or blank"],
        ),
        (
            {"pd_nagios_object": "switch"},
            ["'pd_nagios_object' is invalid (must be host or service)"],
        ),
    ],
)
async def test_invalid_forms_are_refused(changes: dict[str, str | None], errors: list[str]) -> None:
    assert await rejected(change(sample_form(), changes)) == errors


async def test_host_event_requires_host_state() -> None:
    assert await rejected(host_form(HOSTSTATE=None)) == ["'HOSTSTATE' is missing or blank"]


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b'{"NOTIFICATIONTYPE": "PROBLEM"}', b"[1]", b"just some text", b"\xff\xfe"],
)
async def test_bodies_that_are_not_forms_are_unrecognized(raw: bytes) -> None:
    with pytest.raises(UnrecognizedEvent):
        await nagios.VENDOR.parse(request(raw))


async def test_too_many_fields_is_unrecognized() -> None:
    raw = "&".join(f"F{i}=x" for i in range(nagios.MAX_FIELDS + 1)).encode()
    with pytest.raises(UnrecognizedEvent):
        await nagios.VENDOR.parse(request(raw))


async def test_invalid_utf8_in_escapes_is_replaced_not_fatal() -> None:
    raw = (
        (SAMPLES / "nagios_service_problem.form")
        .read_bytes()
        .replace(b"SERVICEDESC=HTTPS", b"SERVICEDESC=HTTPS%FF%ED%A0%80")
    )
    event = await one(raw)
    assert event.component == "HTTPS\ufffd\ufffd\ufffd\ufffd"
    assert (
        event.dedup_key
        == "event_source=service;host_name=web-03;service_desc=HTTPS\ufffd\ufffd\ufffd\ufffd"
    )


async def test_hostile_unicode_is_kept_exactly() -> None:
    host = "web\u202e03\u200b😀e\u0301"
    event = await one(change(sample_form(), {"HOSTNAME": host}))
    assert event.dedup_key == f"event_source=service;host_name={host};service_desc=HTTPS"
    assert event.source == host


async def test_long_names_are_truncated_and_hashed() -> None:
    event = await one(change(sample_form(), {"SERVICEDESC": "s" * 3000}))
    assert event.summary is not None
    assert len(event.summary) == 1024
    assert event.dedup_key is not None
    assert len(event.dedup_key) == 64


async def test_huge_form_drops_custom_details() -> None:
    event = await one(change(sample_form(), {"LONGSERVICEOUTPUT": "o" * 600_000}))
    assert event.custom_details == cef.SIZE_ERROR_DETAILS
    assert event.dedup_key == SERVICE_KEY


async def test_bad_timet_leaves_no_timestamp() -> None:
    event = await one(change(sample_form(), {"TIMET": "soon"}))
    assert event.timestamp is None


def test_vendor_registration() -> None:
    [vendor] = nagios.register_vendors()
    assert vendor.integration_type == "nagios_inbound_integration"
    assert vendor.paths == ("/nagios/2010-04-15/create_event",)
    assert "nagios" in vendor.aliases
    assert vendor.render_success is nagios.render_success
    assert load_plugins().vendor_for_path(nagios.PATH) is nagios.VENDOR
    assert load_plugins().vendor("icinga") is nagios.VENDOR


def test_settings_are_checked() -> None:
    assert nagios.VENDOR.check_settings is not None
    assert nagios.VENDOR.check_settings({}) == []
    assert nagios.VENDOR.check_settings({"contact_pager": "x"}) == [
        "integration setting 'contact_pager' is unknown (known: none)"
    ]
