"""A NUL (U+0000) in any REST, web UI or configuration input, on a daemon on PostgreSQL.

PostgreSQL's ``text`` cannot hold a NUL: before the rule each of these writes answered
500. Now each is a 400 naming the field, and the database is exactly as it was.
"""

from __future__ import annotations

import secrets
import smtplib
import socket
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from gateway.store.backend import backend_for
from gateway.store.offline import use_backend
from gateway.store.postgres import create_schema, drop_schema
from tests import pgserver
from tests.people_support import override_body, policy_body, schedule_body, user_body
from tests.rest_support import CONFIG, Api
from tests.scaffold import daemon_running

NUL = "\x00"


class PgApi(Api):
    """:class:`Api` on a daemon on PostgreSQL, with one object of each kind made by REST."""

    url: str
    ids: dict[str, str]

    def call(self, method: str, path: str, *, role: str | None = "user", **kw: Any) -> Any:
        """:meth:`Api.call` with a ``From`` header (incident and window writes need one)."""
        kw["headers"] = {"From": "nul@example.com", **kw.pop("headers", {})}
        return super().call(method, path, role=role, **kw)

    def made(self, method: str, path: str, body: dict[str, Any], root: str) -> str:
        r = self.call(method, path, role="admin", json=body)
        assert r.status_code in (200, 201), r.text
        made: Any = r.json()[root]
        made = made[0][root.rstrip("s")] if isinstance(made, list) else made
        return str(made["id"])

    def digest(self) -> dict[str, str]:
        """Each table's whole content, hashed (``api_tokens``' last use is left out: each
        call marks its token as used)."""
        out = {}
        with psycopg.connect(self.url) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY table_name"
            ).fetchall()
            for (table,) in tables:
                if table == "api_tokens":
                    continue
                rows = "coalesce(string_agg(t::text, ',' ORDER BY t::text), '')"
                row = conn.execute(f"SELECT count(*), md5({rows}) FROM {table} t").fetchone()
                out[table] = str(row)
        return out


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgApi]:
    """One daemon on a PostgreSQL schema of its own for the module, with real objects."""
    database = pgserver.session_database()
    schema = f"t_{secrets.token_hex(6)}"
    url = create_schema(database, schema)
    text = CONFIG.replace('[storage]\npath = "gw.db"', f'[storage]\npath = "gw.db"\nurl = "{url}"')
    assert url in text
    try:
        with daemon_running(tmp_path_factory.mktemp("nul"), text) as daemon:
            use_backend(backend_for(daemon.db_path, url=url))  # Api's tokens go to PostgreSQL
            api = PgApi(daemon)
            with api.http:
                api.url = url
                api.ids = _objects(api)
                yield api
    finally:
        drop_schema(database, schema)


def _objects(api: PgApi) -> dict[str, str]:
    ids: dict[str, str] = {}
    ids["sid"] = api.made("POST", "/services", {"service": {"name": "Nul"}}, "service")
    integration = {"integration": {"type": "events_api_v2_inbound_integration", "name": "v2"}}
    ids["iid"] = api.made(
        "POST", f"/services/{ids['sid']}/integrations", integration, "integration"
    )
    mail = {
        "type": "generic_email_inbound_integration",
        "name": "mail",
        "integration_email": "nul@gw.test",
        "email_incident_creation": "on_new_email_subject",
    }
    api.made("POST", f"/services/{ids['sid']}/integrations", {"integration": mail}, "integration")
    service = {"id": ids["sid"], "type": "service_reference"}
    incident = {"incident": {"type": "incident", "title": "by hand", "service": service}}
    ids["inc"] = api.made("POST", "/incidents", incident, "incident")
    window = {
        "maintenance_window": {
            "type": "maintenance_window",
            "start_time": "2099-01-01T00:00:00Z",
            "end_time": "2099-01-01T01:00:00Z",
            "services": [service],
        }
    }
    ids["mw"] = api.made("POST", "/maintenance_windows", window, "maintenance_window")
    ids["hid"] = api.made(
        "POST", "/webhook_subscriptions", _hook(ids["sid"]), "webhook_subscription"
    )
    ids["uid"] = api.made("POST", "/users", user_body("Nul Person", "nul@example.com"), "user")
    address = {"type": "email_contact_method", "label": "Work", "address": "w@example.com"}
    methods = f"/users/{ids['uid']}/contact_methods"
    ids["mid"] = api.made("POST", methods, {"contact_method": address}, "contact_method")
    rule = {
        "type": "assignment_notification_rule",
        "start_delay_in_minutes": 5,
        "urgency": "high",
        "contact_method": {"id": ids["mid"], "type": "email_contact_method_reference"},
    }
    rules = f"/users/{ids['uid']}/notification_rules"
    ids["rid"] = api.made("POST", rules, {"notification_rule": rule}, "notification_rule")
    ids["sched"] = api.made("POST", "/schedules", schedule_body(ids["uid"]), "schedule")
    ids["pid"] = api.made(
        "POST", "/escalation_policies", policy_body(ids["uid"], ids["sched"]), "escalation_policy"
    )
    return ids


