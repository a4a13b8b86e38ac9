"""gateway.core.incidents, incident_reads and maintenance on a real SQLite file, fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.clock import FakeClock
from gateway.core import incident_reads, incidents, maintenance
from gateway.core.services import find_service
from gateway.domain import Service
from gateway.errors import Invalid, NotFound, PastWindow, Refused
from gateway.store import Reader, Tx
from gateway.store.offline import read_sync, write_sync

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
BY = "ops@example.com"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "layer.db"


def add_service(db: Path, clock: FakeClock, name: str = "Web", **fields: object) -> Service:
    return write_sync(db, lambda tx: tx.insert_service(name=name, **fields), clock=clock)


def test_bulk_update_rolls_back_as_one(db: Path) -> None:
    clock = FakeClock(NOW)
    web = add_service(db, clock)
    made = [
        write_sync(db, lambda tx, n=n: incidents.create_incident(tx, web.id, f"t{n}", by=BY))
        for n in range(2)
    ]
    with pytest.raises(Refused) as refused:
        write_sync(
            db,
            lambda tx: incidents.update_incidents(
                tx, [(made[0].id, "resolved"), (made[0].number, "resolved")], by=BY
            ),
        )
    assert refused.value.code == 1001
    assert (
        read_sync(db, lambda r: incident_reads.find_incident(r, made[0].id).status) == "triggered"
    )
    assert read_sync(db, lambda r: r.count("log_entries")) == 2  # the two triggers only
    with pytest.raises(Invalid):
        write_sync(db, lambda tx: incidents.update_incidents(tx, [(1, "snoozed")], by=BY))
    with pytest.raises(Invalid):
        write_sync(db, lambda tx: incidents.update_incidents(tx, [(1, "resolved")] * 251, by=BY))


def test_parse_sort_and_find() -> None:
    assert incident_reads.parse_sort(None) == [("incident_number", False)]
    assert incident_reads.parse_sort("urgency:desc,created_at") == [
        ("urgency", True),
        ("created_at", False),
    ]
    for bad in ("title", "urgency:sideways", "a,b,c"):
        with pytest.raises(Invalid):
            incident_reads.parse_sort(bad)


def test_a_window_ends_by_itself_on_the_clock(db: Path) -> None:
    clock = FakeClock(NOW)
    web = add_service(db, clock)
    window = write_sync(
        db,
        lambda tx: maintenance.create_window(
            tx, [web.id], "2026-07-01T08:00:00Z", "2026-07-01T09:30:00Z", "patching", by=BY
        ),
        clock=clock,
    )
    assert window.start_time == "2026-07-01T09:00:00.000Z"  # a past start becomes now

    def state(reader: Reader) -> tuple[bool, list[str]]:
        now = reader.clock.now().isoformat().replace("+00:00", "Z")
        return reader.in_maintenance(web.id, now), [
            w.id for w in maintenance.list_windows(reader, filter="ongoing")
        ]

    assert read_sync(db, state, clock=clock) == (True, [window.id])
    clock.advance(30 * 60 - 1)
    assert read_sync(db, state, clock=clock) == (True, [window.id])
    clock.advance(1)
    assert read_sync(db, state, clock=clock) == (False, [])
    past = read_sync(db, lambda r: maintenance.list_windows(r, filter="past"), clock=clock)
    assert [w.id for w in past] == [window.id]
    with pytest.raises(PastWindow):
        write_sync(db, lambda tx: maintenance.end_or_delete_window(tx, window.id), clock=clock)


def test_windows_resolve_services_and_refuse_config_windows(db: Path) -> None:
    clock = FakeClock(NOW)
    web = add_service(db, clock)
    assert read_sync(db, lambda r: find_service(r, "Web").id) == web.id
    assert read_sync(db, lambda r: find_service(r, web.id).id) == web.id
    with pytest.raises(NotFound):
        read_sync(db, lambda r: find_service(r, "Nope"))

    def config_window(tx: Tx) -> str:
        tx.replace_config_windows(
            [("file", "2026-07-01T00:00:00.000Z", "2026-07-02T00:00:00.000Z", [web.id])]
        )
        return tx.maintenance_windows(source="config")[0].id

    wid = write_sync(db, config_window, clock=clock)
    with pytest.raises(Refused) as refused:
        write_sync(db, lambda tx: maintenance.end_or_delete_window(tx, wid), clock=clock)
    assert refused.value.code == 2015
    with pytest.raises(Refused):
        write_sync(db, lambda tx: maintenance.update_window(tx, wid, description="x"), clock=clock)


def test_created_incident_details_and_disabled_service(db: Path) -> None:
    clock = FakeClock(NOW)
    web = add_service(db, clock, urgency="severity_based")
    off = add_service(db, clock, "Off", status="disabled")
    made = write_sync(
        db,
        lambda tx: incidents.create_incident(tx, web.id, " Broken ", by=BY, details={"a": 1}),
        clock=clock,
    )
    assert (made.title, made.urgency, made.integration_id) == ("Broken", "high", None)
    write_sync(db, lambda tx: incidents.acknowledge(tx, made.id, by="b@example.com"))
    (details,) = read_sync(
        db,
        lambda r: incident_reads.incident_details(
            r, [incident_reads.find_incident(r, made.number)]
        ),
    )
    assert details.body == {"type": "incident_body", "details": {"a": 1}}
    assert details.last_status_change_by == ("user", "b@example.com")
    assert [agent for _, agent in details.acknowledgements] == [("user", "b@example.com")]
    with pytest.raises(Refused) as refused:
        write_sync(db, lambda tx: incidents.create_incident(tx, off.id, "x", by=BY))
    assert "Off" in refused.value.errors[0]
    with pytest.raises(NotFound) as missing:
        read_sync(db, lambda r: incident_reads.find_incident(r, 99))
    assert missing.value.code == 5001
