"""The store's seam: aggregate modules reach the database only through ``Database``.

Also: the SQL that crosses the seam keeps the conventions ``gateway/store/seam.py``
promises a second backend (qmark parameters only, none of SQLite's own dialect), and
the incident orderings cannot drift from ``gateway.domain.INCIDENT_SORT_FIELDS``.
"""

from __future__ import annotations

import ast
import inspect
import re
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import gateway.store
from gateway import domain
from gateway.clock import FakeClock
from gateway.domain import EscalationTarget
from gateway.store import Tx, open_sync, queries
from gateway.store.account_log import OVERVIEW_TYPES
from gateway.store.incident_lists import INCIDENT_ORDER, order_table
from gateway.store.postgres import PostgresDatabase, begin_write, dialect
from gateway.store.seam import Database, Params, Row
from gateway.store.sqlite import SqliteDatabase
from tests.conftest import StoreTarget

STORE = Path(gateway.store.__file__).parent
#: The modules holding the aggregates' SQL, and what they share.
AGGREGATES = (
    "base",
    "services",
    "maintenance",
    "incidents",
    "incident_lists",
    "timeline",
    "tokens",
)
SEAM_METHODS = {
    "execute",
    "execute_many",
    "fetch_one",
    "fetch_all",
    "fetch_value",
    "try_insert",
    "skip_locked",
}
DRIVER_METHODS = {"executemany", "executescript", "fetchone", "fetchall", "fetchmany", "cursor"}
# SQL a second backend would have to rewrite; none of it may cross the seam.
SQLITE_ONLY = re.compile(
    r"INSERT OR|ON CONFLICT|RETURNING|\bjson_|strftime|julianday|datetime\(|\browid\b"
    r"|total_changes|changes\(\)|last_insert_rowid|\bGLOB\b|\bifnull\b|\bPRAGMA\b"
    # Unary plus on text (SQLite's index-off idiom; PostgreSQL has no ``+ text``: use
    # ``col || ''``), and a subquery in FROM without an alias (PostgreSQL needs one).
    r"|\+[a-z_]+(\.[a-z_]+)? IN\b|LIMIT -1|FROM \(SELECT [^()]*\)\s*$",
    re.IGNORECASE,
)


def _tree(name: str) -> ast.Module:
    return ast.parse((STORE / f"{name}.py").read_text(), filename=f"{name}.py")


@pytest.mark.parametrize("name", AGGREGATES)
def test_aggregate_modules_know_no_driver(name: str) -> None:
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] != "sqlite3" for a in node.names), name
        if isinstance(node, ast.ImportFrom):
            assert node.module not in {"sqlite3", "gateway.store.sqlite"}, name
        if isinstance(node, ast.Attribute):
            assert node.attr != "conn", f"{name}.py:{node.lineno} uses the raw connection"


@pytest.mark.parametrize("name", AGGREGATES)
def test_every_statement_goes_through_self_db(name: str) -> None:
    for node in ast.walk(_tree(name)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func
        assert method.attr not in DRIVER_METHODS, f"{name}.py:{node.lineno} calls the driver"
        if method.attr in SEAM_METHODS:
            target = method.value
            assert (
                isinstance(target, ast.Attribute)
                and target.attr == "_db"
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ), f"{name}.py:{node.lineno} runs SQL on something other than self._db"


def test_sqlite_database_is_exactly_the_protocol() -> None:
    def public(cls: type) -> set[str]:
        return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}

    assert public(SqliteDatabase) == public(Database) == SEAM_METHODS


def test_incident_orderings_are_the_domains_sort_fields() -> None:
    assert tuple(INCIDENT_ORDER) == domain.INCIDENT_SORT_FIELDS
    assert queries.INCIDENT_ORDER is INCIDENT_ORDER


