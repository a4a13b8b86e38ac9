"""Reads that must not scan every incident (issue 14): indexes, counting only when asked.

The SQL each read sends is captured with SQLite's trace callback (the statements with
their values bound) and planned with ``EXPLAIN QUERY PLAN``: a plan that scans the table
or sorts in a temporary B-tree is the regression these tests catch, long before a large
database makes it slow.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway import shapes
from gateway.clock import FakeClock, iso
from gateway.core import incident_reads as reads
from gateway.core import incidents, log_reads, service_reads, services
from gateway.core.rules import apply_event
from gateway.domain import Service
from gateway.errors import Invalid
from gateway.model import Event
from gateway.store import PageReader, Reader, Tx, account_log, connect, open_sync
from gateway.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from gateway.store.seam import Database


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = open_sync(tmp_path / "pages.db")
    yield db
    db.close()


class Recorder:
    """A :class:`~gateway.store.seam.Database` that notes every query before running it."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.seen: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(sql: str, params: Any = (), *args: Any, **kwargs: Any) -> Any:
            self.seen.append((sql, tuple(params)))
            return method(sql, params, *args, **kwargs)

        return call


@contextmanager
def traced(reader: Reader) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Every query ``reader`` sends inside the block, as ``(sql, parameters)``.

    Parameters stay bound, as the store sends them: SQLite plans ``LIMIT ?`` and
    ``LIMIT 5`` differently, so planning the statement with its values written in
    would test another plan than the one the gateway runs.
    """
    recorder = Recorder(reader._db)
    reader._db = recorder  # type: ignore[assignment]
    try:
        yield recorder.seen
    finally:
        reader._db = recorder.inner


def plan(conn: sqlite3.Connection, query: tuple[str, tuple[Any, ...]]) -> list[str]:
    """The query plan's lines for one statement."""
    sql, params = query
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def incident_selects(
    seen: list[tuple[str, tuple[Any, ...]]],
) -> list[tuple[str, tuple[Any, ...]]]:
    return [q for q in seen if q[0].lstrip().upper().startswith("SELECT") and "incidents" in q[0]]


def fill(conn: sqlite3.Connection, clock: FakeClock) -> list[Service]:
    """Three services with open and resolved incidents of both urgencies."""
    tx = Tx(conn, clock)
    services = [tx.insert_service(name=name) for name in ("Alpha", "Beta", "Gamma")]
    for n in range(12):
        tx = Tx(conn, clock)  # a job per incident: each its own time
        service = services[n % 3]
        incident = tx.insert_incident(
            service=service,
            integration_id=None,
            title=f"incident {n}",
            urgency="high" if n % 2 else "low",
            incident_key=None,
        )
        if n % 4 == 0:
            tx.set_incident_status(incident, "resolved", "resolve")
        elif n % 4 == 1:
            tx.set_incident_status(incident, "acknowledged", "acknowledge")
        clock.advance(60)
    return services