def _hook(sid: str, **fields: Any) -> dict[str, Any]:
    method = {"type": "http_delivery_method", "url": "http://127.0.0.1:9/hook", **fields}
    return {
        "webhook_subscription": {
            "type": "webhook_subscription",
            "delivery_method": method,
            "events": ["incident.triggered"],
            "filter": {"type": "service_reference", "id": sid},
        }
    }


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``body`` with the field at dotted ``path`` (``[n]`` for a list item) set to ``value``."""
    import copy

    out = copy.deepcopy(body)
    node: Any = out
    parts = path.replace("[", ".[").split(".")
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    else:
        node[last] = value
    return out


def _cases() -> list[Any]:
    """(method, path, body, field): each writes a NUL into one text field of one object."""
    svc = {"service": {"name": "Svc"}}
    incident = {
        "incident": {
            "type": "incident",
            "title": "t",
            "service": {"id": "{sid}", "type": "service_reference"},
        }
    }
    window = {
        "maintenance_window": {
            "type": "maintenance_window",
            "start_time": "2099-02-01T00:00:00Z",
            "end_time": "2099-02-01T01:00:00Z",
            "services": [{"id": "{sid}", "type": "service_reference"}],
        }
    }
    address = {"type": "email_contact_method", "label": "Home", "address": "h@example.com"}
    rule = {
        "type": "assignment_notification_rule",
        "start_delay_in_minutes": 1,
        "urgency": "low",
        "contact_method": {"id": "{mid}", "type": "email_contact_method_reference"},
    }
    hook_value = {"custom_headers": [{"name": "X-A", "value": "v"}]}
    writes: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/services", svc, "service.name"),
        ("POST", "/services", svc, "service.description"),
        ("PUT", "/services/{sid}", svc, "service.name"),
        ("PUT", "/services/{sid}", svc, "service.description"),
        ("PUT", "/services/{sid}", svc, "service.alert_grouping"),
        (
            "POST",
            "/services/{sid}/integrations",
            {"integration": {"type": "x"}},
            "integration.name",
        ),
        ("POST", "/services/{sid}/integrations", {"integration": {}}, "integration.type"),
        ("PUT", "/services/{sid}/integrations/{iid}", {"integration": {}}, "integration.name"),
        ("POST", "/incidents", incident, "incident.title"),
        ("POST", "/incidents", incident, "incident.incident_key"),
        ("POST", "/incidents", incident, "incident.body.details"),
        ("PUT", "/incidents/{inc}", {"incident": {"type": "incident"}}, "incident.title"),
        ("PUT", "/incidents/{inc}", {"incident": {"type": "incident"}}, "incident.resolution"),
        ("PUT", "/incidents", {"incidents": [{"id": "{inc}"}]}, "incidents[0].status"),
        ("POST", "/incidents/{inc}/notes", {"note": {}}, "note.content"),
        ("POST", "/incidents/{inc}/snooze", {}, "duration"),
        ("POST", "/maintenance_windows", window, "maintenance_window.description"),
        (
            "PUT",
            "/maintenance_windows/{mw}",
            {"maintenance_window": {}},
            "maintenance_window.description",
        ),
        ("POST", "/webhook_subscriptions", _hook("{sid}"), "webhook_subscription.description"),
        (
            "POST",
            "/webhook_subscriptions",
            _hook("{sid}"),
            "webhook_subscription.delivery_method.url",
        ),
        (
            "POST",
            "/webhook_subscriptions",
            _hook("{sid}", **hook_value),
            "webhook_subscription.delivery_method.custom_headers[0].value",
        ),
        (
            "PUT",
            "/webhook_subscriptions/{hid}",
            {"webhook_subscription": {}},
            "webhook_subscription.description",
        ),
        ("POST", "/users", user_body("New One", "new@example.com"), "user.name"),
        ("POST", "/users", user_body("New One", "new@example.com"), "user.email"),
        ("POST", "/users", user_body("New One", "new@example.com"), "user.job_title"),
        ("POST", "/users", user_body("New One", "new@example.com"), "user.description"),
        ("POST", "/users", user_body("New One", "new@example.com"), "user.time_zone"),
        ("PUT", "/users/{uid}", {"user": {}}, "user.name"),
        ("PUT", "/users/{uid}", {"user": {}}, "user.job_title"),
        (
            "POST",
            "/users/{uid}/contact_methods",
            {"contact_method": address},
            "contact_method.label",
        ),
        (
            "POST",
            "/users/{uid}/contact_methods",
            {"contact_method": address},
            "contact_method.address",
        ),
        (
            "PUT",
            "/users/{uid}/contact_methods/{mid}",
            {"contact_method": {}},
            "contact_method.label",
        ),
        (
            "POST",
            "/users/{uid}/notification_rules",
            {"notification_rule": rule},
            "notification_rule.urgency",
        ),
        (
            "PUT",
            "/users/{uid}/notification_rules/{rid}",
            {"notification_rule": {}},
            "notification_rule.urgency",
        ),
        ("POST", "/schedules", schedule_body("{uid}", "New"), "schedule.name"),
        ("POST", "/schedules", schedule_body("{uid}", "New"), "schedule.description"),
        ("POST", "/schedules", schedule_body("{uid}", "New"), "schedule.schedule_layers[0].name"),
        ("PUT", "/schedules/{sched}", schedule_body("{uid}", "Walked"), "schedule.name"),
        ("POST", "/schedules/{sched}/overrides", override_body("{uid}"), "overrides[0].user.id"),
        (
            "POST",
            "/escalation_policies",
            policy_body("{uid}", "{sched}", "New"),
            "escalation_policy.name",
        ),
        (
            "POST",
            "/escalation_policies",
            policy_body("{uid}", "{sched}", "New"),
            "escalation_policy.description",
        ),
        (
            "PUT",
            "/escalation_policies/{pid}",
            policy_body("{uid}", "{sched}"),
            "escalation_policy.description",
        ),
    ]
    return [pytest.param(m, p, b, f, id=f"{m} {p} {f}") for m, p, b, f in writes]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with each ``"{name}"`` string replaced by that object's id."""
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, str):
        return value.format(**ids) if value.startswith("{") or "/{" in value else value
    return value