def test_a_sort_field_without_sql_or_sql_without_a_field_refuses_to_load() -> None:
    sql = {"incident_number": "number", "urgency": "urgency"}
    assert order_table(("urgency", "incident_number"), sql) == {
        "urgency": "urgency",
        "incident_number": "number",
    }
    with pytest.raises(LookupError, match="no SQL for \\['title'\\]"):
        order_table(("incident_number", "urgency", "title"), sql)
    with pytest.raises(LookupError, match="SQL for unknown \\['urgency'\\]"):
        order_table(("incident_number",), sql)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_sync(tmp_path / "seam.db")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_try_insert_reports_only_the_named_clash(conn: sqlite3.Connection) -> None:
    db = SqliteDatabase(conn)
    insert = "INSERT INTO api_tokens (id, name, role, token_hash, last4, created_at) "
    insert += "VALUES (?, ?, ?, ?, ?, ?)"
    assert db.try_insert(insert, ("T1", "a", "admin", "h1", "0001", "x"), unique="api_tokens.id")
    again = ("T1", "b", "admin", "h2", "0002", "x")
    assert not db.try_insert(insert, again, unique="api_tokens.id")
    other = ("T2", "c", "admin", "h1", "0003", "x")  # a different unique column clashes
    with pytest.raises(sqlite3.IntegrityError, match="token_hash"):
        db.try_insert(insert, other, unique="api_tokens.id")
    # The refused statements undid only themselves.
    assert db.fetch_all("SELECT id FROM api_tokens") == [("T1",)]
    assert db.fetch_value("SELECT count(*) FROM api_tokens WHERE id = ?", ("T9",)) == 0
    assert db.fetch_one("SELECT id FROM api_tokens WHERE id = ?", ("T9",)) is None
    assert db.execute("UPDATE api_tokens SET name = ? WHERE id = ?", ("z", "T1")) == 1