@pytest.mark.parametrize("field", ["urgency", "resolved_at", "incident_number", "created_at"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorted_lists_walk_an_index_instead_of_sorting(
    conn: sqlite3.Connection, field: str, direction: str
) -> None:
    clock = FakeClock()
    fill(conn, clock)
    reader = Reader(conn, clock)
    with traced(reader) as seen:
        found = reads.list_incidents(reader, sort_by=f"{field}:{direction}", limit=5)
    assert len(found.incidents) == 5 and found.more
    (select,) = incident_selects(seen)
    lines = plan(conn, select)
    assert not [line for line in lines if "TEMP B-TREE" in line], lines
    assert not any(line.startswith("SCAN incidents") and "INDEX" not in line for line in lines)


def test_urgency_and_resolved_at_orders_use_their_own_indexes(conn: sqlite3.Connection) -> None:
    clock = FakeClock()
    fill(conn, clock)
    reader = Reader(conn, clock)
    for field, index in (
        ("urgency", "incidents_by_urgency"),
        ("resolved_at", "incidents_by_resolved"),
    ):
        with traced(reader) as seen:
            reads.list_incidents(reader, sort_by=f"{field}:desc", limit=5)
        (select,) = incident_selects(seen)
        assert any(index in line for line in plan(conn, select)), field


def test_the_sort_orders_are_still_right(conn: sqlite3.Connection) -> None:
    clock = FakeClock()
    fill(conn, clock)
    reader = Reader(conn, clock)
    high_first = reads.list_incidents(reader, sort_by="urgency:desc", limit=100).incidents
    urgencies = [i.urgency for i in high_first]
    assert urgencies == sorted(urgencies)  # 'high' < 'low'
    numbers = [i.number for i in high_first if i.urgency == "high"]
    assert numbers == sorted(numbers, reverse=True)  # ties by number, the same way
    resolved_last = reads.list_incidents(reader, sort_by="resolved_at:asc", limit=100).incidents
    assert [i.resolved_at is None for i in resolved_last] == [True] * 9 + [False] * 3


def test_the_default_list_starts_at_the_ranges_first_number(conn: sqlite3.Connection) -> None:
    """Number ascending in the last 30 days: a search from the range's smallest number,
    not a walk over every older incident (a year of them with the default retention)."""
    clock = FakeClock()
    fill(conn, clock)
    reader = Reader(conn, clock)
    with traced(reader) as seen:
        reads.list_incidents(reader, limit=5)
    (select,) = incident_selects(seen)
    lines = plan(conn, select)
    assert not [line for line in lines if line.startswith("SCAN")], lines
    assert "(number>?)" in lines[0], lines


def test_the_default_list_is_right_when_numbers_and_times_disagree(
    conn: sqlite3.Connection,
) -> None:
    """The bound is the range's smallest number, so a clock that went back loses nothing."""
    clock = FakeClock()
    service = Tx(conn, clock).insert_service(name="Skew")

    def incident_at(when: datetime) -> int:
        clock.set(when)
        tx = Tx(conn, clock)
        made = tx.insert_incident(
            service=service, integration_id=None, title="t", urgency="high", incident_key=None
        )
        return made.number

    now = datetime(2026, 6, 1, tzinfo=UTC)
    recent = incident_at(now - timedelta(days=1))  # #1, in range
    old = incident_at(now - timedelta(days=40))  # #2, a later number but out of range
    newest = incident_at(now)  # #3
    clock.set(now)
    found = reads.list_incidents(Reader(conn, clock)).incidents
    assert [i.number for i in found] == [recent, newest] and old not in [recent, newest]


def test_no_count_unless_the_total_is_asked_for(conn: sqlite3.Connection) -> None:
    clock = FakeClock()
    fill(conn, clock)
    reader = Reader(conn, clock)
    with traced(reader) as seen:
        page = reads.list_incidents(reader, limit=5)
    assert page.total is None and page.more and len(page.incidents) == 5
    assert not [q for q in seen if "count(" in q[0]]
    with traced(reader) as seen:
        counted = reads.list_incidents(reader, limit=5, offset=10, count=True)
    assert counted.total == 12 and not counted.more and len(counted.incidents) == 2
    (count,) = [q for q in seen if "count(" in q[0]]
    # The count reads incidents_created alone: the number bound helps only the ordered walk.
    assert "min(" not in count[0]
    assert plan(conn, count) == [
        "SEARCH incidents USING COVERING INDEX incidents_created (created_at>?)"
    ]


def test_metrics_counts_group_open_incidents_by_service_through_their_index(
    conn: sqlite3.Connection,
) -> None:
    clock = FakeClock()
    _, beta, _ = fill(conn, clock)
    Tx(conn, clock).delete_service(beta.id)  # a deleted service's incidents still count
    reader = Reader(conn, clock)
    with traced(reader) as seen:
        rows = reads.open_incident_counts(reader)
    assert sorted(rows) == [
        ("Alpha", "acknowledged", 1),
        ("Alpha", "triggered", 2),
        ("Beta", "acknowledged", 1),
        ("Beta", "triggered", 2),
        ("Gamma", "acknowledged", 1),
        ("Gamma", "triggered", 2),
    ]
    (grouped,) = incident_selects(seen)
    lines = plan(conn, grouped)
    assert "SCAN incidents USING COVERING INDEX incidents_open" in lines
    assert not [line for line in lines if "TEMP B-TREE" in line], lines


def test_a_services_status_reads_only_its_own_open_incidents(conn: sqlite3.Connection) -> None:
    clock = FakeClock()
    alpha, _, _ = fill(conn, clock)
    reader = Reader(conn, clock)
    with traced(reader) as seen:
        status = service_reads.service_status(reader, alpha)
    assert status == "critical"
    (select,) = [q for q in incident_selects(seen) if "FROM incidents" in q[0]]
    assert "service_id IN" in select[0]
    assert plan(conn, select) == [
        "SEARCH incidents USING COVERING INDEX incidents_open (service_id=?)"
    ]


def test_the_directory_is_paged_and_searched_with_counts_for_the_page_only(
    conn: sqlite3.Connection,
) -> None:
    clock = FakeClock()
    fill(conn, clock)
    reader = Reader(conn, clock)
    with traced(reader) as seen:
        first = service_reads.service_directory(reader, limit=2)
    assert [r.service.name for r in first.rows] == ["Alpha", "Beta"]
    assert (first.total, first.more) == (3, True)
    assert [(r.triggered, r.acknowledged) for r in first.rows] == [(2, 1), (2, 1)]
    open_reads = [q for q in incident_selects(seen) if "status != 'resolved'" in q[0]]
    assert open_reads and all("service_id IN" in q[0] for q in open_reads)
    last = service_reads.service_directory(reader, limit=2, offset=2)
    assert [r.service.name for r in last.rows] == ["Gamma"] and not last.more
    found = service_reads.service_directory(reader, "AMM")
    assert [r.service.name for r in found.rows] == ["Gamma"] and found.total == 1


def test_a_version_7_database_migrates_past_8_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v7.db"
    old = connect(path)
    for version, script in enumerate(MIGRATIONS[:7], start=1):
        old.executescript(script)
        old.execute(f"PRAGMA user_version = {version}")
    now = iso(FakeClock().now())
    old.execute(
        "INSERT INTO services (id, name, created_at, updated_at) VALUES ('PSVC', 'Old', ?, ?)",
        (now, now),
    )
    old.execute(
        "INSERT INTO incidents (id, number, service_id, title, status, urgency, created_at, "
        "updated_at, last_status_change_at) VALUES ('QOLD', 1, 'PSVC', 't', 'triggered', "
        "'low', ?, ?, ?)",
        (now, now, now),
    )
    old.close()
    assert SCHEMA_VERSION >= 8
    conn = connect(path)
    assert migrate(conn) == 7
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"incidents_open", "incidents_by_urgency", "incidents_by_resolved"} <= indexes
    created = [r[2] for r in conn.execute("PRAGMA index_info(incidents_created)")]
    assert created == ["created_at", "number"]
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    reader = Reader(conn, FakeClock(FakeClock().now() + timedelta(days=1)))
    assert reads.open_incident_counts(reader) == [("Old", "triggered", 1)]
    conn.close()


def test_a_page_of_services_reads_whole_rows_for_that_page_only(
    conn: sqlite3.Connection,
) -> None:
    clock = FakeClock()
    tx = Tx(conn, clock)
    for n in range(40):
        tx.insert_service(name=f"svc {n:02d}")
    reader = Reader(conn, clock)
    with traced(reader) as seen:
        shown, total = services.page_services(reader, query="SVC 1", limit=5, offset=5)
    assert total == 10 and [s.name for s in shown] == [f"svc 1{n}" for n in range(5, 10)]
    whole = [q for q in seen if "escalation_policy_id" in q[0]]
    assert whole and all(len(params) == 5 for _, params in whole)
    assert services.page_services(reader, sort_by="name:desc", limit=2)[0][0].name == "svc 39"
    with pytest.raises(Invalid):
        services.page_services(reader, sort_by="id")


def test_the_incident_key_filter_reads_both_keys_indexes(conn: sqlite3.Connection) -> None:
    """``incident_key`` matches the incident's key or any alert's ``alert_key``, for incidents
    made every way: through alerts (single and time-grouped: a grouped incident holds other
    keys), on an incident-only service, and by hand. Found through alerts_key and
    incidents_key (the incidents without alerts), not a scan probing every incident's alerts.
    """
    clock = FakeClock()
    fill(conn, clock)
    tx = Tx(conn, clock)
    keys = {}
    for name, fields in (
        ("single", {}),
        ("grouped", {"alert_grouping": "time", "alert_grouping_timeout": 10}),
        ("incident-only", {"alert_creation": "create_incidents"}),
    ):
        service = tx.insert_service(name=name, **fields)
        keys[name] = f"{len(keys) + 1:032x}"
        tx.insert_integration(
            service_id=service.id,
            name="v2",
            type="events_api_v2",
            vendor_id=None,
            integration_key=keys[name],
        )

    def trigger(service: str, dedup_key: str) -> str:
        tx = Tx(conn, clock)
        event = Event(routing_key=keys[service], event_action="trigger", dedup_key=dedup_key)
        integration_id = apply_event(tx, event).integration_id or ""
        alert = tx.open_alert(integration_id, dedup_key)
        if alert is not None:
            return alert.incident_id
        incident = tx.open_incident_by_key(integration_id, dedup_key)
        assert incident is not None
        return incident.id

    single = trigger("single", "k-single")
    grouped = trigger("grouped", "k-first")
    assert trigger("grouped", "k-second") == grouped
    incident_only = trigger("incident-only", "k-incident")
    by_hand = incidents.create_incident(
        Tx(conn, clock), single_service(conn), "by hand", by="ops", incident_key="k-hand"
    ).id
    reader = Reader(conn, clock)
    for key, expected in (
        ("k-single", single),
        ("k-first", grouped),
        ("k-second", grouped),
        ("k-incident", incident_only),
        ("k-hand", by_hand),
    ):
        with traced(reader) as seen:
            found = reads.list_incidents(reader, incident_key=key, count=True)
        assert [i.id for i in found.incidents] == [expected] and found.total == 1, key
        for select in incident_selects(seen):
            lines = plan(conn, select)
            assert any("USING INDEX incidents_key" in line for line in lines), lines
            assert any("USING INDEX alerts_key" in line for line in lines), lines
            assert not [line for line in lines if line.startswith("SCAN")], lines
    assert reads.list_incidents(reader, incident_key="nothing", date_range="all").incidents == []


def single_service(conn: sqlite3.Connection) -> str:
    (service_id,) = conn.execute("SELECT id FROM services WHERE name = 'single'").fetchone()
    return str(service_id)


def test_the_overview_total_counts_every_entry_less_the_others(conn: sqlite3.Connection) -> None:
    """``GET /log_entries?is_overview=true&total=true``: all entries minus those of other
    types (their partial index), not a scan of every row checking its type."""
    clock = FakeClock()
    fill(conn, clock)  # 12 triggers, 3 acknowledgements, 3 resolutions
    tx = Tx(conn, clock)
    tx.insert_log_entry("suppress_log_entry", service_id=None, integration_id=None)
    tx.insert_log_entry("reach_trigger_limit_log_entry", service_id=None, integration_id=None)
    tx.insert_log_entry("annotate_log_entry", service_id=None, integration_id=None)
    assert account_log.OVERVIEW_TYPES == log_reads.OVERVIEW_TYPES
    reader = Reader(conn, clock)
    with traced(reader) as seen:
        page = log_reads.account_log_entries(reader, is_overview=True, limit=5, total=True)
    every = conn.execute("SELECT type FROM log_entries").fetchall()
    expected = sum(1 for (t,) in every if t in log_reads.OVERVIEW_TYPES)
    assert page.total == expected == len(every) - 2
    counts = [q for q in seen if "count(" in q[0]]
    assert counts
    for query in counts:
        lines = plan(conn, query)
        assert not [line for line in lines if line == "SCAN log_entries"], lines
    assert any("log_entries_not_overview" in line for q in counts for line in plan(conn, q)), counts
    since = iso(clock.now() - timedelta(days=1))
    dated = log_reads.account_log_entries(
        reader, is_overview=True, since=since, limit=5, total=True
    )
    assert dated.total == expected  # a range counts the rows themselves, as before


def test_a_pages_details_read_the_timeline_in_a_few_statements(
    conn: sqlite3.Connection,
) -> None:
    """A list's first trigger and last resolution come in one statement each for the page,
    not one per incident (100 incidents: ~250 statements); the entries are the same."""
    clock = FakeClock()
    fill(conn, clock)
    reader = Reader(conn, clock)
    found = reads.list_incidents(reader, limit=12).incidents
    kinds = {"resolved": "resolve_log_entry", "acknowledged": "acknowledge_log_entry"}
    for step in range(2):  # each incident's timeline: two of each kind, interleaved
        for incident in found:
            for kind in ("trigger_log_entry", kinds.get(incident.status)):
                if kind is not None:
                    Tx(conn, clock).insert_log_entry(
                        kind,
                        service_id=incident.service_id,
                        integration_id=None,
                        incident_id=incident.id,
                        agent_type="user_reference",
                        agent_id=f"{kind}-{incident.number}-{step}",
                    )
    with traced(reader) as seen:
        details = reads.incident_details(reader, found)
    acknowledged = [i for i in found if i.status == "acknowledged"]
    timeline = [q for q in seen if "FROM log_entries" in q[0]]
    assert len(timeline) == 2 + len(acknowledged), timeline  # acks: up to 10 each, per incident
    for detail in details:
        incident = detail.incident
        first = reader.first_log_entry(incident.id, "trigger_log_entry")
        assert first is not None and detail.first_trigger_log_entry == first
        assert first.agent_id == f"trigger_log_entry-{incident.number}-0"
        kind = kinds.get(incident.status, "trigger_log_entry")
        step = 0 if kind == "trigger_log_entry" else 1  # the first trigger, else the latest
        assert detail.last_status_change_by == (
            "user_reference",
            f"{kind}-{incident.number}-{step}",
        )
    for query in timeline[:2]:
        lines = plan(conn, query)
        assert any("log_entries_incident" in line for line in lines), lines
        assert not [line for line in lines if line.startswith("SCAN")], lines


def test_a_page_reader_looks_each_service_up_once(conn: sqlite3.Connection) -> None:
    """A REST page of incidents names the same few services on every row: a PageReader
    reads them once, in one statement (12 incidents of 3 services: not 12 reads of a
    name and 12 of a row), and the objects are the same."""
    clock = FakeClock()
    fill(conn, clock)
    reader = Reader(conn, clock)
    found = reads.list_incidents(reader, limit=12).incidents
    urls = shapes.Urls("http://gateway.example")
    plain = [shapes.incident_object(urls, reader, d) for d in reads.incident_details(reader, found)]
    page = PageReader(reader)
    with traced(page) as seen:
        page.prefetch_services(i.service_id for i in found)
        cached = [
            shapes.incident_object(urls, page, d) for d in reads.incident_details(page, found)
        ]
    assert cached == plain
    services_read = [q for q in seen if "FROM services" in q[0]]
    assert len(services_read) == 1, services_read