def _refused(pg: PgApi, answer: Any, field: str) -> None:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == 2001, error
    assert f"'{field}' must not contain a NUL character (U+0000)" in error["errors"], error


@pytest.mark.slow  # a real daemon process on PostgreSQL
@pytest.mark.parametrize(("method", "path", "body", "field"), _cases())
def test_nul_in_a_rest_field_is_a_400_naming_it_and_changes_nothing(
    pg: PgApi, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    before = pg.digest()
    sent = _with(_fill(body, pg.ids), field, f"a{NUL}b")
    answer = pg.call(method, path.format(**pg.ids), role="admin", json=sent)
    _refused(pg, answer, field)
    assert pg.digest() == before


@pytest.mark.slow  # a real daemon process on PostgreSQL
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/services/P%00", "path"),
        ("/incidents/1%00/notes", "path"),
        ("/incidents?incident_key=a%00", "incident_key"),
        ("/users?query=a%00", "query"),
        ("/ui/services/P%00", "path"),
    ],
)
def test_nul_in_a_path_or_query_is_a_400_naming_it(pg: PgApi, path: str, field: str) -> None:
    answer = pg.call("GET", path, role="admin")
    assert answer.status_code == 400, answer.text
    message = f"'{field}' must not contain a NUL character (U+0000)"
    if path.startswith("/ui/"):
        assert message.replace("'", "&#39;") in answer.text
    else:
        _refused(pg, answer, field)


