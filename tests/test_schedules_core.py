"""The schedule rules on a real SQLite file: who is on call at an instant (what escalation
policies ask), which schedules still need a user, and file ownership."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import FakeClock
from gateway.core import schedules, users
from gateway.core.inputs import CONFIG, Agent
from gateway.errors import Invalid, NotFound, Refused
from gateway.store import Tx, open_sync

API = Agent("api_token", "T1")


PEOPLE = ("PA", "PB", "PC", "PX", "PY", "PZ")  # user names; IDS maps them to their ids
IDS: dict[str, str] = {}


@pytest.fixture
def tx(tmp_path: Path) -> Iterator[Tx]:
    conn: sqlite3.Connection = open_sync(tmp_path / "schedules.db")
    conn.execute("BEGIN IMMEDIATE")
    try:
        tx = Tx(conn, FakeClock(datetime(2026, 3, 1, tzinfo=UTC)))
        for name in PEOPLE:
            made = users.UserInput(name=name, email=f"{name.lower()}@example.com")
            IDS[name] = users.create_user(tx, made, defaults=False).id
        yield tx
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def _layer(*names: str, **extra: Any) -> dict[str, Any]:
    return {
        "start": "2026-03-02T09:00:00-05:00",
        "rotation_virtual_start": "2026-03-02T09:00:00-05:00",
        "rotation_turn_length_seconds": 604800,
        "users": [{"user": {"id": IDS[n]}} for n in names],
        **extra,
    }


def _who(tx: Tx, schedule_id: str, at: datetime) -> str | None:
    """The name of who is on call (the test's names, not ids)."""
    found = schedules.on_call_user(tx, schedule_id, at)
    return next((n for n, i in IDS.items() if i == found), None)


def _make(tx: Tx, *layers: dict[str, Any], by: Agent = API) -> schedules.ScheduleDetails:
    data = schedules.ScheduleInput("Ops", "America/New_York", list(layers) or [_layer("PA", "PB")])
    return schedules.create_schedule(tx, data, by=by)


def test_on_call_user_across_the_new_york_spring_change(tx: Tx) -> None:
    made = _make(tx)
    sid = made.schedule.id
    # Weekly handoff Monday 09:00 local: 14:00 UTC in EST, 13:00 UTC after 8 March (EDT).
    assert _who(tx, sid, datetime(2026, 3, 9, 12, 59, tzinfo=UTC)) == "PA"
    assert _who(tx, sid, datetime(2026, 3, 9, 13, tzinfo=UTC)) == "PB"
    assert _who(tx, sid, datetime(2026, 3, 1, tzinfo=UTC)) is None
    schedules.create_overrides(
        tx,
        sid,
        [schedules.OverrideInput("2026-03-09T13:00:00Z", "2026-03-09T14:00:00Z", IDS["PC"])],
        by=API,
    )
    assert _who(tx, sid, datetime(2026, 3, 9, 13, 30, tzinfo=UTC)) == "PC"
    assert _who(tx, sid, datetime(2026, 3, 9, 14, tzinfo=UTC)) == "PB"
    with pytest.raises(NotFound):
        schedules.on_call_user(tx, "PNOPE00", datetime(2026, 3, 9, tzinfo=UTC))


def test_schedules_naming_user_counts_layers_and_overrides_not_yet_over(tx: Tx) -> None:
    first = _make(tx).schedule
    second = _make(tx, _layer("PZ")).schedule
    past = schedules.OverrideInput("2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z", IDS["PY"])
    future = schedules.OverrideInput("2026-04-01T00:00:00Z", "2026-04-02T00:00:00Z", IDS["PX"])
    schedules.create_overrides(tx, second.id, [past, future], by=API)
    assert schedules.schedules_naming_user(tx, IDS["PA"]) == [first.name]
    assert schedules.schedules_naming_user(tx, IDS["PX"]) == [second.name]
    assert schedules.schedules_naming_user(tx, IDS["PY"]) == []  # its override is over
    assert schedules.schedules_naming_user(tx, "PQ") == []


def test_a_declared_schedule_is_changed_only_by_the_file(tx: Tx) -> None:
    made = _make(tx, by=CONFIG).schedule
    assert made.source == "config"
    same = schedules.ScheduleInput("Ops", "America/New_York", [_layer("PA", "PB")])
    # Sent back unchanged (a client's read-modify-write): answered normally.
    schedules.update_schedule(tx, made.id, same, by=API)
    renamed = schedules.ScheduleInput("Ops 2", "America/New_York", [_layer("PA", "PB")])
    with pytest.raises(Refused, match="declared in the configuration file"):
        schedules.update_schedule(tx, made.id, renamed, by=API)
    with pytest.raises(Refused):
        schedules.delete_schedule(tx, made.id, by=API)
    assert schedules.update_schedule(tx, made.id, renamed, by=CONFIG).schedule.name == "Ops 2"


def test_nothing_is_written_when_a_check_fails(tx: Tx) -> None:
    bad = schedules.ScheduleInput("Ops", "Nowhere/City", [_layer("PA")])
    with pytest.raises(Invalid):
        schedules.create_schedule(tx, bad, by=API)
    assert tx.schedules() == []
    assert schedules.schedule_in_use(tx, "PANY000") is False
