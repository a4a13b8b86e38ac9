"""`alert-gateway db backup` and `db check`, while the daemon runs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import Daemon, key, v2

pytestmark = pytest.mark.slow  # the CLI beside a real daemon process

KEY = key("backup")
CONFIG = f"""
[storage]
path = "gw.db"

[[services]]
name = "Kept"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{KEY}"
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_online_backup_and_check(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, CONFIG)
    try:
        daemon.start()
        with daemon.client() as http:
            for i in range(20):
                assert http.post("/v2/enqueue", json=v2(KEY, dedup_key=f"b{i}")).status_code == 202
        copy = tmp_path / "copy.db"
        result = cli("db", "backup", "--config", str(daemon.config_path), str(copy))
        assert result.returncode == 0, result.stderr
        conn = sqlite3.connect(copy)
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (20,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()
        again = cli("db", "backup", "--config", str(daemon.config_path), str(copy))
        assert again.returncode == 1 and "already exists" in again.stderr

        check = cli("db", "check", "--config", str(daemon.config_path))
        assert check.returncode == 0, check.stderr
        assert "integrity: ok" in check.stdout and "alerts=20" in check.stdout
        assert daemon.stop() == 0
    finally:
        daemon.kill()


def test_check_fails_on_a_corrupt_database(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, CONFIG)
    daemon.start()
    assert daemon.stop() == 0
    data = bytearray(daemon.db_path.read_bytes())
    page = 4096
    for start in range(page, len(data), page):  # scribble inside every page after the first
        data[start + 20 : start + 60] = b"\xff" * 40
    daemon.db_path.write_bytes(bytes(data))
    result = cli("db", "check", "--config", str(daemon.config_path))
    assert result.returncode == 1
    assert "FAILED" in result.stderr
