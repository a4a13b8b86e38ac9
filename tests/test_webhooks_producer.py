"""The webhook producer renders an event from what the job wrote, without reading it back.

The agent and client of ``incident.triggered`` come from the trigger log entry the same
job just wrote; reading it back from ``log_entries`` was a measurable share of the
enqueue cost under load (bench/README.md). An incident made by an earlier job still has
its oldest trigger entry read from the table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gateway.core  # noqa: F401  (registers the producers)
from gateway import domain
from gateway.store import Tx
from gateway.store.offline import read_sync, write_sync


def _setup(tx: Tx) -> tuple[Any, Any]:
    svc = tx.insert_service(name="Producer")
    integ = tx.insert_integration(
        service_id=svc.id,
        name="v2",
        type=domain.EVENTS_API_V2,
        vendor_id=None,
        integration_key="p" * 32,
        integration_email=None,
    )
    tx.insert_webhook(
        url="http://127.0.0.1:9/", events=["incident.triggered", "incident.resolved"],
        filter_type="account_reference", filter_id=None, custom_headers=[],
        secret="s" * 16, name="one",
    )  # fmt: skip
    return svc, integ


def _trigger(tx: Tx, svc: Any, integ: Any, key: str) -> str:
    inc = tx.insert_incident(
        service=svc, integration_id=integ.id, title="t", urgency="high", incident_key=key
    )
    tx.insert_log_entry(
        "trigger_log_entry", service_id=svc.id, integration_id=integ.id, incident_id=inc.id,
        agent_type="integration", agent_id=integ.id,
        details={"client": "Monitor"},
    )  # fmt: skip
    return inc.id


def _traced(tx: Tx, statements: list[str]) -> None:
    # From here on (the producers run after the job's function) every statement is kept.
    tx._db._conn.set_trace_callback(statements.append)  # type: ignore[attr-defined]


def _events(path: Path) -> list[dict[str, Any]]:
    rows = read_sync(path, lambda r: r.outbox_entries(kind="webhook", limit=50))
    bodies = [read_sync(path, lambda r, i=e.id: r.outbox_body(i)) for e in rows]
    return [json.loads(b.body)["event"] for b in bodies if b is not None]


def test_a_new_incidents_trigger_event_reads_no_log_entry_back(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    statements: list[str] = []
    integ_id: list[str] = []

    def job(tx: Tx) -> None:
        svc, integ = _setup(tx)
        integ_id.append(integ.id)
        _trigger(tx, svc, integ, "k1")
        _traced(tx, statements)

    write_sync(path, job)
    assert statements, "the producer ran no statement at all"
    assert not [s for s in statements if "FROM log_entries" in s], statements
    (event,) = _events(path)
    assert event["event_type"] == "incident.triggered"
    assert event["agent"]["type"] == "inbound_integration_reference"
    assert event["agent"]["id"] == integ_id[0]
    assert event["client"] == {"name": "Monitor"}


def test_an_event_routed_in_the_job_names_its_integration_and_service_unread(
    tmp_path: Path,
) -> None:
    # Ingest routes the event (tx.route) in the job that triggers: the webhook's agent and
    # service reference come from the rows routing read, not from two more statements.
    path = tmp_path / "g.db"
    statements: list[str] = []

    def job(tx: Tx) -> None:
        svc, integ = _setup(tx)
        assert tx.route("p" * 32, tx.now) is not None
        _trigger(tx, svc, integ, "k1")
        _traced(tx, statements)

    write_sync(path, job)
    assert statements, "the producer ran no statement at all"
    # (Other producers read the service's timeouts and policy: only the names are spared.)
    assert not [s for s in statements if "FROM integrations" in s], statements
    assert not [s for s in statements if s.startswith("SELECT name FROM services")], statements
    (event,) = _events(path)
    assert event["agent"]["type"] == "inbound_integration_reference"
    assert event["agent"]["summary"] == "v2"
    assert event["agent"]["self"].endswith(f"/integrations/{event['agent']['id']}")
    assert event["data"]["service"]["summary"] == "Producer"


def test_an_unrouted_change_still_reads_its_agent(tmp_path: Path) -> None:
    # Without routing in the job (a REST change, a timer), the names are read as before.
    path = tmp_path / "g.db"

    def job(tx: Tx) -> None:
        svc, integ = _setup(tx)
        _trigger(tx, svc, integ, "k1")

    write_sync(path, job)
    (event,) = _events(path)
    assert event["agent"]["summary"] == "v2"
    assert event["data"]["service"]["summary"] == "Producer"


def test_an_earlier_incidents_trigger_event_tells_its_first_entry(tmp_path: Path) -> None:
    # A later job triggers it again and writes a trigger entry of its own: the event's
    # agent is still the incident's first trigger entry's, read from the table.
    path = tmp_path / "g.db"
    made: dict[str, Any] = {}

    def first(tx: Tx) -> None:
        made["svc"], made["integ"] = _setup(tx)
        made["inc"] = _trigger(tx, made["svc"], made["integ"], "k1")

    def again(tx: Tx) -> None:
        incident = tx.incident(made["inc"])
        assert incident is not None
        tx.set_incident_status(incident, "triggered", "trigger")
        tx.insert_log_entry(
            "trigger_log_entry", service_id=made["svc"].id, integration_id=made["integ"].id,
            incident_id=incident.id, agent_type="user_reference", agent_id="PNOONE",
            details={"client": "Later"},
        )  # fmt: skip

    write_sync(path, first)
    write_sync(path, again)
    events = _events(path)
    assert [e["event_type"] for e in events] == ["incident.triggered", "incident.triggered"]
    assert [e["client"] for e in events] == [{"name": "Monitor"}, {"name": "Monitor"}]


def test_the_body_is_compact_json_with_text_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "g.db"

    def job(tx: Tx) -> None:
        svc, integ = _setup(tx)
        inc = tx.insert_incident(
            service=svc, integration_id=integ.id, title="Störung ☃", urgency="high",
            incident_key="k1",
        )  # fmt: skip
        tx.insert_log_entry(
            "trigger_log_entry", service_id=svc.id, integration_id=integ.id,
            incident_id=inc.id, agent_type="integration", agent_id=integ.id,
        )  # fmt: skip

    write_sync(path, job)
    (entry,) = read_sync(path, lambda r: r.outbox_entries(kind="webhook", limit=5))
    message = read_sync(path, lambda r: r.outbox_body(entry.id))
    assert message is not None
    assert json.loads(message.body)["event"]["data"]["title"] == "Störung ☃"
    assert "Störung ☃".encode() in message.body and b": " not in message.body


def test_a_changed_subscription_is_seen_by_the_next_job(tmp_path: Path) -> None:
    # The decoded subscriptions are kept by their whole row: an edit is a new row.
    path = tmp_path / "g.db"
    made: dict[str, Any] = {}

    def first(tx: Tx) -> None:
        made["svc"], made["integ"] = _setup(tx)
        _trigger(tx, made["svc"], made["integ"], "k1")

    def narrow(tx: Tx) -> None:
        (hook,) = tx.live_webhooks([made["svc"].id])
        tx.update_webhook(hook.id, events=["incident.resolved"])
        assert tx.live_webhooks([made["svc"].id])[0].events == ["incident.resolved"]

    write_sync(path, first)
    write_sync(path, narrow)
    write_sync(path, lambda tx: _trigger(tx, made["svc"], made["integ"], "k2"))
    assert [e["event_type"] for e in _events(path)] == ["incident.triggered"]
