"""The bench scripts' own logic: the 1M-alert preload's row shape, the storm's stop rule."""

from __future__ import annotations

import sqlite3
import time
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType

from gateway.clock import SystemClock
from gateway.store import open_sync
from gateway.store.queries import Tx

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _script(name: str) -> ModuleType:
    loader = SourceFileLoader(f"bench_{name}", str(BENCH / name))
    module = module_from_spec(spec_from_loader(loader.name, loader))  # type: ignore[arg-type]
    loader.exec_module(module)
    return module


def _database(path: Path) -> None:
    conn = open_sync(path)
    conn.execute("BEGIN IMMEDIATE")
    tx = Tx(conn, SystemClock())
    service = tx.insert_service(name="Bench")
    tx.insert_integration(
        service_id=service.id,
        name="v2",
        type="events_api_v2_inbound_integration",
        vendor_id=None,
        integration_key="a" * 32,
    )
    conn.execute("COMMIT")
    conn.close()


def test_preload_writes_rows_shaped_like_the_gateways(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    _database(db)
    _script("run").preload(db, 3)
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT number, status, alert_grouping_key, resolved_at FROM incidents ORDER BY number"
    ).fetchall()
    assert [r[0] for r in rows] == [1, 2, 3]
    # Each value in its own column (a positional INSERT once put the timestamp in
    # alert_grouping_key and 'single' in resolved_at).
    assert all(r[1:] == ("resolved", "single", "2026-01-01T00:00:00.000Z") for r in rows)
    assert conn.execute("SELECT count(*) FROM alerts WHERE status = 'resolved'").fetchone() == (3,)
    assert conn.execute("SELECT count(*) FROM log_entries").fetchone() == (6,)
    conn.close()


def test_storm_stops_waiting_once_every_trigger_is_stored(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _database(db)
    _script("run").preload(db, 5)  # 10 timeline entries
    storm = _script("storm")
    started = time.perf_counter()
    assert storm.wait_for_storm(db, 10, started) < 2


def test_bench_config_is_valid_and_carries_the_cpu_affinity(tmp_path: Path) -> None:
    from gateway.config import parse_settings

    run = _script("run")
    for written, parsed in (('"auto"', "auto"), ('"off"', "off"), ("[0]", (0,))):
        text = run.config_text(tmp_path / "b.db", cloudwatch=True, cpu_affinity=written)
        settings = parse_settings(text, source=tmp_path / "b.toml")
        assert settings.server.cpu_affinity == parsed
        assert len(settings.services[0].integrations) == len(run.ROUTING_KEYS) + 1