class _Calls:
    """A Tx that notes which public methods a test called."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.called: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.called.add(name)
        return getattr(self.tx, name)


def _workload(t: Any) -> None:
    """Every public Reader/Tx method at least once, on one service's life."""
    start, end = "2026-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z"
    svc = t.insert_service(name="Seam")
    t.update_service(svc.id, description="seam test")
    assert t.service(svc.id) and t.service_by_name("Seam") and t.services()
    assert t.service_names() == [(svc.id, "Seam")] and t.services_by_ids([svc.id, "PNONE"])
    integ = t.insert_integration(
        service_id=svc.id,
        name="v2",
        type=domain.EVENTS_API_V2,
        vendor_id=None,
        integration_key="k" * 32,
        integration_email="seam@example.com",
    )
    t.update_integration(integ.id, settings={"rules": []})
    assert t.integration_by_key("k" * 32) and t.integration(integ.id) and t.integrations(svc.id)
    assert t.integration_by_email("SEAM@example.com")
    t.set_declared("services", [svc.id])
    t.set_declared("integrations", [integ.id])
    assert t.declared("services", svc.id) and t.declared("integrations", integ.id)
    window = t.insert_maintenance_window("w", start, end, [svc.id], created_by="me")
    t.update_maintenance_window(window, service_ids=[svc.id, svc.id], description="w2")
    assert t.maintenance_window(window) and t.maintenance_windows(source="api")
    assert t.in_maintenance(svc.id, t.now) and t.services_in_maintenance(t.now) == {svc.id}
    assert t.route("k" * 32, t.now)[2] is True
    assert t.routed(integ.id)[0].id == integ.id and t.routed("PNONE") is None
    t.replace_config_windows([("c", start, end, [svc.id])])
    assert t.delete_maintenance_window(window)

    inc = t.insert_incident(
        service=svc, integration_id=integ.id, title="t", urgency="high", incident_key="dk"
    )
    alert = t.insert_alert(
        incident=inc,
        integration_id=integ.id,
        alert_key="dk",
        severity="error",
        summary="s",
        body={},
    )
    t.refresh_alert(alert, severity="critical", summary="s2", body={"b": 1})
    assert t.open_alert(integ.id, "dk") and t.open_alert_count(inc.id) == 1 and t.alerts(inc.id)
    assert t.incident(inc.id) and t.incident_by_number(inc.number)
    assert t.open_incident_on_service(svc.id, "dk")
    assert t.open_incident_by_key(integ.id, "dk")
    assert t.grouping_incident(svc.id, "g", start) is None
    t.touch_incident(inc.id)
    t.set_incident_status(inc, "acknowledged", "acknowledge")
    assert t.incidents(service_id=svc.id, status="acknowledged")
    found, more, total = t.search_incidents(
        statuses=["acknowledged"],
        service_ids=[svc.id],
        urgencies=["high"],
        incident_key="dk",
        since=start,
        until=end,
        order=[(name, True) for name in domain.INCIDENT_SORT_FIELDS],
        count=True,
    )
    assert total == 1 and found[0].id == inc.id and not more
    # GET /incidents?user_ids[]=: open incidents held by any of the users.
    t.replace_incident_assignments(inc.id, ["PU3"])
    assert [i.id for i in t.search_incidents(user_ids=["PU3", "PU4"])[0]] == [inc.id]
    assert t.search_incidents(user_ids=["PU4"])[0] == []
    t.replace_incident_assignments(inc.id, [])
    assert t.alert_counts([inc.id]) == {inc.id: (1, 0)}
    assert (
        t.open_incident_statuses()
        == t.open_incident_statuses([svc.id])
        == {svc.id: {"acknowledged"}}
    )
    assert t.open_incident_counts() == [("Seam", "acknowledged", 1)]
    assert t.open_incident_counts_by_service() == {svc.id: {"acknowledged": 1}}
    t.resolve_alert(alert)

    entry = t.insert_log_entry(
        "trigger_log_entry",
        service_id=svc.id,
        integration_id=integ.id,
        incident_id=inc.id,
        details={"d": 1},
    )
    assert t.log_entry(entry) and t.first_log_entry(inc.id, "trigger_log_entry")
    # What this job wrote is served from memory, equal to the table's answer.
    assert t.job_log_entry(inc.id, "trigger_log_entry", first=True) == t.log_entry(entry)
    assert t.job_log_entry(inc.id, "trigger_log_entry", first=False) == t.log_entry(entry)
    assert t.job_log_entry(inc.id, "resolve_log_entry", first=True) is None
    assert t.job_log_entry(inc.id, "resolve_log_entry", first=False) is None
    assert t.latest_log_entry(inc.id, "trigger_log_entry") == t.log_entry(entry)
    assert t.edge_log_entries([inc.id, "QNONE"], "trigger_log_entry") == {
        inc.id: t.first_log_entry(inc.id, "trigger_log_entry")
    }
    assert t.edge_log_entries([inc.id], "trigger_log_entry", newest=True) == {
        inc.id: t.log_entry(entry)
    }
    assert t.edge_log_entries([], "trigger_log_entry") == {}
    assert t.log_entries(incident_id=inc.id) == t.log_entries(service_id=svc.id)
    assert t.incident_log_page(inc.id, limit=5) == t.log_entries(incident_id=inc.id)
    assert t.incident_log_page(inc.id, limit=5, offset=1, newest_first=True) == []
    assert t.count_incident_log_entries(inc.id) == 1
    assert t.account_log_page(since=start, until=end, types=("trigger_log_entry",), limit=5)
    assert t.count_account_log_entries(since=None, until=None) >= 1
    overview = t.count_account_log_entries(since=None, until=None, types=OVERVIEW_TYPES)
    assert overview == t.count_account_log_entries(since=start, until=None, types=OVERVIEW_TYPES)
    assert t.suppressed_log(svc.id, since=start, limit=5) == []
    assert t.count_suppressed(svc.id, since=start, at_most=10) == 0
    assert t.service_name(svc.id) == "Seam"
    assert t.has_log_entries(inc.id, 1) and not t.has_log_entries(inc.id, 2)
    assert t.count_incident_log_entries(inc.id, type="trigger_log_entry", at_most=1) == 1
    (last,) = t.last_log_entries(inc.id, "trigger_log_entry", 3)
    t.set_log_entry_details(last.id, {"d": 2})
    assert t.log_entry(entry).details == {"d": 2}
    t.insert_change_event(service_id=svc.id, integration_id=integ.id, summary="c", body={})
    note = t.insert_notification(
        type="email_notification", address="a@example.com", user_id="PU", user_name="A",
        contact_method_id="PC", contact_method_type="email_contact_method",
        incident_id=inc.id, service_id=svc.id, log_entry_id=entry, message_id=None,
    )  # fmt: skip
    (listed,) = t.notifications_page(since=start, until=end, types=["email_notification"], limit=5)
    assert listed.id == note and t.incident_notifications(inc.id) == [listed]
    assert t.count_notifications(since=start, until=end) == 1

    token = t.insert_token(name="n", role="admin", token_hash="h" * 64, last4="abcd")
    assert t.token_by_hash("h" * 64) and t.revoke_token(token.id)
    assert t.tokens() == [] and t.tokens(include_revoked=True)
    assert t.token(token.id) == t.tokens(include_revoked=True)[0]

    person = t.insert_user(
        name="Seam Person", email="Seam@Example.com", time_zone="Etc/UTC", role="user",
        description=None, job_title=None,
    )  # fmt: skip
    t.update_user(person.id, email="seam.person@example.com", job_title="t")
    assert t.user(person.id) and t.user_by_email("SEAM.PERSON@example.com")
    assert t.users() == t.users(ids=[person.id]) and t.live_user_ids([person.id, "PNONE"])
    method = t.insert_contact_method(
        user_id=person.id, type="email_contact_method", label="w", address="a@example.com"
    )
    t.update_contact_method(method.id, label="Work")
    assert t.contact_method(method.id) and t.contact_methods(person.id)
    rule = t.insert_notification_rule(
        user_id=person.id, contact_method_id=method.id, start_delay_in_minutes=0, urgency="high"
    )
    t.update_notification_rule(rule.id, start_delay_in_minutes=5)
    assert t.notification_rule(rule.id) and t.notification_rules(person.id, urgency="high")
    assert t.rules_using(method.id) == t.notification_rules(person.id)
    assert t.contact_counts([person.id, "PNONE"]) == {person.id: (1, 1), "PNONE": (0, 0)}
    assert t.contact_details([person.id, "PNONE"]) == {
        person.id: (t.contact_methods(person.id), t.notification_rules(person.id)),
        "PNONE": ([], []),
    }
    assert t.contact_details([]) == {}
    assert t.users_by_id([person.id, "PNONE"]) == {person.id: t.user(person.id)}
    plans = t.notification_plans([person.id], "high")
    assert [(r.id, m and m.id) for r, m in plans[person.id]] == [(rule.id, method.id)]
    assert t.notified_incidents([inc.id])[inc.id][0] == inc.number
    linked = t.insert_token(
        name="p", role="user", token_hash="p" * 64, last4="pppp", user_id=person.id
    )
    assert t.set_token_user(linked.id, None) and t.set_token_user(linked.id, person.id)
    t.set_declared_people([person.id], [method.id], [rule.id])
    assert t.user(person.id).source == t.contact_method(method.id).source == "config"
    t.set_declared_people([], [], [])
    assert t.notification_rule(rule.id).source == "api"
    t.delete_notification_rule(rule.id)
    t.delete_contact_method(method.id)
    t.delete_user(person.id)
    assert t.user(person.id) is None and t.user(person.id, deleted=True)
    assert t.token(linked.id).user_id is None

    user = t.insert_token(name="ui", role="user", token_hash="u" * 64, last4="uuuu")
    t.insert_ui_session("s" * 64, user.id)
    assert t.ui_session("s" * 64) is not None
    t.touch_ui_session("s" * 64)
    assert t.end_ui_session("s" * 64) == user.id and t.ui_session("s" * 64) is None
    assert t.end_token_sessions(user.id) == 0
    assert t.purge_ui_sessions("2100-01-01T00:00:00.000Z") == 1

    target = domain.ForwardTarget("FSEAM01", "https://up.example", "r" * 32)
    forwarding = domain.ServiceForwarding(svc.id, (target,), True, False)
    t.put_service_forwarding(forwarding)
    assert t.service_forwarding(svc.id) == forwarding and t.services_forwarding() == [forwarding]
    assert t.forward_entries(["FSEAM01"], ["pending", "failed"], limit=10) == []

    other = t.insert_service(name="Other")
    assert t.move_integration(integ.id, other.id) == (1, 1)
    assert t.delete_integration(integ.id) and t.deleted_integration(integ.id)
    t.key_deleted_at("k" * 32)  # the digest is the core's to record; only the SQL matters
    assert t.deleted_declared_integration(other.id, "v2") is not None
    assert t.delete_service(other.id) == []
    assert t.deleted_service(other.id) is not None and t.service(other.id) is None

    # Retention: the incident is resolved; a later one makes it prunable (the newest stays).
    t.set_incident_status(t.incident(inc.id), "resolved", "resolve")
    t.insert_incident(service=svc, integration_id=None, title="n", urgency="low", incident_key=None)
    later = "2100-01-01T00:00:00.000Z"
    assert t.expired_incidents(later, 10) == [inc.id]
    assert t.count_expired(later) == (1, 1, 1)
    assert t.count_suppressed_before(later) == 0 and t.count_change_events_before(later) == 1
    assert t.delete_suppressed_before(later, 10) == 0
    assert t.delete_change_events_before(later, 10) == 1
    assert t.delete_incident_log_entries(inc.id, 10) == 1
    assert t.delete_incident_notifications(inc.id) == 1
    assert t.delete_resolved_incident(inc.id) == 0  # its alert still refers to it
    assert t.delete_incident_alerts(inc.id, 10) == 1
    assert t.delete_resolved_incident(inc.id) == 1
    assert all(t.count(table) >= 0 for table in queries.TABLES)

    # The outbox: enqueue, claim, attempt, reschedule or settle, operators, retention.
    put = {"kind": "k", "destination": "d", "order_key": "o", "headers": {}}
    first = t.insert_outbox_message(body=b"x", **put)
    second = t.insert_outbox_message(body=b"y", **put)
    assert t.outbox_pending_count("k", "d", up_to=5) == 2 and t.outbox_next_due(["k"])
    assert [row[0] for row in t.outbox_due(["k"], now=t.now, limit=5)] == [first]
    assert t.outbox_due(["k"], now=t.now, limit=5, busy=[("k", "d")]) == []
    # Deliveries yielding to ingest claim only what was due long enough ago.
    assert t.outbox_due(["k"], now=t.now, limit=5, due_by="2000-01-01T00:00:00.000Z") == []
    message = t.claim_outbox_message(first, node="n", lease_until=later)
    assert message is not None and t.outbox_body(first) == message
    t.record_outbox_attempt(
        first, duration_ms=1, status_code=500, error="e", outcome="retry", node="n"
    )
    assert t.reschedule_outbox_message(first, due_at=start, error="e", node="n")
    assert t.claim_outbox_message(first, node="n", lease_until=later) is not None
    assert t.release_outbox_claims("n") == 1
    assert t.claim_outbox_message(first, node="n", lease_until=later) is not None
    assert t.finish_outbox_message(first, state="delivered", error=None, node="n")
    third = t.insert_outbox_message(body=b"z", **put)
    with t.outbox_savepoint():
        claimed = t.claim_outbox_messages([third, first], node="n", lease_until=later)
    assert [m.id for m in claimed] == [third]  # the delivered one is no longer claimable
    assert t.finish_outbox_message(third, state="delivered", error=None, node="n")
    assert t.outbox_attempts(first) and t.outbox_entry(first)
    assert t.outbox_entries(kind="k", destination="d", states=["pending"], after="M")
    assert t.outbox_depths() and t.count_outbox_delivered_before(later) == 2
    assert t.finish_outbox_message(second, state="failed", error="e", node=None)
    assert t.requeue_outbox_message(second) and t.delete_outbox_message(second)
    assert t.prune_outbox(later, 10) == 2

    # Webhook subscriptions: CRUD, the producer's lookup, drops in a row, deliveries.
    sched = t.insert_schedule(name="Seam", description=None, time_zone="UTC")
    t.update_schedule_row(sched.id, description="d")
    layer = {
        "name": "l",
        "start": start,
        "end": None,
        "rotation_virtual_start": start,
        "rotation_turn_length_seconds": 3600,
        "users": ["PUSER1"],
        "restrictions": [],
    }
    t.replace_schedule_layers(sched.id, [layer])
    assert t.schedule(sched.id) and t.schedules() and t.schedules_by_name("Seam")
    assert t.schedule_layers([sched.id])[0].users == ["PUSER1"]
    over = t.insert_schedule_override(sched.id, user_id="PUSER2", start=start, end=end)
    assert t.schedule_override(sched.id, over.id) == over
    assert t.schedule_overrides(sched.id, since=start, until=end) == [over]
    assert t.user_override_schedule_ids("PUSER2", start) == [sched.id]
    assert t.delete_schedule_override(sched.id, over.id)
    t.set_declared_schedules({sched.id})
    t.delete_schedule_row(sched.id)
    assert t.schedule(sched.id) is None

    hook = t.insert_webhook(
        url="http://h/", events=["incident.triggered"], filter_type="service_reference",
        filter_id=svc.id, custom_headers=[("X-A", "b")], secret="s" * 16, name="n",
    )  # fmt: skip
    assert t.webhook(hook.id) == hook and t.webhook_by_name("n") == hook
    assert t.webhooks(filter_type="service_reference", filter_id=svc.id) == [hook]
    assert t.live_webhooks([svc.id]) == [hook] and t.live_webhooks([]) == []
    t.update_webhook(hook.id, description="d", events=["service.updated"])
    assert not t.count_webhook_drop(hook.id, limit=2) and t.count_webhook_drop(hook.id, limit=2)
    t.reset_webhook_drops(hook.id)
    t.set_declared_webhooks([hook.id])
    assert t.webhook_deliveries("webhook", hook.id, states=["pending"], limit=5) == []
    assert t.delete_webhook(hook.id) and t.webhook(hook.id) is None
    # escalation policies: a policy with two rules, read whole, then the service's references
    t.insert_escalation_policy("PEPSEAM", name="Seam policy", num_loops=1)
    user, sched = EscalationTarget("user", "PU1"), EscalationTarget("schedule", "PS1")
    t.replace_escalation_rules(
        "PEPSEAM", [("PR1", 5, "assign_to_everyone", [user]), ("PR2", 10, "round_robin", [sched])]
    )
    t.update_escalation_policy("PEPSEAM", description="d")
    policy = t.escalation_policy("PEPSEAM")
    assert policy and [r.targets for r in policy.rules] == [(user,), (sched,)]
    assert t.policy_has_levels("PEPSEAM") and not t.policy_has_levels("PNOSUCH")
    assert t.escalation_policy_by_name("Seam policy") == policy
    assert t.escalation_policies(target_ids=["PU1"]) == [policy]
    assert ("PEPSEAM", "Seam policy") in t.escalation_policy_names()
    assert t.policies_targeting("schedule", "PS1") == [("PEPSEAM", "Seam policy")]
    t.update_service(svc.id, escalation_policy_id="PEPSEAM")
    assert t.policy_services(["PEPSEAM"]) == {"PEPSEAM": [(svc.id, "Seam")]}
    t.set_service_policy_declared(svc.id, True)
    assert t.service_policy_declared(svc.id)
    t.set_declared_policies(["PEPSEAM"])
    t.update_service(svc.id, escalation_policy_id="PDEFALT")
    t.delete_escalation_policy("PEPSEAM")
    assert t.escalation_policy("PEPSEAM") is None

    # Durable timers: schedule, what is due, claims (leases), cancel, fire, release.
    soon, late = "2026-01-01T00:00:00.000Z", "2098-01-01T00:00:00.000Z"
    t1 = t.insert_timer(kind="k", incident_id=inc.id, due_at=soon, payload={"a": 1})
    t2 = t.insert_timer(kind="k2", incident_id=inc.id, due_at=late, payload={})
    assert (
        t.timers_next_due(["k", "k2"], now=t.now) == soon
        and t.timers_next_due([], now=t.now) is None
    )
    assert (
        t.timers_due(["k"], now=t.now, limit=5) == [t1]
        and t.timers_due([], now=t.now, limit=1) == []
    )
    assert [x.id for x in t.incident_timers(inc.id)] == [t1, t2]
    assert t.timer_counts() == [("k", 1), ("k2", 1)]
    assert t.service_timeouts(svc.id) == (0, 0) and t.service_timeouts("PNONE") == (0, 0)
    assert t.any_timer() and inc.id not in [row[0] for row in t.open_incidents_without_timers()]
    assert [x.payload for x in t.claim_timers([t1], node="n", lease_until=late)] == [{"a": 1}]
    assert t.claim_timers([], node="n", lease_until=late) == []
    t.count_timer_failure(t1)
    assert t.release_timer_claims("n") == 1
    assert t.delete_timer(t1) and t.delete_incident_timers(inc.id, ["k2"]) == 1
    assert t.delete_incident_timers(inc.id) == 0

    # The escalation engine: assignees, the incident's level, a round-robin rule's turn.
    t.replace_incident_assignments(inc.id, ["PU1", "PU2", "PU1"])
    assert [u for u, _, _ in t.incident_assignees([inc.id])[inc.id]] == ["PU1", "PU2"]
    assert isinstance(t.incident_policy_refs([inc.id]), dict)  # its service is deleted by now
    assert t.incident_policy_refs([]) == {}
    assert t.incident_assignees([]) == {} and t.assigned_incident_ids(["PU2"]) == [inc.id]
    assert t.assigned_incident_ids([]) == []
    t.set_incident_escalation(inc.id, "PEP1", 1, 0, fresh=True)
    t.set_incident_escalation(inc.id, "PEP1", 2, 1)
    assert t.incident_escalation(inc.id) == ("PEP1", 2, 1) and t.incident_escalation("PX") is None
    assert t.incident_escalations([inc.id]) == {inc.id: ("PEP1", 2, 1)}
    assert t.incident_escalations([]) == {}
    assert t.rule_turn("PR1") == 0
    t.set_rule_turn("PR1", 1)
    t.set_rule_turn("PR1", 2)
    assert t.rule_turn("PR1") == 2
    # PU1 and PU2 are no users: no rules. The upgrade's list is empty on a new database.
    assert t.assignee_rules(inc.id, "status_change_notification_rule") == []
    assert t.escalation_backfill(10) == [] and t.forget_escalation_backfill(inc.id) is False
    t.delete_incident_escalation(inc.id)
    assert t.incident_escalation(inc.id) is None and t.incident_assignees([inc.id]) == {}
    # Shared secrets: the first value stays; a second insert changes nothing.
    assert t.shared_secret("k") is None
    assert t.insert_shared_secret("k", "one") is True
    assert t.insert_shared_secret("k", "two") is False
    assert t.shared_secret("k") == "one"


