"""Escalation policies below HTTP: the upgrade of an old database, the readings the
escalation engine uses, the Default policy, and the configuration file's ownership."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.clock import FakeClock, iso
from gateway.core import escalation_policies as ep
from gateway.core import services as svc
from gateway.core import users
from gateway.core.inputs import CONFIG, Agent, ServiceInput, ServicePatch
from gateway.errors import Invalid, NotFound, Refused
from gateway.store import Reader, Tx, connect
from gateway.store.offline import write_sync
from gateway.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate

CLI = Agent("cli")
POLICY_MIGRATION = next(
    n for n, script in enumerate(MIGRATIONS) if "CREATE TABLE escalation_policies" in script
)


def _old_database(path: Path) -> None:
    """A database at the version just before escalation policies, with four services."""
    old = connect(path)
    for version, script in enumerate(MIGRATIONS[:POLICY_MIGRATION], start=1):
        old.executescript(script)
        old.execute(f"PRAGMA user_version = {version}")
    now = iso(FakeClock().now())
    rows = [
        ("PNONE01", "No policy", None, None),
        ("PTEXT01", "Free text", "PABC123", None),
        ("PTEXT02", "Same text", "PABC123", None),
        ("PGONE01", "Deleted", "PGONEEP", now),
    ]
    old.executemany(
        "INSERT INTO services (id, name, escalation_policy_id, deleted_at, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(*row, now, now) for row in rows],
    )
    old.commit()
    old.close()


def test_an_old_database_with_services_gets_the_default_policy(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path)
    conn = connect(path)
    assert migrate(conn) == POLICY_MIGRATION
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    reader = Reader(conn, FakeClock())
    policies = {p.id: p for p in ep.list_policies(reader)}
    # The Default policy, and one per distinct free-text id a live service had, same id.
    assert set(policies) == {"PDEFALT", "PABC123"}
    assert policies["PDEFALT"].name == "Default" and policies["PDEFALT"].rules == ()
    assert policies["PABC123"].name == "Imported PABC123"
    ids = dict(conn.execute("SELECT id, escalation_policy_id FROM services").fetchall())
    assert ids == {
        "PNONE01": "PDEFALT",
        "PTEXT01": "PABC123",
        "PTEXT02": "PABC123",
        "PGONE01": "PDEFALT",  # deleted: its unknown id is not kept as a policy
    }
    using = reader.policy_services(["PDEFALT", "PABC123"])
    assert sorted(s for s, _ in using["PABC123"]) == ["PTEXT01", "PTEXT02"]
    assert [s for s, _ in using["PDEFALT"]] == ["PNONE01"]
    assert ep.policy_for_service(reader, "PTEXT01").id == "PABC123"
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_a_fresh_database_has_the_default_policy_and_services_get_it(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    made = write_sync(db, lambda tx: svc.create_service(tx, ServiceInput(name="New")))
    assert made.escalation_policy_id == ep.DEFAULT_POLICY_ID
    # Deleted Default: the next service without a policy makes it again.
    other = write_sync(db, lambda tx: _policy(tx, "Other"))
    write_sync(
        db,
        lambda tx: svc.update_service(tx, made.id, ServicePatch(escalation_policy_id=other)),
    )
    write_sync(db, lambda tx: ep.delete_policy(tx, ep.DEFAULT_POLICY_ID))
    again = write_sync(db, lambda tx: svc.create_service(tx, ServiceInput(name="Later")))
    assert again.escalation_policy_id == ep.DEFAULT_POLICY_ID
    with pytest.raises(NotFound):
        write_sync(db, lambda tx: ep.get_policy(tx, "PNOSUCH"))


def _user(tx: Tx, n: int) -> str:
    """The id of user ``n`` (made the first time)."""
    email = f"user{n}@example.com"
    found = tx.user_by_email(email)
    if found is not None:
        return found.id
    return users.create_user(tx, users.UserInput(name=f"User {n}", email=email)).id


def _policy(tx: Tx, name: str, loops: int = 0, rules: int = 1) -> str:
    rule = [
        ep.rule_input(
            {
                "escalation_delay_in_minutes": 5 * (n + 1),
                "targets": [{"type": "user_reference", "id": _user(tx, n)}],
            }
        )
        for n in range(rules)
    ]
    return ep.create_policy(tx, ep.PolicyInput(name=name, rules=rule, num_loops=loops)).id


def test_levels_and_rules_for_the_escalation_engine(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    pid = write_sync(db, lambda tx: _policy(tx, "Two levels, twice", loops=1, rules=2))
    service = write_sync(
        db, lambda tx: svc.create_service(tx, ServiceInput(name="S", escalation_policy_id=pid))
    )
    policy = write_sync(db, lambda tx: ep.policy_for_service(tx, service.id))
    assert ep.levels(policy) == 4
    delays = [ep.rule_at(policy, n) for n in range(1, 5)]
    assert [r.escalation_delay_in_minutes for r in delays if r] == [5, 10, 5, 10]
    assert ep.rule_at(policy, 0) is None and ep.rule_at(policy, 5) is None
    second = ep.rule_at(policy, 4)
    user1 = write_sync(db, lambda tx: _user(tx, 1))
    assert second is not None and [t.id for t in second.targets] == [user1]
    with pytest.raises(NotFound):
        write_sync(db, lambda tx: ep.policy_for_service(tx, "PNOSUCH"))


def test_a_policy_the_file_declares_changes_only_through_the_file(tmp_path: Path) -> None:
    db = tmp_path / "declared.db"
    pid = write_sync(db, lambda tx: _policy(tx, "Declared"))
    write_sync(db, lambda tx: tx.set_declared_policies([pid]))
    for edit in (
        lambda tx: ep.update_policy(tx, pid, ep.PolicyPatch(name="x"), by=CLI),
        lambda tx: ep.delete_policy(tx, pid, by=CLI),
    ):
        with pytest.raises(Refused) as caught:
            write_sync(db, edit)
        assert "declared in the configuration file" in caught.value.errors[0]
    # An unchanged body is not a change; the file itself may change it.
    write_sync(db, lambda tx: ep.update_policy(tx, pid, ep.PolicyPatch(name="Declared"), by=CLI))
    write_sync(db, lambda tx: ep.update_policy(tx, pid, ep.PolicyPatch(name="Y"), by=CONFIG))
    with pytest.raises(Invalid):
        write_sync(db, lambda tx: ep.update_policy(tx, pid, ep.PolicyPatch(num_loops=-2)))
