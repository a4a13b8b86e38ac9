"""`alert-gateway db backup` and `db check`, while the daemon runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.scaffold import Daemon, config, key, v2, v2_service

pytestmark = pytest.mark.slow  # the CLI beside a real daemon process

KEY = key("backup")
CONFIG = config(v2_service("Kept", KEY))


def test_online_backup_and_check(tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(CONFIG)
    with daemon.client() as http:
        for i in range(20):
            assert http.post("/v2/enqueue", json=v2(KEY, dedup_key=f"b{i}")).status_code == 202
    copy = tmp_path / "copy.db"
    result = daemon.cli("db", "backup", str(copy))
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (20,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    again = daemon.cli("db", "backup", str(copy))
    assert again.returncode == 1 and "already exists" in again.stderr

    check = daemon.cli("db", "check")
    assert check.returncode == 0, check.stderr
    assert "integrity: ok" in check.stdout and "alerts=20" in check.stdout
    assert daemon.stop() == 0


def test_check_fails_on_a_corrupt_database(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(CONFIG)
    assert daemon.stop() == 0
    data = bytearray(daemon.db_path.read_bytes())
    page = 4096
    for start in range(page, len(data), page):  # scribble inside every page after the first
        data[start + 20 : start + 60] = b"\xff" * 40
    daemon.db_path.write_bytes(bytes(data))
    result = daemon.cli("db", "check")
    assert result.returncode == 1
    assert "FAILED" in result.stderr
