"""No whole integration key or API token in anything the daemon prints (issue 14 items 5, 7).

One real ``alert-gateway serve`` process, JSON logs at debug level, is driven through every
route family: the Events API and every key-in-URL form with good and bad bodies, unknown
and deleted keys, an oversized and a trickled body, every REST operation of the OpenAPI
document, the web UI, the operational pages, SMTP, a reload and the start-up line of a
generated key. Then the whole captured output (stdout and stderr) is searched for every key
and token used: each may appear as its last four characters, never whole. The CLI commands
that are not there to show a key (``token list``, ``db check``, ``check-config``...) are
searched the same way.

Then, in process, each log call that can carry a key (a path, a key, a routing key, a
token) is driven on its own and its captured lines are searched (``captured``): a call
site that stopped redacting fails its own test, even where another layer would have hidden
it in the daemon's output.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import trio
from structlog.testing import LogCapture
from structlog.typing import Processor

import gateway.daemon as daemon_module
from gateway.auth import hash_token
from gateway.http.openapi import OPERATIONS
from gateway.logs import redact_paths
from gateway.pluginkit import hookimpl
from gateway.store import Tx
from tests.people_support import override_body, policy_body, schedule_body, user_body
from tests.scaffold import (
    SAMPLES,
    Daemon,
    TestGateway,
    config,
    email_integration,
    events_v1,
    events_v2,
    gateway_running,
    service,
    v2,
    vendor_integration,
)


def key(tag: str) -> str:
    """A valid key whose every character counts (the scaffold's end in zeros)."""
    return hashlib.sha256(tag.encode()).hexdigest()[:32]


V2, V1 = key("logs-v2"), key("logs-v1")
CW, DD, NAGIOS, AM = key("logs-cw"), key("logs-dd"), key("logs-nagios"), key("logs-am")
MAIL, RELOADED = key("logs-mail"), key("logs-reload")
UNKNOWN = key("logs-unknown")  # well formed, belongs to nobody
UPSTREAM = key("logs-upstream")  # a forwarding target's routing key (another account's)
SERVICES = (
    service(
        "Logged",
        events_v2(V2),
        events_v1(V1),
        vendor_integration("cw", "cloudwatch", CW, verify_signature=False),
        vendor_integration("dd", "datadog", DD),
        vendor_integration("nagios", "nagios", NAGIOS),
        vendor_integration("am", "alertmanager", AM),
        email_integration("mail", "ops", MAIL),
        events_v2(None, name="generated"),  # its key is made at start and announced
    ),
)
SETTINGS: dict[str, Any] = {
    "server": {"body_timeout": 1, "max_body_size": 65536},
    "logging": {"level": "debug", "format": "json"},
    "smtp": {"listen": "127.0.0.1:0", "domain": "alerts.example.com"},
    "rate_limit": 6,
}
FROM = {"From": "auditor@example.com"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, html
    return match.group(1)


def cli_token(daemon: Daemon, role: str, name: str) -> str:
    done = daemon.cli("token", "create", "--role", role, "--name", name)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split()[-1]


def trickle(daemon: Daemon, path: str, headers: str = "") -> bytes:
    """A request whose body never arrives whole: the daemon answers 408 after body_timeout."""
    host, port = daemon.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        head = f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Length: 400\r\n{headers}\r\n"
        conn.sendall(head.encode() + b'{"routing_key": "' + V2.encode())
        return conn.recv(4096)


def ingest(http: httpx.Client) -> None:
    """Every ingest route, good and bad, keys in bodies and in URLs."""

    def post(path: str, expect: tuple[int, ...], **kw: Any) -> None:
        answer = http.post(path, **kw)
        assert answer.status_code in expect, (path, answer.status_code, answer.text)

    post("/v2/enqueue", (202,), json=v2(V2, dedup_key="good"))
    post("/v2/enqueue", (400,), json={"routing_key": V2, "event_action": "trigger"})
    post("/v2/enqueue", (400,), json=v2(UNKNOWN))
    post("/v2/enqueue", (400,), content=b'{"routing_key": "' + V2.encode() + b'", oops')
    post("/v2/change/enqueue", (202,), json={"routing_key": V2, "payload": {"summary": "deploy"}})
    post("/v2/change/enqueue", (400,), json={"routing_key": V2})
    generic = "/generic/2010-04-15/create_event.json"
    post(generic, (200,), json={"service_key": V1, "event_type": "trigger", "description": "d"})
    post(generic, (400,), json={"service_key": V1, "event_type": "nonsense"})
    post(generic, (400,), json={"service_key": UNKNOWN, "event_type": "trigger"})
    alarm = sample("cloudwatch_sns_alarm_alarm.json")
    post(f"/integration/{CW}/enqueue", (202, 200), content=alarm)
    post(f"/x-ere/{CW}", (400,), content=b"not json " + CW.encode())
    post(f"/adapter/cloudwatch_sns/v1/{CW}", (400,), json={"Type": "Nonsense"})
    datadog = sample("datadog_webhook_triggered.json")
    post(f"/integration/{DD}/enqueue", (202, 200), content=datadog)
    post(f"/integration/{DD}/enqueue", (400,), json={"routing_key": DD})
    post(f"/integration/{UNKNOWN}/enqueue", (400, 404), content=datadog)
    post(f"/x-ere/{UNKNOWN}", (400, 404), json={})
    post(f"/integration/{AM}/enqueue", (400,), json={"alerts": "not a list", "key": AM})
    nagios = sample("nagios_service_problem.form").decode()
    nagios = re.sub(r"CONTACTPAGER=\w+", f"CONTACTPAGER={NAGIOS}", nagios)
    form = {"content": nagios.encode()}
    ctype = {"Content-Type": "application/x-www-form-urlencoded"}
    post("/nagios/2010-04-15/create_event", (200, 202), headers=ctype, **form)
    post(
        "/nagios/2010-04-15/create_event",
        (400,),
        headers=ctype,
        content=b"CONTACTPAGER=" + V1.encode(),
    )
    unknown = nagios.replace(NAGIOS, UNKNOWN).encode()
    post("/nagios/2010-04-15/create_event", (400,), headers=ctype, content=unknown)
    big = b'{"routing_key": "' + V2.encode() + b'", "pad": "' + b"x" * 70000 + b'"}'
    post("/v2/enqueue", (413,), content=big)
    post(f"/integration/{DD}/enqueue", (413,), content=b"x" * 70000)
    for n in range(8):  # over [rate_limit] events_per_minute
        post(
            f"/integration/{DD}/enqueue",
            (202, 200, 429),
            content=datadog.replace(b"78452", f"{n}".encode()),
        )
    assert http.get(f"/integration/{DD}/enqueue").status_code in (404, 405)


class Rest:
    """REST calls that record which OpenAPI operation each one exercised."""

    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.auth = {"Authorization": f"Token token={token}", **FROM}
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, method: str, template: str, expect: int, **kw: Any) -> Any:
        path = template.format(**kw.pop("ids", {}))
        answer = self.http.request(method, path, headers=self.auth, **kw)
        assert answer.status_code == expect, (method, path, answer.text)
        self.seen.add(
            (method.lower(), template.replace("{sid}", "{id}").replace("{iid}", "{integration_id}"))
        )
        return answer.json() if answer.content else None


def rest(
    http: httpx.Client, token: str, admin: str, token_of: Callable[[str], str], secrets: set[str]
) -> None:
    """Every REST operation once, with real objects; the keys it creates join ``secrets``.

    ``token`` is a manager's, ``admin`` an admin's (users are theirs to make), and
    ``token_of(email)`` makes a token that belongs to that user (for ``/users/me``).
    """
    call = Rest(http, token)
    sid = call("POST", "/services", 201, json={"service": {"name": "Via REST"}})["service"]["id"]
    ids = {"sid": sid}
    call("GET", "/services", 200, params={"include[]": "integrations"})
    call("GET", "/services/{sid}", 200, ids=ids)
    call("PUT", "/services/{sid}", 200, ids=ids, json={"service": {"description": "d"}})
    body = {"integration": {"type": "events_api_v2_inbound_integration", "name": "r"}}
    made = call("POST", "/services/{sid}/integrations", 201, ids=ids, json=body)["integration"]
    secrets.add(made["integration_key"])
    ids["iid"] = made["id"]
    call("GET", "/services/{sid}/integrations/{iid}", 200, ids=ids)
    renamed = {"integration": {"name": "renamed"}}
    call("PUT", "/services/{sid}/integrations/{iid}", 200, ids=ids, json=renamed)
    # Forwarding upstream: the target's key is a secret too (port 9: nothing listens).
    relay = {"service": {"forward_to": [{"url": "http://127.0.0.1:9", "routing_key": UPSTREAM}]}}
    call("PUT", "/services/{sid}", 200, ids=ids, json=relay)
    assert (
        http.post("/v2/enqueue", json=v2(made["integration_key"], dedup_key="r")).status_code == 202
    )
    queued = call("GET", "/services/{sid}/forwarding/messages", 200, ids=ids)["messages"]
    ids["message_id"] = queued[0]["id"]
    call("POST", "/services/{sid}/forwarding/messages/{message_id}/retry", 200, ids=ids)
    call("POST", "/services/{sid}/forwarding/retry", 200, ids=ids)
    call("DELETE", "/services/{sid}/forwarding/messages/{message_id}", 204, ids=ids)
    call("DELETE", "/services/{sid}/integrations/{iid}", 204, ids=ids)
    # The deleted key is refused, and logged redacted like any other.
    assert http.post("/v2/enqueue", json=v2(made["integration_key"])).status_code == 400
    call("GET", "/vendors", 200)
    call("GET", "/vendors/{id}", 200, ids={"id": "PZQ6AUS"})
    incidents = call("GET", "/incidents", 200)["incidents"]
    logged = next(i for i in incidents if i["service"]["summary"] == "Logged")
    new = {
        "incident": {
            "type": "incident",
            "title": "by hand",
            "service": {"id": sid, "type": "service_reference"},
        }
    }
    inc = call("POST", "/incidents", 201, json=new)["incident"]["id"]
    bulk = {"incidents": [{"id": inc, "type": "incident_reference", "status": "acknowledged"}]}
    call("PUT", "/incidents", 200, json=bulk)
    call("POST", "/incidents/{id}/snooze", 201, ids={"id": inc}, json={"duration": 60})
    call("POST", "/incidents/{id}/notes", 200, ids={"id": inc}, json={"note": {"content": "n"}})
    call("GET", "/incidents/{id}/notes", 200, ids={"id": inc})
    call("GET", "/incidents/{id}", 200, ids={"id": logged["id"]})
    call(
        "PUT",
        "/incidents/{id}",
        200,
        ids={"id": inc},
        json={"incident": {"type": "incident", "status": "resolved"}},
    )
    call("GET", "/incidents/{id}/alerts", 200, ids={"id": logged["id"]})
    entries = call("GET", "/incidents/{id}/log_entries", 200, ids={"id": logged["id"]})
    call("GET", "/log_entries/{id}", 200, ids={"id": entries["log_entries"][0]["id"]})
    call("GET", "/log_entries", 200)
    window = {
        "maintenance_window": {
            "type": "maintenance_window",
            "start_time": "2099-01-01T00:00:00Z",
            "end_time": "2099-01-01T01:00:00Z",
            "services": [{"id": sid, "type": "service_reference"}],
        }
    }
    mw = call("POST", "/maintenance_windows", 201, json=window)["maintenance_window"]["id"]
    call("GET", "/maintenance_windows", 200)
    call("GET", "/maintenance_windows/{id}", 200, ids={"id": mw})
    changed = {"maintenance_window": {"type": "maintenance_window", "description": "moved"}}
    call("PUT", "/maintenance_windows/{id}", 200, ids={"id": mw}, json=changed)
    call("DELETE", "/maintenance_windows/{id}", 204, ids={"id": mw})
    webhooks(call, sid, secrets)
    people(call, Rest(http, admin), token_of, secrets)
    call("DELETE", "/services/{sid}", 204, ids=ids)
    every = {(op.method, op.path) for op in OPERATIONS if op.auth}
    assert every <= call.seen, every - call.seen


def people(call: Rest, admin: Rest, token_of: Callable[[str], str], secrets: set[str]) -> None:
    """Every user, contact method, notification rule, schedule, override, escalation policy
    and on-call operation (``admin`` records into ``call``'s set); the user's own token
    joins ``secrets``."""
    admin.seen = call.seen
    made = admin("POST", "/users", 201, json=user_body("Logged Person", "person@example.com"))
    uid = {"id": made["user"]["id"]}
    admin("GET", "/users", 200)
    admin("GET", "/users/{id}", 200, ids=uid)
    admin("PUT", "/users/{id}", 200, ids=uid, json={"user": {"job_title": "logged"}})
    mine = token_of("person@example.com")
    secrets.add(mine)
    me = Rest(call.http, mine)
    me.seen = call.seen
    me("GET", "/users/me", 200)
    address = {"type": "email_contact_method", "label": "Work", "address": "work@example.com"}
    method = admin(
        "POST", "/users/{id}/contact_methods", 201, ids=uid, json={"contact_method": address}
    )["contact_method"]
    mid = {**uid, "contact_method_id": method["id"]}
    admin("GET", "/users/{id}/contact_methods", 200, ids=uid)
    admin("GET", "/users/{id}/contact_methods/{contact_method_id}", 200, ids=mid)
    relabel = {"contact_method": {"label": "Office"}}
    admin("PUT", "/users/{id}/contact_methods/{contact_method_id}", 200, ids=mid, json=relabel)
    rule = {
        "type": "assignment_notification_rule",
        "start_delay_in_minutes": 5,
        "urgency": "high",
        "contact_method": {"id": method["id"], "type": "email_contact_method_reference"},
    }
    rules = "/users/{id}/notification_rules"
    made_rule = admin("POST", rules, 201, ids=uid, json={"notification_rule": rule})
    rid = {**uid, "notification_rule_id": made_rule["notification_rule"]["id"]}
    admin("GET", rules, 200, ids=uid)
    admin("GET", rules + "/{notification_rule_id}", 200, ids=rid)
    later = {"notification_rule": {"start_delay_in_minutes": 10, "urgency": "low"}}
    admin("PUT", rules + "/{notification_rule_id}", 200, ids=rid, json=later)
    admin("DELETE", rules + "/{notification_rule_id}", 204, ids=rid)
    admin("DELETE", "/users/{id}/contact_methods/{contact_method_id}", 204, ids=mid)
    schedule = call("POST", "/schedules", 201, json=schedule_body(uid["id"]))["schedule"]
    sched = {"id": schedule["id"]}
    call("GET", "/schedules", 200)
    call("GET", "/schedules/{id}", 200, ids=sched)
    renamed = schedule_body(uid["id"], name="Walked again")
    call("PUT", "/schedules/{id}", 200, ids=sched, json=renamed)
    (override,) = call(
        "POST", "/schedules/{id}/overrides", 201, ids=sched, json=override_body(uid["id"])
    )
    span = {"since": "2030-01-01T00:00:00Z", "until": "2030-01-03T00:00:00Z"}
    call("GET", "/schedules/{id}/overrides", 200, ids=sched, params=span)
    call("GET", "/schedules/{id}/users", 200, ids=sched, params=span)
    one = {**sched, "override_id": override["override"]["id"]}
    call("DELETE", "/schedules/{id}/overrides/{override_id}", 204, ids=one)
    policy = policy_body(uid["id"], schedule["id"])
    pid = {"id": call("POST", "/escalation_policies", 201, json=policy)["escalation_policy"]["id"]}
    call("GET", "/escalation_policies", 200)
    call("GET", "/escalation_policies/{id}", 200, ids=pid)
    policy["escalation_policy"]["description"] = "logged"
    call("PUT", "/escalation_policies/{id}", 200, ids=pid, json=policy)
    call("GET", "/oncalls", 200)
    call(
        "GET",
        "/notifications",
        200,
        params={"since": "2026-01-01T00:00:00Z", "until": "2099-01-01T00:00:00Z"},
    )
    call("DELETE", "/escalation_policies/{id}", 204, ids=pid)
    call("DELETE", "/schedules/{id}", 204, ids=sched)
    admin("DELETE", "/users/{id}", 204, ids=uid)


def webhooks(call: Rest, sid: str, secrets: set[str]) -> None:
    """Every webhook subscription operation; its secrets and a custom header's value join
    ``secrets`` (the receiver is down, so the ping's delivery is retried and logged)."""
    header = "Bearer hook-header-0123456789abcdef"
    body = {
        "webhook_subscription": {
            "type": "webhook_subscription",
            "delivery_method": {
                "type": "http_delivery_method",
                "url": "http://127.0.0.1:9/hook",
                "custom_headers": [{"name": "Authorization", "value": header}],
            },
            "events": ["incident.triggered"],
            "filter": {"type": "service_reference", "id": sid},
        }
    }
    made = call("POST", "/webhook_subscriptions", 201, json=body)["webhook_subscription"]
    secrets.update({made["delivery_method"]["secret"], header})
    hid = {"id": made["id"]}
    call("GET", "/webhook_subscriptions", 200)
    call("GET", "/webhook_subscriptions/{id}", 200, ids=hid)
    changed = {"webhook_subscription": {"description": "logged"}}
    call("PUT", "/webhook_subscriptions/{id}", 200, ids=hid, json=changed)
    rotated = call("POST", "/webhook_subscriptions/{id}/rotate_secret", 200, ids=hid)
    secrets.add(rotated["webhook_subscription"]["delivery_method"]["secret"])
    call("POST", "/webhook_subscriptions/{id}/ping", 202, ids=hid)
    call("POST", "/webhook_subscriptions/{id}/enable", 200, ids=hid)
    call("POST", "/webhook_subscriptions/{id}/end_rotation", 200, ids=hid)
    listed = call("GET", "/webhook_subscriptions/{id}/deliveries", 200, ids=hid)
    one = {**hid, "message_id": listed["deliveries"][0]["id"]}
    call("POST", "/webhook_subscriptions/{id}/deliveries/{message_id}/retry", 200, ids=one)
    call("DELETE", "/webhook_subscriptions/{id}/deliveries/{message_id}", 204, ids=one)
    call("DELETE", "/webhook_subscriptions/{id}", 204, ids=hid)


def ui(daemon: Daemon, manager: str, secrets: set[str]) -> None:
    """Sign-in (failed and good), every page, a form that creates a key, sign-out."""
    with httpx.Client(base_url=daemon.base_url, timeout=10.0) as browser:
        page = browser.get("/ui/login")
        bad = browser.post("/ui/login", data={"token": UNKNOWN, "csrf_token": csrf_of(page.text)})
        assert bad.status_code == 401
        data = {"token": manager, "csrf_token": csrf_of(page.text), "next": f"/ui/x/{manager}"}
        assert browser.post("/ui/login", data=data).status_code == 303
        new = browser.get("/ui/services/new")
        form = {
            "csrf_token": csrf_of(new.text),
            "name": "Via UI",
            "urgency": "high",
            "alert_creation": "create_alerts_and_incidents",
            "integration_type": "events_api_v2",
            "integration_name": "ui v2",
        }
        assert browser.post("/ui/services/new", data=form).status_code == 303
        made = daemon.scalar("SELECT integration_key FROM integrations WHERE name = 'ui v2'")
        secrets.add(made)
        sid = daemon.scalar("SELECT id FROM services WHERE name = 'Logged'")
        incident = daemon.scalar("SELECT id FROM incidents ORDER BY number LIMIT 1")
        for path in (
            "/ui/services",
            f"/ui/services/{sid}",
            f"/ui/services/{sid}/integrations",
            "/ui/incidents",
            f"/ui/incidents/{incident}",
            "/ui/vendors",
            "/ui/webhooks",
            f"/ui/services/{made}",  # a key where an id belongs: a 404 page
        ):
            assert browser.get(path).status_code in (200, 404), path
        page = browser.get("/ui/services")
        assert (
            browser.post("/ui/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 303
        )


def operations(http: httpx.Client) -> None:
    for path in ("/metrics", "/healthz", "/readyz", "/-/plugins", "/openapi.json"):
        assert http.get(path).status_code == 200, path


def mail(daemon: Daemon) -> None:
    host, port = daemon.smtp[0].rsplit(":", 1)
    message = EmailMessage()
    message["From"] = "nagios@example.com"
    message["To"] = "ops@alerts.example.com"
    message["Subject"] = f"PROBLEM web-3 is DOWN {MAIL}"
    message.set_content(f"body mentions {V2}")
    with smtplib.SMTP(host.removeprefix("smtp://"), int(port), timeout=10) as smtp:
        smtp.send_message(message)


@pytest.mark.slow  # a real daemon process, the CLI, SMTP
def test_no_whole_key_or_token_in_the_daemons_output(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(config(*SERVICES, **SETTINGS))
    generated = daemon.scalar("SELECT integration_key FROM integrations WHERE name = 'generated'")
    manager, observer = cli_token(daemon, "user", "manager"), cli_token(daemon, "observer", "obs")
    admin = cli_token(daemon, "admin", "admin")
    secrets = {V2, V1, CW, DD, NAGIOS, AM, MAIL, RELOADED, UNKNOWN, UPSTREAM, generated}
    secrets |= {manager, observer, admin}

    def token_of(email: str) -> str:
        done = daemon.cli("token", "create", "--user", email, "--name", "own")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1].split()[-1]

    with daemon.client() as http:
        ingest(http)
        rest(http, manager, admin, token_of, secrets)
        bad_auth = http.get("/services", headers={"Authorization": f"Bearer {UNKNOWN}"})
        assert bad_auth.status_code == 401
        below = http.post(
            "/services", headers={"Authorization": f"Token token={observer}"}, json={}
        )
        assert below.status_code == 403
        ui(daemon, manager, secrets)
        operations(http)
    mail(daemon)
    # Keys in URLs nothing routes (a double slash, an extra segment) are keys all the same.
    for path in (
        f"/integration/{DD}/enqueue",
        f"/x-ere/{CW}",
        "/v2/enqueue",
        f"//integration/{NAGIOS}/enqueue",
        f"/integration/{AM}/enqueue/more",
    ):
        assert b" 408 " in trickle(daemon, path), path
    assert b" 408 " in trickle(daemon, "/services", f"Authorization: Token token={manager}\r\n")
    daemon.config_path.write_text(
        daemon.config_path.read_text() + f'\n  [[services.integrations]]\n  name = "late"\n'
        f'  type = "events_api_v2"\n  integration_key = "{RELOADED}"\n'
    )
    daemon.signal(signal.SIGHUP)
    daemon.wait_for_log("config.reloaded")
    token_id = daemon.scalar("SELECT id FROM api_tokens WHERE name = 'obs'")
    cli_runs = [
        daemon.cli("token", "list", "--all"),
        daemon.cli("token", "revoke", token_id),
        daemon.cli("db", "check"),
        daemon.cli("db", "prune", "--dry-run"),
        daemon.cli("check-config", str(daemon.config_path)),
    ]
    time.sleep(0.5)  # the last debug lines of the requests above
    assert daemon.stop() == 0

    output = daemon.log_path.read_text()
    events = {line.get("event") for line in daemon.log_lines()}
    # The run reached the lines that carry keys and paths (not a vacuous search).
    for event in ("event.accepted", "event.refused", "event.body_timeout", "ui.login"):
        assert event in events, (event, sorted(e for e in events if e))
    for secret in (generated, DD, CW, UNKNOWN):
        assert shown(secret) in output, secret
    leaked = {s: _where(output, s) for s in secrets if s in output}
    assert not leaked, f"whole keys or tokens in the daemon's output: {leaked}"
    for run in cli_runs:
        assert run.returncode in (0, 2), run.stderr
        text = run.stdout + run.stderr
        assert not [s for s in secrets if s in text], (run.args, text)


def shown(secret: str) -> str:
    """How a log line shows a secret: its last four characters after an ellipsis."""
    return json.dumps("…" + secret[-4:])[1:-1]


def _where(output: str, secret: str) -> list[str]:
    """The lines holding ``secret``, for the failure message."""
    lines = [line for line in output.splitlines() if secret in line]
    parsed = []
    for line in lines[:3]:
        try:
            parsed.append(json.loads(line).get("event", line))
        except ValueError:
            parsed.append(line[:160])
    return parsed


@pytest.mark.slow  # a Python subprocess
def test_console_tracebacks_show_no_local_variables(tmp_path: Path) -> None:
    # On a terminal (or format = "console") rich would print each frame's locals, a key too.
    script = tmp_path / "crash.py"
    script.write_text(
        "import os\n"
        "from gateway import logs\n"
        "import structlog\n"
        "logs.configure(level='info', fmt='console')\n"
        "def ingest(integration_key):\n"
        "    raise ValueError('bad body')\n"
        "try:\n"
        "    ingest(os.environ['KEY'])\n"
        "except ValueError:\n"
        "    structlog.get_logger().exception('event.internal_error')\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KEY": V2},
    )
    assert "event.internal_error" in done.stderr and "ValueError" in done.stderr, done.stderr
    assert V2 not in done.stderr + done.stdout


# -- in process: each log call that can carry a key, on its own ---------------------------------

IN_V2, IN_DD, IN_NAGIOS = key("inproc-v2"), key("inproc-dd"), key("inproc-nagios")
IN_CW, IN_UNKNOWN, IN_TOKEN = key("inproc-cw"), key("inproc-unknown"), key("inproc-token")
IN_RELOADED = key("inproc-reloaded")
IN_SECRETS = (IN_V2, IN_DD, IN_NAGIOS, IN_CW, IN_UNKNOWN, IN_TOKEN, IN_RELOADED)
IN_SERVICES = (
    service(
        "In process",
        events_v2(IN_V2),
        vendor_integration("dd", "datadog", IN_DD),
        vendor_integration("nagios", "nagios", IN_NAGIOS),
        vendor_integration(
            "cw",
            "cloudwatch",
            IN_CW,
            verify_signature=False,
            sns_topic_allowlist=["arn:aws:sns:us-east-1:482917365014:some-other-topic"],
        ),
    ),
    service("Elsewhere"),
)
IN_CONFIG = config(*IN_SERVICES, server={"body_timeout": 1, "max_body_size": 65536})
VERSION = {"Accept": "application/vnd.pagerduty+json;version=2"}


@contextmanager
def captured(*processors: Processor) -> Iterator[list[dict[str, Any]]]:
    """Every structlog line logged in the block, at every level, as the call site made it.

    Without ``processors`` nothing stands between the call and the capture, so a call that
    stopped redacting is caught even where the daemon's ``redact_paths`` would hide it.
    Lines whose ``path`` the daemon leaves to that processor (a body timeout outside the
    ingest path, the UI's refusals) are captured with it in front, as the daemon logs them.
    Whatever was configured before (a level filter included) is put back afterwards.
    """
    before = structlog.get_config()
    capture = LogCapture()
    structlog.configure(
        processors=[*processors, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield capture.entries
    finally:
        structlog.configure(**before)


def lines_of(entries: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    """The captured lines of ``event``; at least one (no vacuous search)."""
    found = [entry for entry in entries if entry.get("event") == event]
    assert found, (event, sorted({str(entry.get("event")) for entry in entries}))
    return found


def assert_no_whole_key(entries: list[dict[str, Any]], *secrets: str) -> None:
    """No captured line holds any of ``secrets`` whole (last four characters are fine)."""
    leaked = [entry for entry in entries if any(s in repr(entry) for s in secrets)]
    assert not leaked, leaked


def hidden(secret: str) -> str:
    """How a redacted secret shows: an ellipsis and its last four characters."""
    return "…" + secret[-4:]


async def in_process_trickle(gw: TestGateway, path: str, headers: str = "") -> bytes:
    """A request whose body never arrives whole: 408 after ``body_timeout``."""
    host, port = gw.base_url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        head = f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Length: 400\r\n{headers}\r\n"
        await stream.send_all(head.encode() + b'{"routing_key": "')
        return bytes(await stream.receive_some(4096))


async def test_ingest_lines_redact_the_key_of_the_body_and_of_the_url(tmp_path: Path) -> None:
    datadog = sample("datadog_webhook_triggered.json")
    async with gateway_running(tmp_path, IN_CONFIG) as gw:
        with captured() as entries:
            post = gw.client.post
            assert (await post("/v2/enqueue", json=v2(IN_V2, dedup_key="a"))).status_code == 202
            assert (await post(f"/integration/{IN_DD}/enqueue", content=datadog)).status_code == 202
            bad = await post(f"/integration/{IN_DD}/enqueue", json={"routing_key": IN_DD})
            assert bad.status_code == 400
            unknown = await post(f"/integration/{IN_UNKNOWN}/enqueue", content=datadog)
            assert unknown.status_code == 400
            assert (await post("/v2/enqueue", json=v2(IN_UNKNOWN))).status_code == 400
            big = await post(f"/integration/{IN_DD}/enqueue", content=b"x" * 70000)
            assert big.status_code == 413
        accepted = lines_of(entries, "event.accepted")
        assert [(e["path"], e["routing_key"]) for e in accepted] == [
            ("/v2/enqueue", hidden(IN_V2)),
            (f"/integration/{hidden(IN_DD)}/enqueue", hidden(IN_DD)),
        ]
        refused = lines_of(entries, "event.refused")
        assert [e["path"] for e in refused] == [
            f"/integration/{hidden(IN_DD)}/enqueue",
            f"/integration/{hidden(IN_UNKNOWN)}/enqueue",
            "/v2/enqueue",
            f"/integration/{hidden(IN_DD)}/enqueue",
        ]
        assert_no_whole_key(entries, *IN_SECRETS)


async def test_an_internal_error_line_redacts_the_key_of_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway_running(tmp_path, IN_CONFIG) as gw:

        def bug(events: object) -> None:
            raise RuntimeError("a bug of ours")

        monkeypatch.setattr(gw.running.context.ingest, "_check_rate", bug)
        with captured() as entries:
            answer = await gw.client.post(
                f"/integration/{IN_DD}/enqueue", content=sample("datadog_webhook_triggered.json")
            )
            assert answer.status_code == 500
        (line,) = lines_of(entries, "event.internal_error")
        assert line["path"] == f"/integration/{hidden(IN_DD)}/enqueue"
        assert_no_whole_key(entries, *IN_SECRETS)


async def test_body_timeout_lines_redact_the_key_of_the_url(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, IN_CONFIG) as gw:
        with captured() as entries:  # the ingest path redacts its key itself
            assert b" 408 " in await in_process_trickle(gw, f"/integration/{IN_DD}/enqueue")
        (line,) = lines_of(entries, "event.body_timeout")
        assert line["path"] == f"/integration/{hidden(IN_DD)}/enqueue"
        assert_no_whole_key(entries, *IN_SECRETS)
        with captured(redact_paths) as entries:  # any other route: the daemon's processor
            assert b" 408 " in await in_process_trickle(gw, f"/services/{IN_V2}")
        (line,) = lines_of(entries, "http.body_timeout")
        assert line["path"] == f"/services/{hidden(IN_V2)}"
        assert_no_whole_key(entries, *IN_SECRETS)


class _DropEverything:
    """A plugin whose filter drops every event (``event.filtered`` logs each)."""

    @hookimpl
    def filter_event(self, event: object, vendor_id: str) -> bool:
        return False


async def test_the_filtered_event_line_redacts_the_routing_key(tmp_path: Path) -> None:
    plugins = [("drop-everything", _DropEverything())]
    async with gateway_running(tmp_path, IN_CONFIG, plugins=plugins) as gw:
        with captured() as entries:
            answer = await gw.client.post("/v2/enqueue", json=v2(IN_V2, dedup_key="dropped"))
            assert answer.status_code == 202
        (line,) = lines_of(entries, "event.filtered")
        assert line["routing_key"] == hidden(IN_V2)
        assert_no_whole_key(entries, *IN_SECRETS)


async def test_vendor_plugin_lines_redact_the_key(tmp_path: Path) -> None:
    nagios = re.sub(
        r"CONTACTPAGER=\w+",
        f"CONTACTPAGER={IN_NAGIOS}",
        sample("nagios_service_problem.form").decode(),
    )
    flapping = re.sub(r"NOTIFICATIONTYPE=\w+", "NOTIFICATIONTYPE=FLAPPINGSTART", nagios)
    async with gateway_running(tmp_path, IN_CONFIG) as gw:
        with captured() as entries:
            answer = await gw.client.post(
                "/nagios/2010-04-15/create_event",
                content=flapping.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code in (200, 202), answer.text
            alarm = sample("cloudwatch_sns_alarm_alarm.json")
            refused = await gw.client.post(f"/integration/{IN_CW}/enqueue", content=alarm)
            assert refused.status_code == 400, refused.text
        (ignored,) = lines_of(entries, "nagios.notification_ignored")
        assert ignored["key"] == hidden(IN_NAGIOS)
        (topic,) = lines_of(entries, "sns.topic_refused")
        assert topic["key"] == hidden(IN_CW)
        assert_no_whole_key(entries, *IN_SECRETS)


async def test_integration_and_provisioning_lines_redact_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reload configures logging afresh; here it must leave the capture in place.
    monkeypatch.setattr(daemon_module.logs, "configure", lambda **_: None)
    async with gateway_running(tmp_path, IN_CONFIG) as gw:
        await gw.store.write(
            lambda tx: Tx.insert_token(
                tx, name="m", role="user", token_hash=hash_token(IN_TOKEN), last4=IN_TOKEN[-4:]
            )
        )
        auth = {**VERSION, "Authorization": f"Token token={IN_TOKEN}"}

        async def call(method: str, path: str, body: Any = None) -> Any:
            answer = await gw.client.request(method, path, headers=auth, json=body)
            assert answer.status_code in (200, 201, 204), answer.text
            return answer.json() if answer.content else None

        with captured() as entries:
            sid = (await call("POST", "/services", {"service": {"name": "Made"}}))["service"]["id"]
            body = {"integration": {"type": "events_api_v2_inbound_integration", "name": "m"}}
            made = (await call("POST", f"/services/{sid}/integrations", body))["integration"]
            path = f"/services/{sid}/integrations/{made['id']}"
            await call("PUT", path, {"integration": {"name": "renamed"}})
            other = (await call("GET", "/services?query=Elsewhere"))["services"][0]["id"]
            await call("PUT", f"{path}?confirm=true", {"integration": {"service": {"id": other}}})
            await call("DELETE", f"/services/{other}/integrations/{made['id']}")
            declared = await gw.store.read(lambda r: r.integration_by_key(IN_V2))
            assert declared is not None
            sid = declared.service_id
            await call("DELETE", f"/services/{sid}/integrations/{declared.id}")
            # A reload: the deleted key's block is skipped, and a block without a key gets one.
            settings_file = gw.running.context.settings.source
            assert settings_file is not None
            reloaded = config(
                *IN_SERVICES, service("Late", events_v2(IN_RELOADED), events_v2(None, "generated"))
            )
            settings_file.write_text(reloaded)
            assert await daemon_module.reload(gw.running)
            # And one that fails: its error names the block, not the key.
            settings_file.write_text(reloaded.replace(IN_DD, IN_RELOADED))
            assert not await daemon_module.reload(gw.running)
        secrets = (*IN_SECRETS, made["integration_key"])
        late = await gw.store.read(lambda r: r.service_by_name("Late"))
        assert late is not None
        keys = await gw.store.read(
            lambda r: {i.name: str(i.integration_key) for i in r.integrations(late.id)}
        )
        created = [e for e in lines_of(entries, "integration.created") if "key" in e]
        assert [e["key"] for e in created] == [
            hidden(made["integration_key"]),
            hidden(keys["v2"]),
            hidden(keys["generated"]),
        ]
        assert lines_of(entries, "integration.updated")
        assert lines_of(entries, "integration.moved")
        deleted = lines_of(entries, "integration.deleted")
        assert [e["key"] for e in deleted] == [hidden(made["integration_key"]), hidden(IN_V2)]
        (skipped,) = lines_of(entries, "config.integration_skipped")
        assert hidden(IN_V2) in skipped["reason"]
        at_reload = [e for e in lines_of(entries, "integration.created") if "integration" in e]
        assert [(e["integration"], e["integration_key"]) for e in at_reload] == [
            ("generated", hidden(keys["generated"]))
        ]
        lines_of(entries, "config.reload_failed")
        assert_no_whole_key(entries, *secrets, keys["generated"])


async def test_web_ui_lines_redact_keys_and_tokens(tmp_path: Path) -> None:
    observer = "ui-observer-token-0123456789"
    async with gateway_running(tmp_path, IN_CONFIG) as gw:
        await gw.store.write(
            lambda tx: Tx.insert_token(
                tx, name="o", role="observer", token_hash=hash_token(observer), last4=observer[-4:]
            )
        )
        http = gw.client
        with captured(redact_paths) as entries:
            page = await http.get("/ui/login")
            form = {"token": IN_UNKNOWN, "csrf_token": csrf_of(page.text)}
            assert (await http.post("/ui/login", data=form)).status_code == 401
            stale = await http.post(f"/ui/services/{IN_V2}/edit", data={"csrf_token": "stale"})
            assert stale.status_code == 400
            form = {"token": observer, "csrf_token": csrf_of((await http.get("/ui/login")).text)}
            assert (await http.post("/ui/login", data=form)).status_code == 303
            assert (await http.get(f"/ui/services/{IN_V2}/edit")).status_code == 403
        (failed,) = lines_of(entries, "ui.login_failed")
        assert failed["token"] == hidden(IN_UNKNOWN)
        (csrf,) = lines_of(entries, "ui.csrf_refused")
        assert csrf["path"] == f"/ui/services/{hidden(IN_V2)}/edit"
        (forbidden,) = lines_of(entries, "ui.forbidden")
        assert forbidden["path"] == f"/ui/services/{hidden(IN_V2)}/edit"
        assert_no_whole_key(entries, *IN_SECRETS, observer)


IN_MAIL, IN_MAIL_FILTERED = key("inproc-mail"), key("inproc-mail-filtered")
IN_MAIL_RULES = key("inproc-mail-rules")
MAIL_CONFIG = config(
    service(
        "Mail",
        email_integration("open", "open@alerts.example.com", IN_MAIL),
        email_integration(
            "filtered",
            "filtered@alerts.example.com",
            IN_MAIL_FILTERED,
            email_filter_mode="or-rules-email",
            email_filters=[{"from_email_mode": "match", "from_email_regex": "^nagios@"}],
        ),
        email_integration(
            "rules",
            "rules@alerts.example.com",
            IN_MAIL_RULES,
            email_incident_creation="use_rules",
            email_parsing_fallback="discard",
            email_parsers=[
                {
                    "action": "trigger",
                    "match_predicate": {
                        "type": "contains",
                        "part": "subject",
                        "matcher": "PROBLEM",
                    },
                    "value_extractors": [
                        {"type": "entire", "part": "subject", "value_name": "incident_key"}
                    ],
                }
            ],
        ),
    ),
    smtp={"listen": "127.0.0.1:0", "domain": "alerts.example.com"},
)


def _send_mail(port: int, recipients: list[str], subject: str, body: str) -> dict[str, Any]:
    message = EmailMessage()
    message["From"] = "someone@example.com"
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        return dict(smtp.send_message(message))


async def test_mail_lines_name_addresses_never_keys(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, MAIL_CONFIG) as gw:
        port = int(gw.running.smtp_binds[0].rsplit(":", 1)[1])
        secrets = (IN_MAIL, IN_MAIL_FILTERED, IN_MAIL_RULES)
        subject = f"DOWN: keys {IN_MAIL} {IN_MAIL_FILTERED} {IN_MAIL_RULES}"
        with captured() as entries:
            for rcpt in ("open", "filtered", "rules"):
                refused = await trio.to_thread.run_sync(
                    _send_mail,
                    port,
                    [f"{rcpt}@alerts.example.com", "nobody@alerts.example.com"],
                    subject,
                    f"body with the keys: {subject}",
                )
                assert list(refused) == ["nobody@alerts.example.com"]
        lines_of(entries, "smtp.recipient_unknown")
        lines_of(entries, "smtp.message_accepted")
        (filtered,) = lines_of(entries, "email.filtered")
        (discarded,) = lines_of(entries, "email.discarded")
        for line in (filtered, discarded):
            assert line["subject"] == f"DOWN: keys {' '.join(hidden(s) for s in secrets)}"
        assert_no_whole_key(entries, *secrets)
