"""The service layer (gateway/core/services.py, integrations.py) on a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gateway.core import integrations as intg
from gateway.core import moves, service_reads
from gateway.core import services as svc
from gateway.core.inputs import IntegrationInput, ServiceInput, ServicePatch
from gateway.core.rules import apply_event
from gateway.errors import Conflict, Incompatible, Invalid, InvalidRoutingKey, NotFound
from gateway.model import Event
from gateway.plugins import PluginHost, load_plugins
from gateway.store import Reader, Tx
from gateway.store.offline import read_sync, write_sync

T = TypeVar("T")


@pytest.fixture(scope="module")
def plugins() -> PluginHost:
    return load_plugins()


class DB:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, fn: Callable[[Tx], T]) -> T:
        return write_sync(self.path, fn)

    def read(self, fn: Callable[[Reader], T]) -> T:
        return read_sync(self.path, fn)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.read(lambda r: r.conn.execute(query, params).fetchall())


@pytest.fixture
def db(tmp_path: Path) -> DB:
    return DB(tmp_path / "layer.db")


def service(db: DB, name: str, **kw: Any) -> str:
    return db.write(lambda tx: svc.create_service(tx, ServiceInput(name=name, **kw)).id)


def integration(db: DB, plugins: PluginHost, service_id: str, **kw: Any) -> Any:
    kw.setdefault("type", "events_api_v2_inbound_integration")
    return db.write(
        lambda tx: intg.add_integration(tx, service_id, IntegrationInput(**kw), plugins)
    )


def trigger(db: DB, key: str, dedup: str) -> None:
    event = Event(routing_key=key, event_action="trigger", dedup_key=dedup, summary="s", source="h")
    db.write(lambda tx: apply_event(tx, event))


def test_create_service_defaults_and_duplicate_name(db: DB) -> None:
    sid = service(db, "Checkout")
    created = db.read(lambda r: svc.get_service(r, sid))
    assert created.status == "active"
    assert created.acknowledgement_timeout == 1800
    assert created.auto_resolve_timeout == 14400
    with pytest.raises(Invalid) as info:
        service(db, "Checkout")
    assert "Name has already been taken" in info.value.errors
    assert db.read(lambda r: r.count("services")) == 1


def test_create_refuses_bad_values_all_at_once(db: DB) -> None:
    with pytest.raises(Invalid) as info:
        service(
            db, " ", status="disabled", alert_creation="x", urgency="y", auto_resolve_timeout=-1
        )
    assert len(info.value.errors) == 5
    assert db.read(lambda r: r.count("services")) == 0


def test_update_disable_enable_logs_each_change(db: DB) -> None:
    sid = service(db, "A")
    db.write(lambda tx: svc.update_service(tx, sid, ServicePatch(status="disabled")))
    assert db.read(lambda r: service_reads.service_status(r, svc.get_service(r, sid))) == "disabled"
    db.write(lambda tx: svc.update_service(tx, sid, ServicePatch(status="active")))
    types = [t for (t,) in db.sql("SELECT type FROM log_entries WHERE service_id = ?", sid)]
    assert types == [
        "service_create_log_entry",
        "service_disable_log_entry",
        "service_enable_log_entry",
    ]
    with pytest.raises(Invalid):
        db.write(lambda tx: svc.update_service(tx, sid, ServicePatch(status="warning")))


def test_update_missing_service_is_not_found(db: DB) -> None:
    with pytest.raises(NotFound) as info:
        db.write(lambda tx: svc.update_service(tx, "PNOPE00", ServicePatch(name="x")))
    assert info.value.kind == "Service"


def test_status_critical_warning_maintenance(db: DB, plugins: PluginHost) -> None:
    sid = service(db, "S")
    key = integration(db, plugins, sid).integration_key
    assert db.read(lambda r: service_reads.service_status(r, svc.get_service(r, sid))) == "active"
    trigger(db, key, "one")
    assert db.read(lambda r: service_reads.service_status(r, svc.get_service(r, sid))) == "critical"
    db.write(lambda tx: tx.conn.execute("UPDATE incidents SET status = 'acknowledged'"))
    assert db.read(lambda r: service_reads.service_status(r, svc.get_service(r, sid))) == "warning"
    db.write(
        lambda tx: tx.insert_maintenance_window(
            None, "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z", [sid]
        )
    )
    assert (
        db.read(lambda r: service_reads.service_status(r, svc.get_service(r, sid))) == "maintenance"
    )


def test_list_services_query_and_sort(db: DB) -> None:
    for name in ("beta", "Alpha", "gamma-beta"):
        service(db, name)
    names = db.read(lambda r: [s.name for s in svc.list_services(r)])
    assert names == ["Alpha", "beta", "gamma-beta"]
    names = db.read(lambda r: [s.name for s in svc.list_services(r, sort_by="name:desc")])
    assert names == ["gamma-beta", "beta", "Alpha"]
    names = db.read(lambda r: [s.name for s in svc.list_services(r, query="BETA")])
    assert names == ["beta", "gamma-beta"]
    with pytest.raises(Invalid):
        db.read(lambda r: svc.list_services(r, sort_by="created_at"))


def test_add_integration_key_is_generated_and_vendor_decides_type(
    db: DB, plugins: PluginHost
) -> None:
    sid = service(db, "S")
    first = integration(db, plugins, sid)
    assert len(first.integration_key) == 32 and first.integration_key.isalnum()
    cw = integration(db, plugins, sid, type="service_integration", vendor_id="PZQ6AUS")
    assert cw.type == "aws_cloudwatch_inbound_integration"
    assert cw.vendor_id == "PZQ6AUS"
    assert cw.name == "Amazon CloudWatch"
    v1 = integration(db, plugins, sid, type="generic_events_api_inbound_integration")
    assert v1.vendor_id is None
    mail = integration(
        db, plugins, sid, type="generic_email_inbound_integration", integration_email="ops@x.test"
    )
    assert mail.integration_email == "ops@x.test"
    with pytest.raises(Invalid):
        integration(db, plugins, sid, type="generic_email_inbound_integration")
    with pytest.raises(Invalid):
        integration(db, plugins, sid, vendor_id="PNOSUCH")
    with pytest.raises(Invalid):
        integration(db, plugins, sid, type="bogus")


def test_vendor_settings_are_checked(db: DB, plugins: PluginHost) -> None:
    sid = service(db, "S")
    with pytest.raises(Invalid) as info:
        integration(db, plugins, sid, vendor_id="PGWAMGR", settings={"nope": 1})
    assert info.value.errors


def test_v2_never_on_create_incidents(db: DB, plugins: PluginHost) -> None:
    sid = service(db, "Old", alert_creation="create_incidents")
    with pytest.raises(Invalid):
        integration(db, plugins, sid)
    other = service(db, "New")
    integration(db, plugins, other)
    with pytest.raises(Invalid):
        db.write(
            lambda tx: svc.update_service(
                tx, other, ServicePatch(alert_creation="create_incidents")
            )
        )


def test_move_refused_with_differences_then_confirmed(db: DB, plugins: PluginHost) -> None:
    src = service(db, "Src")
    db.write(lambda tx: tx.insert_escalation_policy("PEP1234", name="Other"))
    dst = service(db, "Dst", urgency="low", escalation_policy_id="PEP1234")
    made = integration(db, plugins, src)
    trigger(db, made.integration_key, "a")
    diffs = db.read(lambda r: moves.integration_move_differences(r, made.id, dst))
    assert [d.as_dict() for d in diffs] == [
        {"field": "incident_urgency_rule", "from": "high", "to": "low"},
        {"field": "escalation_policy", "from": "PDEFALT", "to": "PEP1234"},
    ]
    with pytest.raises(Conflict) as info:
        db.write(lambda tx: moves.move_integration(tx, made.id, dst, confirm=False))
    assert info.value.differences == diffs
    assert db.sql("SELECT service_id FROM incidents") == [(src,)]
    result = db.write(lambda tx: moves.move_integration(tx, made.id, dst, confirm=True))
    assert (result.incidents_moved, result.alerts_moved) == (1, 1)
    assert result.integration.integration_key == made.integration_key
    assert db.sql("SELECT service_id FROM incidents") == [(dst,)]
    assert db.sql("SELECT service_id FROM alerts") == [(dst,)]


@pytest.mark.parametrize(
    ("setting", "value", "shown"),
    [
        ("acknowledgement_timeout", 600, ("1800", "600")),
        ("acknowledgement_timeout", None, ("1800", None)),
        ("auto_resolve_timeout", 3600, ("14400", "3600")),
        ("alert_grouping", "time", (None, "time")),
        ("alert_grouping_timeout", 15, (None, "15")),
    ],
)
def test_move_warns_of_every_differing_incident_setting(
    db: DB, plugins: PluginHost, setting: str, value: object, shown: tuple[str | None, ...]
) -> None:
    # Services that differ in this one setting only: the move must still be confirmed.
    src, dst = service(db, "A"), service(db, "B", **{setting: value})
    made = integration(db, plugins, src)
    diffs = db.read(lambda r: moves.integration_move_differences(r, made.id, dst))
    assert [d.as_dict() for d in diffs] == [{"field": setting, "from": shown[0], "to": shown[1]}]
    with pytest.raises(Conflict):
        db.write(lambda tx: moves.move_integration(tx, made.id, dst, confirm=False))


def test_move_without_differences_needs_no_confirm(db: DB, plugins: PluginHost) -> None:
    src, dst = service(db, "A"), service(db, "B")
    made = integration(db, plugins, src)
    result = db.write(lambda tx: moves.move_integration(tx, made.id, dst, confirm=False))
    assert result.to_service_id == dst and result.differences == []


def test_v2_move_onto_create_incidents_is_refused_even_confirmed(
    db: DB, plugins: PluginHost
) -> None:
    src, dst = service(db, "A"), service(db, "B", alert_creation="create_incidents")
    made = integration(db, plugins, src)
    with pytest.raises(Incompatible):
        db.write(lambda tx: moves.move_integration(tx, made.id, dst, confirm=True))
    v1 = integration(db, plugins, src, type="generic_events_api_inbound_integration")
    moved = db.write(lambda tx: moves.move_integration(tx, v1.id, dst, confirm=True))
    assert moved.integration.service_id == dst


def test_delete_integration_releases_key_and_keeps_incidents(db: DB, plugins: PluginHost) -> None:
    sid = service(db, "S")
    made = integration(db, plugins, sid)
    trigger(db, made.integration_key, "a")
    db.write(lambda tx: intg.delete_integration(tx, made.id))
    with pytest.raises(InvalidRoutingKey):
        trigger(db, made.integration_key, "b")
    assert db.sql("SELECT integration_key, deleted_at IS NOT NULL FROM integrations") == [(None, 1)]
    assert db.sql("SELECT status FROM incidents") == [("triggered",)]
    with pytest.raises(NotFound):
        db.write(lambda tx: intg.delete_integration(tx, made.id))


def test_delete_service_kills_its_integrations(db: DB, plugins: PluginHost) -> None:
    sid = service(db, "S")
    made = integration(db, plugins, sid)
    db.write(lambda tx: svc.delete_service(tx, sid))
    assert db.read(lambda r: r.service(sid)) is None
    with pytest.raises(InvalidRoutingKey):
        trigger(db, made.integration_key, "a")
    service(db, "S")  # the name is free again


def test_rename_and_settings_update(db: DB, plugins: PluginHost) -> None:
    sid = service(db, "S")
    made = integration(db, plugins, sid)
    renamed = db.write(lambda tx: intg.rename_integration(tx, made.id, "New name"))
    assert renamed.name == "New name" and renamed.integration_key == made.integration_key
    with pytest.raises(Invalid):
        db.write(lambda tx: intg.rename_integration(tx, made.id, "  "))
