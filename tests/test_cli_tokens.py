"""`alert-gateway token create|list|revoke`, against the database of a running daemon."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.auth import hash_token
from tests.support import Daemon

pytestmark = pytest.mark.slow  # the CLI beside a real daemon process

CONFIG = """
[storage]
path = "gw.db"
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tokens_are_created_hashed_listed_and_revoked_while_the_daemon_runs(
    tmp_path: Path,
) -> None:
    daemon = Daemon(tmp_path, CONFIG)
    try:
        daemon.start()
        config = str(daemon.config_path)
        created = cli("token", "create", "--config", config, "--role", "Manager", "--name", "ci")
        assert created.returncode == 0, created.stderr
        secret = created.stdout.strip().splitlines()[-1].split()[-1]
        assert len(secret) == 20

        rows = daemon.query("SELECT id, role, token_hash, last4, revoked_at FROM api_tokens")
        ((token_id, role, digest, last4, revoked),) = rows
        assert (role, digest, last4, revoked) == ("user", hash_token(secret), secret[-4:], None)
        raw = (tmp_path / "gw.db").read_bytes() + (tmp_path / "gw.db-wal").read_bytes()
        assert secret.encode() not in raw  # only the digest is stored

        listed = cli("token", "list", "--config", config)
        assert listed.returncode == 0, listed.stderr
        assert token_id in listed.stdout and f"...{secret[-4:]}" in listed.stdout
        assert secret not in listed.stdout

        revoked_run = cli("token", "revoke", "--config", config, token_id)
        assert revoked_run.returncode == 0, revoked_run.stderr
        assert daemon.scalar("SELECT revoked_at IS NOT NULL FROM api_tokens") == 1
        assert token_id not in cli("token", "list", "--config", config).stdout
        assert token_id in cli("token", "list", "--all", "--config", config).stdout

        again = cli("token", "revoke", "--config", config, token_id)
        assert again.returncode == 1 and "no live token" in again.stderr
        assert daemon.stop() == 0
    finally:
        daemon.kill()


def test_an_unknown_role_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "gw.db"}"\n')
    result = cli("token", "create", "--config", str(config), "--role", "boss", "--name", "x")
    assert result.returncode == 2
    assert "unknown role 'boss'" in result.stderr and "limited_user" in result.stderr
    if (tmp_path / "gw.db").exists():
        import sqlite3

        conn = sqlite3.connect(tmp_path / "gw.db")
        assert conn.execute("SELECT count(*) FROM api_tokens").fetchone() == (0,)
        conn.close()