def test_the_sql_that_crosses_the_seam_is_portable(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, list[Params]]] = []

    class Recording(SqliteDatabase):
        __slots__ = ()

        def execute(self, sql: str, params: Params = ()) -> int:
            seen.append((sql, [params]))
            return super().execute(sql, params)

        def execute_many(self, sql: str, rows: Iterable[Params]) -> None:
            rows = list(rows)
            seen.append((sql, rows))
            super().execute_many(sql, rows)

        def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
            seen.append((sql, [params]))
            return super().fetch_one(sql, params)

        def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
            seen.append((sql, [params]))
            return super().fetch_all(sql, params)

        def fetch_value(self, sql: str, params: Params = ()) -> Any:
            seen.append((sql, [params]))
            return super().fetch_value(sql, params)

        def try_insert(self, sql: str, params: Params, *, unique: str) -> bool:
            seen.append((sql, [params]))
            return super().try_insert(sql, params, unique=unique)

    monkeypatch.setattr(queries, "SqliteDatabase", Recording)
    calls = _Calls(Tx(conn, FakeClock()))
    _workload(calls)

    public = {n for n in dir(Tx) if not n.startswith("_") and callable(getattr(Tx, n))}
    assert public - calls.called == set(), "add the new methods to _workload"
    assert len(seen) > 50
    for sql, rows in seen:
        assert "%" not in sql, sql
        assert not SQLITE_ONLY.search(sql), sql
        for params in rows:
            assert sql.count("?") == len(params), sql


