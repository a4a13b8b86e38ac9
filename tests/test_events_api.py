"""End-to-end: the Events API v2 and v1 over real HTTP against a running daemon."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scaffold import (
    Daemon,
    Integration,
    config,
    daemon_running,
    events_v1,
    events_v2,
    key,
    service,
    v2,
    v2_service,
)

pytestmark = pytest.mark.slow  # every test talks to one real daemon process for the module

CART_V2 = key("cart-v2")
CART_V2_OTHER = key("cart-v2-b")
CART_V1 = key("cart-v1")
INCIDENTS_ONLY = key("incidents")
DISABLED = key("disabled")
GROUPED = key("grouped")
HIGH = key("high")

CONFIG = config(
    service(
        "Cart",
        events_v2(CART_V2),
        events_v2(CART_V2_OTHER, "v2-other"),
        events_v1(CART_V1),
        incident_urgency="severity_based",
    ),
    # v1 under its PagerDuty type name, which a config may write instead of events_api_v1
    service(
        "Ops",
        Integration("v1", "generic_events_api_inbound_integration", integration_key=INCIDENTS_ONLY),
        alert_creation="create_incidents",
    ),
    v2_service("Paused", DISABLED, status="disabled"),
    v2_service("Grouped", GROUPED, alert_grouping="time", alert_grouping_timeout=10),
    v2_service("Always high", HIGH, incident_urgency="high"),
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with daemon_running(tmp_path_factory.mktemp("events"), CONFIG) as running:
        yield running


@pytest.fixture
def http(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client() as client:
        yield client


def post(http: httpx.Client, body: object, path: str = "/v2/enqueue") -> httpx.Response:
    return http.post(path, json=body)


def incident_for(daemon: Daemon, dedup_key: str) -> tuple[str, str, str, str]:
    """(id, status, urgency, title) of the newest incident holding an alert with the key."""
    rows = daemon.query(
        "SELECT i.id, i.status, i.urgency, i.title FROM incidents i JOIN alerts a "
        "ON a.incident_id = i.id WHERE a.alert_key = ? ORDER BY i.number DESC",
        dedup_key,
    )
    assert rows, f"no incident for {dedup_key}"
    return rows[0]


def counts(daemon: Daemon) -> tuple[int, int, int]:
    return (
        daemon.scalar("SELECT count(*) FROM incidents"),
        daemon.scalar("SELECT count(*) FROM alerts"),
        daemon.scalar("SELECT count(*) FROM log_entries"),
    )


# -- lifecycles ---------------------------------------------------------------------------------


def test_v2_trigger_acknowledge_resolve(daemon: Daemon, http: httpx.Client) -> None:
    r = post(http, v2(CART_V2, dedup_key="life/1"))
    assert r.status_code == 202
    assert r.json() == {"status": "success", "message": "Event processed", "dedup_key": "life/1"}
    incident_id, status, urgency, title = incident_for(daemon, "life/1")
    assert (status, urgency, title) == ("triggered", "high", "Disk full on db01")

    r = post(http, v2(CART_V2, "acknowledge", "life/1"))
    assert r.status_code == 202
    assert r.json() == {"status": "success", "message": "Event processed", "dedup_key": "life/1"}
    assert incident_for(daemon, "life/1")[1] == "acknowledged"

    r = post(http, v2(CART_V2, "resolve", "life/1"))
    assert (r.status_code, r.json()["dedup_key"]) == (202, "life/1")
    assert incident_for(daemon, "life/1")[1] == "resolved"
    assert daemon.scalar("SELECT status FROM alerts WHERE alert_key = 'life/1'") == "resolved"
    kinds = [
        row[0]
        for row in daemon.query(
            "SELECT type FROM log_entries WHERE incident_id = ? ORDER BY seq", incident_id
        )
    ]
    assert kinds == ["trigger_log_entry", "acknowledge_log_entry", "resolve_log_entry"]


def test_v1_trigger_acknowledge_resolve(daemon: Daemon, http: httpx.Client) -> None:
    path = "/generic/2010-04-15/create_event.json"
    body = {
        "service_key": CART_V1,
        "event_type": "trigger",
        "incident_key": "v1/life",
        "description": "CPU on fire",
        "details": {"cpu": 99},
    }
    r = post(http, body, path)
    assert r.status_code == 200
    assert r.json() == {
        "status": "success",
        "message": "Event processed",
        "incident_key": "v1/life",
    }
    assert incident_for(daemon, "v1/life")[1:] == ("triggered", "high", "CPU on fire")
    r = post(
        http, {"service_key": CART_V1, "event_type": "acknowledge", "incident_key": "v1/life"}, path
    )
    assert (r.status_code, r.json()["incident_key"]) == (200, "v1/life")
    assert incident_for(daemon, "v1/life")[1] == "acknowledged"
    r = post(
        http, {"service_key": CART_V1, "event_type": "resolve", "incident_key": "v1/life"}, path
    )
    assert r.status_code == 200
    assert incident_for(daemon, "v1/life")[1] == "resolved"


def test_v1_trigger_without_incident_key_gets_one(http: httpx.Client) -> None:
    r = post(
        http,
        {"service_key": CART_V1, "event_type": "trigger", "description": "x"},
        "/generic/2010-04-15/create_event.json",
    )
    assert r.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", r.json()["incident_key"])


# -- dedup ------------------------------------------------------------------------------------


def test_retrigger_appends_to_the_open_alert(daemon: Daemon, http: httpx.Client) -> None:
    post(http, v2(CART_V2, dedup_key="dup/1", summary="first"))
    before = counts(daemon)
    r = post(http, v2(CART_V2, dedup_key="dup/1", summary="second", severity="warning"))
    assert r.status_code == 202
    after = counts(daemon)
    assert after[:2] == before[:2]  # no new incident, no new alert
    assert after[2] == before[2] + 1  # one more trigger log entry
    assert daemon.query("SELECT summary, severity FROM alerts WHERE alert_key = 'dup/1'") == [
        ("second", "warning")
    ]
    assert incident_for(daemon, "dup/1")[3] == "first"  # the incident keeps the first title


def test_trigger_after_resolve_opens_a_new_alert(daemon: Daemon, http: httpx.Client) -> None:
    post(http, v2(CART_V2, dedup_key="again/1"))
    post(http, v2(CART_V2, "resolve", "again/1"))
    first = incident_for(daemon, "again/1")[0]
    post(http, v2(CART_V2, dedup_key="again/1"))
    second, status, *_ = incident_for(daemon, "again/1")
    assert second != first and status == "triggered"
    assert daemon.scalar("SELECT count(*) FROM alerts WHERE alert_key = 'again/1'") == 2


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_followup_for_unknown_key_is_accepted_and_changes_nothing(
    daemon: Daemon, http: httpx.Client, action: str
) -> None:
    before = counts(daemon)
    r = post(http, v2(CART_V2, action, "never-triggered"))
    assert r.status_code == 202
    assert r.json()["dedup_key"] == "never-triggered"
    assert counts(daemon) == before


def test_followup_for_resolved_key_changes_nothing(daemon: Daemon, http: httpx.Client) -> None:
    post(http, v2(CART_V2, dedup_key="done/1"))
    post(http, v2(CART_V2, "resolve", "done/1"))
    before = counts(daemon)
    assert post(http, v2(CART_V2, "acknowledge", "done/1")).status_code == 202
    assert post(http, v2(CART_V2, "resolve", "done/1")).status_code == 202
    assert counts(daemon) == before
    assert incident_for(daemon, "done/1")[1] == "resolved"


def test_followups_through_another_integration_do_not_touch_the_alert(
    daemon: Daemon, http: httpx.Client
) -> None:
    post(http, v2(CART_V2, dedup_key="cross/1"))
    assert post(http, v2(CART_V2_OTHER, "acknowledge", "cross/1")).status_code == 202
    assert post(http, v2(CART_V2_OTHER, "resolve", "cross/1")).status_code == 202
    assert incident_for(daemon, "cross/1")[1] == "triggered"
    assert daemon.scalar("SELECT status FROM alerts WHERE alert_key = 'cross/1'") == "triggered"


def test_trigger_without_dedup_key_gets_a_generated_one(daemon: Daemon, http: httpx.Client) -> None:
    body = v2(CART_V2)
    first = post(http, body).json()["dedup_key"]
    second = post(http, body).json()["dedup_key"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second
    assert incident_for(daemon, first)[0] != incident_for(daemon, second)[0]


def test_severity_based_urgency(daemon: Daemon, http: httpx.Client) -> None:
    for severity, urgency in [
        ("critical", "high"),
        ("error", "high"),
        ("warning", "low"),
        ("info", "low"),
    ]:
        post(http, v2(CART_V2, dedup_key=f"urg/{severity}", severity=severity))
        assert incident_for(daemon, f"urg/{severity}")[2] == urgency
    post(http, v2(HIGH, dedup_key="urg/const", severity="info"))
    assert incident_for(daemon, "urg/const")[2] == "high"


# -- service rules ------------------------------------------------------------------------------


def test_disabled_service_accepts_and_suppresses(daemon: Daemon, http: httpx.Client) -> None:
    before = counts(daemon)
    r = post(http, v2(DISABLED, dedup_key="off/1"))
    assert r.status_code == 202
    assert r.json()["dedup_key"] == "off/1"
    after = counts(daemon)
    assert after[:2] == before[:2]
    row = daemon.query(
        "SELECT l.type, l.incident_id, l.summary FROM log_entries l JOIN integrations i "
        "ON i.id = l.integration_id WHERE i.integration_key = ? ORDER BY l.seq DESC",
        DISABLED,
    )
    assert row[0] == ("suppress_log_entry", None, "Suppressed trigger: service disabled")


def test_create_incidents_service_opens_incidents_without_alerts(
    daemon: Daemon, http: httpx.Client
) -> None:
    path = "/generic/2010-04-15/create_event.json"
    body = {
        "service_key": INCIDENTS_ONLY,
        "event_type": "trigger",
        "incident_key": "ci/1",
        "description": "Backup failed",
    }
    assert post(http, body, path).status_code == 200
    assert post(http, body, path).status_code == 200  # dedup on incident_key
    rows = daemon.query("SELECT id, status, title FROM incidents WHERE incident_key = 'ci/1'")
    assert len(rows) == 1 and rows[0][1:] == ("triggered", "Backup failed")
    assert daemon.scalar("SELECT count(*) FROM alerts WHERE incident_id = ?", rows[0][0]) == 0
    post(
        http, {"service_key": INCIDENTS_ONLY, "event_type": "resolve", "incident_key": "ci/1"}, path
    )
    assert daemon.scalar("SELECT status FROM incidents WHERE id = ?", rows[0][0]) == "resolved"


def test_alerts_and_incidents_service_keeps_alerts(daemon: Daemon, http: httpx.Client) -> None:
    post(http, v2(CART_V2, dedup_key="al/1"))
    incident_id = incident_for(daemon, "al/1")[0]
    assert daemon.scalar("SELECT count(*) FROM alerts WHERE incident_id = ?", incident_id) == 1


def test_time_grouping_puts_alerts_in_one_incident(daemon: Daemon, http: httpx.Client) -> None:
    post(http, v2(GROUPED, dedup_key="grp/a", summary="first alert"))
    post(http, v2(GROUPED, dedup_key="grp/b", summary="second alert"))
    a, b = incident_for(daemon, "grp/a"), incident_for(daemon, "grp/b")
    assert a[0] == b[0] and a[3] == "first alert"
    post(http, v2(GROUPED, "resolve", "grp/a"))
    assert incident_for(daemon, "grp/b")[1] == "triggered"  # one alert still open
    post(http, v2(GROUPED, "resolve", "grp/b"))
    assert incident_for(daemon, "grp/b")[1] == "resolved"


# -- errors -------------------------------------------------------------------------------------

INVALID = {"status": "invalid event", "message": "Event object is invalid"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {
                "event_action": "trigger",
                "payload": {"summary": "s", "source": "h", "severity": "info"},
            },
            "'routing_key' is missing or blank",
        ),
        (v2("short"), "Length of 'routing_key' is incorrect (should be 32 characters)"),
        (
            v2("0123456789abcdef0123456789abcde!"),
            "'routing_key' cannot contain non-alphanumeric characters.",
        ),
        ({"routing_key": CART_V2}, "'event_action' is missing or blank"),
        (
            {"routing_key": CART_V2, "event_action": "explode"},
            "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' "
            "or 'resolve')",
        ),
        (
            {"routing_key": CART_V2, "event_action": "acknowledge"},
            "'dedup_key' is missing or blank",
        ),
        (
            {"routing_key": CART_V2, "event_action": "resolve", "dedup_key": ""},
            "'dedup_key' is missing or blank",
        ),
        (v2(CART_V2, dedup_key="k" * 256), "'dedup_key' is too long (maximum is 255 characters)"),
        ({"routing_key": CART_V2, "event_action": "trigger"}, "'payload' is missing or blank"),
        (v2(CART_V2, summary=""), "'payload.summary' is missing or blank"),
        (v2(CART_V2, source=None), "'payload.source' is missing or blank"),
        (v2(CART_V2, severity=None), "'payload.severity' is missing or blank"),
        (
            v2(CART_V2, severity="Info"),
            "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', "
            "'error' or 'info')",
        ),
        (v2(CART_V2, summary="é" * 1025), "'summary' is too long (maiximum is 1024 characters)"),
        (
            v2(CART_V2, timestamp="yesterday"),
            "'payload.timestamp' is invalid (must be an ISO 8601 date-time)",
        ),
        (v2(CART_V2, summary=42), "'payload.summary' is invalid (must be a string)"),
        (
            {"routing_key": CART_V2, "event_action": "trigger", "payload": []},
            "'payload' is invalid (must be an object)",
        ),
    ],
)
def test_invalid_v2_events_get_pagerduty_errors(
    daemon: Daemon, http: httpx.Client, body: dict[str, object], error: str
) -> None:
    before = counts(daemon)
    r = post(http, body)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    data = r.json()
    assert {k: data[k] for k in INVALID} == INVALID
    assert error in data["errors"]
    assert counts(daemon) == before


def test_summary_limit_counts_characters_not_bytes(daemon: Daemon, http: httpx.Client) -> None:
    r = post(http, v2(CART_V2, dedup_key="chars/1024", summary="é" * 1024))
    assert r.status_code == 202
    assert incident_for(daemon, "chars/1024")[3] == "é" * 1024


@pytest.mark.parametrize(
    "stamp", ["2015-07-17T08:42:58.315+0000", "2015-07-17T08:42:58+00:00", "2026-11-22T10:00:00Z"]
)
def test_timestamps_with_either_offset_form(http: httpx.Client, stamp: str) -> None:
    assert post(http, v2(CART_V2, timestamp=stamp)).status_code == 202


@pytest.mark.parametrize("raw", [b"{nope", b"", b"[1, 2]", b"\xff\xfe", b'"text"'])
def test_unparseable_body_is_unrecognized(daemon: Daemon, http: httpx.Client, raw: bytes) -> None:
    before = counts(daemon)
    r = http.post("/v2/enqueue", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {
        "status": "Unrecognized object",
        "message": "Event object format is unrecognized",
        "errors": ["JSON parse error"],
    }
    assert counts(daemon) == before


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"service_key": CART_V1, "event_type": "trigger"}, "Description is missing or blank"),
        (
            {"service_key": CART_V1, "event_type": "trigger", "description": "d" * 1025},
            "Description is too long (maximum is 1024 characters)",
        ),
        (
            {"service_key": "abc", "event_type": "trigger", "description": "x"},
            "Service key is the wrong length (should be 32 characters)",
        ),
        ({"event_type": "trigger", "description": "x"}, "Service key can't be blank"),
        ({"service_key": CART_V1, "description": "x"}, "'event_type' is missing or blank"),
        (
            {"service_key": CART_V1, "event_type": "nope"},
            "event_type is invalid (must be one of: trigger acknowledge resolve)",
        ),
        ({"service_key": CART_V1, "event_type": "resolve"}, "Incident key is missing or blank"),
    ],
)
def test_invalid_v1_events_get_v1_errors(
    daemon: Daemon, http: httpx.Client, body: dict[str, object], error: str
) -> None:
    before = counts(daemon)
    r = post(http, body, "/generic/2010-04-15/create_event.json")
    assert r.status_code == 400
    assert r.json()["status"] == "invalid event"
    assert error in r.json()["errors"]
    assert counts(daemon) == before


def test_v1_parse_error_body(http: httpx.Client) -> None:
    r = http.post("/generic/2010-04-15/create_event.json", content=b"nope")
    assert r.status_code == 400
    assert r.json() == {
        "status": "unrecognized object",
        "message": "Event object format is unrecognized",
        "errors": ["JSON parse error"],
    }


@pytest.mark.parametrize("path", ["/v2/enqueue", "/generic/2010-04-15/create_event.json"])
def test_unknown_routing_key_is_rejected_and_stored_nowhere(
    daemon: Daemon, http: httpx.Client, path: str
) -> None:
    before = counts(daemon)
    unknown = key("nobody-has-this")
    body = (
        v2(unknown)
        if path == "/v2/enqueue"
        else {"service_key": unknown, "event_type": "trigger", "description": "x"}
    )
    r = post(http, body, path)
    assert r.status_code == 400
    assert r.json() == {**INVALID, "errors": ["Invalid routing key"]}
    assert counts(daemon) == before


def test_body_over_limit_gets_413_and_is_not_stored(daemon: Daemon, http: httpx.Client) -> None:
    before = counts(daemon)
    body = v2(CART_V2, dedup_key="huge", custom_details={"blob": "x" * (512 * 1024)})
    r = post(http, body)
    assert r.status_code == 413
    assert r.json()["status"] == "Request Entity Too Large"
    assert counts(daemon) == before


def test_chunked_body_over_limit_gets_413(daemon: Daemon, http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"routing_key":"' + CART_V2.encode() + b'","x":"'
        for _ in range(600):
            yield b"y" * 1024
        yield b'"}'

    before = counts(daemon)
    r = http.post("/v2/enqueue", content=chunks())
    assert r.status_code == 413
    assert counts(daemon) == before


def test_get_on_ingest_path_is_405(http: httpx.Client) -> None:
    r = http.get("/v2/enqueue")
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/json"


# -- what real clients send ---------------------------------------------------------------------


def test_x_routing_key_header_fallback(daemon: Daemon, http: httpx.Client) -> None:
    body = v2(CART_V2, dedup_key="hdr/1")
    del body["routing_key"]
    r = http.post("/v2/enqueue", json=body, headers={"X-Routing-Key": CART_V2})
    assert r.status_code == 202
    assert incident_for(daemon, "hdr/1")[1] == "triggered"


def test_unknown_fields_are_tolerated(http: httpx.Client) -> None:
    body = {**v2(CART_V2, dedup_key="extra/1"), "agent": {"agent_id": "x"}, "whatever": [1]}
    assert post(http, body).status_code == 202
    v1 = {
        "service_key": CART_V1,
        "event_type": "trigger",
        "incident_key": "am/v1",
        "description": "from alertmanager",
        "event_action": "",
        "payload": None,
        "agent": {"agent_id": "pdagent", "queued_by": "pd-send"},
    }
    assert post(http, v1, "/generic/2010-04-15/create_event.json").status_code == 200


def test_alertmanager_v2_sample(daemon: Daemon, http: httpx.Client, samples: Path) -> None:
    body = json.loads((samples / "prometheus_alertmanager_pagerduty_v2.json").read_text())
    body["routing_key"] = CART_V2
    r = post(http, body)
    assert r.status_code == 202
    assert r.json()["dedup_key"] == body["dedup_key"]
    assert incident_for(daemon, body["dedup_key"])[1] == "triggered"


# -- change events ------------------------------------------------------------------------------


def test_change_event_is_stored(daemon: Daemon, http: httpx.Client) -> None:
    body = {
        "routing_key": CART_V2,
        "payload": {"summary": "Deployed v42", "source": "ci", "timestamp": "2026-11-22T10:00:00Z"},
        "links": [{"href": "https://ci.example.com/42", "text": "build"}],
    }
    r = post(http, body, "/v2/change/enqueue")
    assert r.status_code == 202
    data = r.json()
    assert data["status"] == "success" and data["message"] == "Change event processed"
    assert (
        daemon.scalar("SELECT summary FROM change_events WHERE id = ?", data["id"])
        == "Deployed v42"
    )


def test_change_event_without_summary_is_invalid(http: httpx.Client) -> None:
    r = post(http, {"routing_key": CART_V2, "payload": {"source": "ci"}}, "/v2/change/enqueue")
    assert r.status_code == 400
    assert "'payload.summary' is missing or blank" in r.json()["errors"]
