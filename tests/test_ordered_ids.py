"""Ordered ids for event-rate rows: increasing, unique, and safe against a clash."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import ids as model
from gateway.clock import SystemClock
from gateway.store import Tx, open_sync
from gateway.store import base as store_base


@pytest.fixture
def tx(tmp_path: Path) -> Iterator[Tx]:
    conn = open_sync(tmp_path / "ids.db")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield Tx(conn, SystemClock())
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_ids_increase_as_text_and_keep_the_pagerduty_shape() -> None:
    ids = [model.new_ordered_id("R") for _ in range(50_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"R[0-9A-Z]{13}", i) for i in ids[:100])


def test_ids_keep_increasing_when_the_clock_steps_back(monkeypatch: pytest.MonkeyPatch) -> None:
    first = model.new_ordered_id("Q")
    wall = iter([5_000_000_000_000_000, 4_000_000_000_000_000, 4_000_000_000_000_000])
    monkeypatch.setattr(model.time, "time_ns", lambda: next(wall))
    later = [model.new_ordered_id("Q") for _ in range(3)]
    assert [first, *later] == sorted([first, *later])
    assert len({first, *later}) == 4


def test_rows_written_one_after_another_sort_in_that_order(tx: Tx) -> None:
    service = tx.insert_service(name="Ordered")
    ids = [tx.insert_log_entry("note", service_id=service.id, integration_id=None) for _ in "abcde"]
    stored = [row[0] for row in tx.conn.execute("SELECT id FROM log_entries ORDER BY seq")]
    assert stored == ids == sorted(ids)


def test_a_clash_with_another_process_takes_the_next_id(
    tx: Tx, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = tx.insert_service(name="Clash")
    taken = tx.insert_log_entry("note", service_id=service.id, integration_id=None)
    offered = iter([taken, "R" + "Z" * 13])
    monkeypatch.setattr(store_base, "new_ordered_id", lambda prefix: next(offered))
    again = tx.insert_log_entry("note", service_id=service.id, integration_id=None)
    assert again == "R" + "Z" * 13
    assert tx.count("log_entries") == 2


def test_endless_clashes_fail_the_job_instead_of_looping(
    tx: Tx, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = tx.insert_service(name="Stuck")
    taken = tx.insert_log_entry("note", service_id=service.id, integration_id=None)
    monkeypatch.setattr(store_base, "new_ordered_id", lambda prefix: taken)
    with pytest.raises(sqlite3.IntegrityError, match=r"log_entries\.id"):
        tx.insert_log_entry("note", service_id=service.id, integration_id=None)
    assert tx.count("log_entries") == 1


def test_a_full_millisecond_borrows_the_next_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "_SEQUENCE_SPACE", 4)  # a millisecond holds 4 ids here
    monkeypatch.setattr(model.time, "time_ns", lambda: 7_000_000_000_000_000)
    ids = model._OrderedIds()
    made = [ids.next("A") for _ in range(10)]
    assert made == sorted(made) and len(set(made)) == 10
    assert len({i[1:10] for i in made}) >= 3  # the millisecond part moved on twice


def test_a_milliseconds_text_is_its_base36_across_the_kept_prefix() -> None:
    """The kept 7-character prefix changes every 1,296 ms: each side of the change, and
    going back (a clock stepped back), the text is the plain conversion's."""
    from gateway.ids import _base36, _MsText

    texts = _MsText()
    for ms in (1_764_000_000_000, 1_764_000_000_001, *range(1_296 * 5 - 3, 1_296 * 5 + 3),
               1_296 * 5 - 1, 36**9 - 1, 0):  # fmt: skip
        assert texts.text(ms) == _base36(ms, 9), ms