def test_open_incidents_sort_before_resolved_ones_by_resolved_at(conn: sqlite3.Connection) -> None:
    tx = Tx(conn, FakeClock())
    svc = tx.insert_service(name="Order")
    first, second, third = (
        tx.insert_incident(
            service=svc, integration_id=None, title=t, urgency="low", incident_key=None
        )
        for t in "abc"
    )
    tx.set_incident_status(second, "resolved", "resolve")

    def numbers(desc: bool) -> list[int]:
        found, _, _ = tx.search_incidents(order=[("resolved_at", desc)])
        return [i.number for i in found]

    assert numbers(desc=False) == [first.number, third.number, second.number]
    # Ties (both open) break by number in the sort's own direction, so one index serves it.
    assert numbers(desc=True) == [second.number, third.number, first.number]


def test_the_store_still_exports_what_callers_import() -> None:
    assert {"SCHEMA_VERSION", "BatchStats", "Reader", "Store", "Tx", "connect"} <= set(
        gateway.store.__all__
    )
    assert gateway.store.open_sync is open_sync
    assert gateway.store.Reader is queries.Reader and gateway.store.Tx is queries.Tx
    assert queries.loads(queries.dumps({"a": [1]})) == {"a": [1]}


# -- the same seam on PostgreSQL ----------------------------------------------------------------
@pytest.fixture
def any_conn(backend: StoreTarget) -> Iterator[Any]:
    """A migrated connection inside a write transaction, on each backend (rolled back)."""
    conn = backend.connect()
    if backend.url is None:
        conn.execute("BEGIN IMMEDIATE")
    else:
        begin_write(conn)
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_postgres_database_is_exactly_the_protocol() -> None:
    protocol = {n for n in vars(Database) if not n.startswith("_")}
    assert {n for n in vars(PostgresDatabase) if not n.startswith("_")} == protocol


