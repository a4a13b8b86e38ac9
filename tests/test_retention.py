"""Retention (issue 14 item 14): the database stops growing without bound.

Old resolved incidents with their alerts and log entries, suppressed-event records and old
change events are pruned in small jobs through the writer; open incidents are never touched.
Time is a :class:`FakeClock` moved by days, so nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from structlog.testing import capture_logs

from gateway.clock import FakeClock
from gateway.store import retention
from gateway.store.retention import Policy, count_expired, prune_pass, prune_periodically
from gateway.store.sqlite import checkpoint_truncate
from tests.scaffold import cli, config, gateway_running, key, v2, v2_service

KEY = key("retained")
OFF = key("disabled")
POLICY = Policy(retention_days=365, change_event_retention_days=90)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86400


def _config(**storage: Any) -> str:
    text = config(v2_service("Web", KEY), v2_service("Off", OFF, status="disabled"))
    extra = "".join(f"{name} = {value}\n" for name, value in storage.items())
    return text.replace('path = "gw.db"\n', f'path = "gw.db"\n{extra}', 1)


async def _post(client: httpx.AsyncClient, body: dict[str, Any], path: str = "/v2/enqueue") -> None:
    answer = await client.post(path, json=body)
    assert answer.status_code == 202, answer.text


async def _change(client: httpx.AsyncClient, summary: str) -> None:
    body = {"routing_key": KEY, "payload": {"summary": summary, "source": "ci"}}
    await _post(client, body, "/v2/change/enqueue")


async def _history(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """A year and a bit of traffic; the prune happens at T0 + 400 days."""
    clock.set(T0)
    for dedup in ("a", "b", "c"):  # incidents 1, 2, 3
        await _post(client, v2(KEY, dedup_key=dedup, custom_details={"pad": "x" * 20000}))
    for dedup in ("a", "b"):
        await _post(client, v2(KEY, "resolve", dedup_key=dedup))
    await _post(client, v2(OFF, dedup_key="s1"))  # a suppressed-event record
    await _change(client, "deploy 1")
    clock.set(T0 + timedelta(days=100))
    await _post(client, v2(KEY, dedup_key="d"))  # incident 4: resolved, but not long ago
    await _post(client, v2(KEY, "resolve", dedup_key="d"))
    clock.set(T0 + timedelta(days=380))
    await _change(client, "deploy 2")
    await _post(client, v2(KEY, dedup_key="e"))  # incident 5, open
    await _post(client, v2(OFF, dedup_key="s2"))
    clock.set(T0 + timedelta(days=400))


async def _rows(gw: Any, sql: str) -> list[tuple[Any, ...]]:
    return await gw.store.read(lambda r: r.conn.execute(sql).fetchall())  # type: ignore[no-any-return]


@pytest.mark.sqlite_only("SQLite's freed pages and PRAGMA foreign_key_check")
async def test_a_pass_prunes_only_what_expired_in_small_jobs(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway_running(tmp_path, _config(), clock=clock) as gw:
        await _history(gw.client, clock)
        dry = await gw.store.read(lambda r: count_expired(r, POLICY))
        report = await prune_pass(gw.store, POLICY, limit=3)
        expected = {
            "incidents": 2,
            "alerts": 2,
            "log_entries": 5,
            "change_events": 1,
            "outbox_messages": 0,
        }
        assert dry.counts == expected  # the dry run counted exactly what then went
        assert report.counts == expected
        assert report.most_rows_in_a_job <= 3 and report.jobs >= 4  # small jobs, many
        assert report.pages_freed > 0  # the 20 kB alert bodies' pages went back to the disk
        titles = await _rows(gw, "SELECT number, status FROM incidents ORDER BY number")
        assert titles == [(3, "triggered"), (4, "resolved"), (5, "triggered")]
        # Nothing an open or recent incident refers to went; no foreign key dangles.
        assert await _rows(gw, "SELECT DISTINCT incident_id IS NULL FROM alerts") == [(0,)]
        assert await gw.count("alerts") == 3
        assert await _rows(gw, "PRAGMA foreign_key_check") == []
        orphans = await _rows(
            gw,
            "SELECT count(*) FROM log_entries WHERE incident_id IS NOT NULL "
            "AND incident_id NOT IN (SELECT id FROM incidents)",
        )
        assert orphans == [(0,)]
        suppressed = await _rows(
            gw, "SELECT details FROM log_entries WHERE type = 'suppress_log_entry'"
        )
        assert len(suppressed) == 1 and "s2" in suppressed[0][0]
        assert await _rows(gw, "SELECT summary FROM change_events") == [("deploy 2",)]
        # A second pass finds nothing; the gateway carries on and numbers keep counting.
        assert (await prune_pass(gw.store, POLICY)).total == 0
        await _post(gw.client, v2(KEY, dedup_key="f"))
        assert (await _rows(gw, "SELECT max(number) FROM incidents")) == [(6,)]


async def test_the_newest_incident_is_kept_so_numbers_are_never_reused(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with gateway_running(tmp_path, _config(), clock=clock) as gw:
        await _post(gw.client, v2(KEY, dedup_key="only"))
        await _post(gw.client, v2(KEY, "resolve", dedup_key="only"))
        clock.advance(400 * DAY)
        assert (await prune_pass(gw.store, POLICY)).counts["incidents"] == 0
        await _post(gw.client, v2(KEY, dedup_key="next"))
        assert (await prune_pass(gw.store, POLICY)).counts["incidents"] == 1
        await _post(gw.client, v2(KEY, dedup_key="third"))
        assert await _rows(gw, "SELECT number FROM incidents ORDER BY number") == [(2,), (3,)]


async def test_zero_days_keeps_everything(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway_running(tmp_path, _config(), clock=clock) as gw:
        await _history(gw.client, clock)
        clock.advance(3650 * DAY)
        forever = Policy(retention_days=0, change_event_retention_days=0)
        assert (await prune_pass(gw.store, forever)).total == 0
        only_changes = Policy(retention_days=0, change_event_retention_days=90)
        report = await prune_pass(gw.store, only_changes)
        assert report.counts == {
            "incidents": 0,
            "alerts": 0,
            "log_entries": 0,
            "change_events": 2,
            "outbox_messages": 0,
        }


@pytest.mark.sqlite_only("the WAL checkpoint and the file's size")
async def test_the_daemon_prunes_at_start_with_a_metric_and_a_log_line(tmp_path: Path) -> None:
    clock = FakeClock()
    async with gateway_running(tmp_path, _config(), clock=clock) as gw:
        await _history(gw.client, clock)
        await gw.store.write(lambda tx: checkpoint_truncate(tx.conn))
        db = gw.store.path
    size_before = db.stat().st_size
    # The same database a restart later (the clock still at T0 + 400 days): the daemon's
    # periodic task runs its first pass at start.
    async with gateway_running(tmp_path, _config(), clock=clock) as gw:
        with trio.fail_after(10):
            while await gw.count("change_events") != 1:
                await trio.sleep(0.01)  # waits for the pass; asserts nothing about time
            text = ""
            while 'table="change_events"} 1.0' not in text:
                text = (await gw.client.get("/metrics")).text
                await trio.sleep(0.01)
        assert 'alert_gateway_store_pruned_rows_total{table="log_entries"} 5.0' in text
        assert 'alert_gateway_store_pruned_rows_total{table="incidents"} 2.0' in text
        assert await gw.count("incidents") == 3
        assert await _rows(gw, "PRAGMA auto_vacuum") == [(2,)]  # new databases: incremental
    assert db.stat().st_size < size_before  # the pass handed pages back


async def test_a_failing_pass_is_logged_and_the_daemon_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(tx: Any, policy: Policy, limit: int = 0) -> dict[str, int]:
        raise RuntimeError("a bug in a prune job")

    async with gateway_running(tmp_path, _config()) as gw:
        monkeypatch.setattr(retention, "prune_batch", broken)
        with capture_logs() as logs:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(prune_periodically, gw.store, POLICY, lambda counts: None)
                with trio.fail_after(10):
                    while not any(line["event"] == "store.prune_failed" for line in logs):
                        await trio.sleep(0.01)  # waits for the pass, asserts nothing on time
                nursery.cancel_scope.cancel()  # it was asleep until the next pass: still alive
        failed = next(line for line in logs if line["event"] == "store.prune_failed")
        assert "a bug in a prune job" in failed["error"]
        await _post(gw.client, v2(KEY, dedup_key="after"))  # the writer is unharmed


@pytest.mark.sqlite_only("the CLI prunes the SQLite file the in-process gateway wrote")
@pytest.mark.slow  # the CLI in subprocesses
def test_db_prune_dry_run_then_prune(tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC) - timedelta(days=400))

    async def history() -> None:
        async with gateway_running(tmp_path, _config(), clock=clock) as gw:
            await _post(gw.client, v2(KEY, dedup_key="old"))
            await _post(gw.client, v2(KEY, "resolve", dedup_key="old"))
            await _post(gw.client, v2(OFF, dedup_key="old-suppressed"))
            await _change(gw.client, "old deploy")
            clock.set(datetime.now(UTC) - timedelta(days=1))
            await _post(gw.client, v2(KEY, dedup_key="new"))

    trio.run(history)
    config_path = tmp_path / "gw.toml"
    db = tmp_path / "gateway.db"  # where gateway_running put it
    config_path.write_text(_config().replace('"gw.db"', f'"{db.name}"'))

    dry = cli("db", "prune", "--dry-run", "--config", str(config_path))
    assert dry.returncode == 0, dry.stderr
    assert "would delete:" in dry.stdout
    for line in ("incidents: 1", "alerts: 1", "log_entries: 3", "change_events: 1"):
        assert f"  {line}\n" in dry.stdout, dry.stdout
    assert _count(db, "incidents") == 2 and _count(db, "change_events") == 1  # nothing went

    bad = tmp_path / "bad.toml"
    bad.write_text(_config(retention_days=-1).replace('"gw.db"', f'"{db.name}"'))
    refused = cli("db", "prune", "--config", str(bad))
    assert refused.returncode == 2 and "storage.retention_days" in refused.stderr
    assert _count(db, "incidents") == 2

    done = cli("db", "prune", "--config", str(config_path))
    assert done.returncode == 0, done.stderr
    assert "deleted:" in done.stdout and "  log_entries: 3\n" in done.stdout
    assert _count(db, "incidents") == 1 and _count(db, "change_events") == 0
    check = cli("db", "check", "--config", str(config_path))
    assert check.returncode == 0, check.stdout + check.stderr


def _count(db: Path, table: str) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()