@pytest.mark.slow  # a real daemon process on PostgreSQL
def test_nul_in_a_ui_form_is_a_400_naming_it_and_changes_nothing(pg: PgApi) -> None:
    before = pg.digest()
    answer = pg.http.post("/ui/login", data={"token": f"a{NUL}b", "csrf_token": "x"})
    assert answer.status_code == 400, answer.text
    assert "&#39;token&#39; must not contain a NUL character (U+0000)" in answer.text
    assert pg.digest() == before


@pytest.mark.slow  # a real daemon process on PostgreSQL
def test_nul_in_a_header_is_refused_never_a_500(pg: PgApi) -> None:
    # The HTTP server (h11) refuses it before the application: this guards that it stays so.
    host, port = pg.daemon.base_url.removeprefix("http://").rsplit(":", 1)
    for name in ("X-Anything", "From", "Authorization"):
        request = (
            f"PUT /incidents/{pg.ids['inc']} HTTP/1.1\r\nHost: gw\r\n{name}: a{NUL}b@example.com"
            "\r\nContent-Length: 2\r\n\r\n{}"
        )
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(request.encode())
            status = conn.recv(4096).split(b"\r\n", 1)[0]
        assert status.startswith(b"HTTP/1.1 400"), (name, status)


def _smtp(pg: PgApi) -> smtplib.SMTP:
    host, port = pg.daemon.smtp[0].rsplit(":", 1)
    return smtplib.SMTP(host.removeprefix("smtp://"), int(port), timeout=10)


@pytest.mark.slow  # a real daemon process on PostgreSQL, real SMTP
def test_nul_in_a_recipient_address_is_an_unknown_address(pg: PgApi) -> None:
    with _smtp(pg) as smtp:
        smtp.ehlo()
        smtp.mail("printer@example.com")
        code, _ = smtp.rcpt(f"n{NUL}ul@gw.test")
        assert code == 550
        code, _ = smtp.rcpt("nul@gw.test")  # the session goes on
        assert code == 250


@pytest.mark.slow  # a real daemon process on PostgreSQL, real SMTP
def test_nul_in_a_mail_is_stored_as_fffd(pg: PgApi) -> None:
    mail = (
        "From: printer@example.com\r\nTo: nul@gw.test\r\n"
        f"Subject: Toner{NUL}low\r\n\r\nToner at{NUL}3%.\r\n"
    )
    with _smtp(pg) as smtp:
        assert smtp.sendmail("printer@example.com", ["nul@gw.test"], mail.encode()) == {}
    with psycopg.connect(pg.url) as conn:
        titles = conn.execute("SELECT title FROM incidents WHERE title LIKE 'Toner%'").fetchall()
    assert titles == [("Toner\ufffdlow",)]


def test_nul_in_the_configuration_file_is_refused_naming_key_and_line() -> None:
    from gateway.config import parse_settings
    from gateway.errors import ConfigError

    text = '[[services]]\nname = "Web"\ndescription = "a\\u0000b"\n'
    with pytest.raises(ConfigError, match="NUL character") as caught:
        parse_settings(text)
    assert caught.value.key == "services[0].description" and caught.value.line == 3