def test_try_insert_reports_only_the_named_clash_on_both(
    any_conn: Any, backend: StoreTarget
) -> None:
    db = Tx(any_conn, FakeClock())._db
    insert = "INSERT INTO api_tokens (id, name, role, token_hash, last4, created_at) "
    insert += "VALUES (?, ?, ?, ?, ?, ?)"
    assert db.try_insert(insert, ("T1", "a", "admin", "h1", "0001", "x"), unique="api_tokens.id")
    assert not db.try_insert(
        insert, ("T1", "b", "admin", "h2", "0002", "x"), unique="api_tokens.id"
    )
    # The refused statement undid only itself; the transaction goes on.
    assert db.fetch_all("SELECT id, name FROM api_tokens") == [("T1", "a")]
    assert db.execute("UPDATE api_tokens SET name = ? WHERE id = ?", ("z", "T1")) == 1
    # Another column's clash is the driver's own error (the writer then rolls back the
    # job's savepoint; on PostgreSQL the transaction is aborted until it does).
    with pytest.raises(backend.integrity_error, match="token_hash"):
        db.try_insert(insert, ("T2", "c", "admin", "h1", "0003", "x"), unique="api_tokens.id")


def test_every_store_method_runs_on_both_backends(any_conn: Any) -> None:
    calls = _Calls(Tx(any_conn, FakeClock()))
    _workload(calls)
    public = {n for n in dir(Tx) if not n.startswith("_") and callable(getattr(Tx, n))}
    assert public - calls.called == set(), "add the new methods to _workload"


def test_open_incidents_sort_before_resolved_ones_on_both(any_conn: Any) -> None:
    test_open_incidents_sort_before_resolved_ones_by_resolved_at(any_conn)


def test_the_postgres_dialect_translates_or_refuses() -> None:
    assert dialect("PRAGMA foreign_keys = ON") is None
    table = dialect("CREATE TABLE t (seq INTEGER PRIMARY KEY, n INTEGER, b BLOB, s TEXT)")
    assert table == (
        "CREATE TABLE t (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT, "
        'b BYTEA, s TEXT COLLATE "C")'
    )
    now = dialect("INSERT INTO t (s) VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))")
    assert now is not None and "to_char(now() AT TIME ZONE 'UTC'" in now
    for unknown in (
        "CREATE TABLE t (s TEXT COLLATE NOCASE)",
        "INSERT OR IGNORE INTO t VALUES (1)",
        "INSERT INTO t VALUES (datetime('now'))",
    ):
        with pytest.raises(ValueError, match="no PostgreSQL translation"):
            dialect(unknown)
