"""`alert-gateway token create|list|revoke`, against the database of a running daemon."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.auth import hash_token
from tests.scaffold import Daemon, cli, config

pytestmark = pytest.mark.slow  # the CLI beside a real daemon process


def test_tokens_are_created_hashed_listed_and_revoked_while_the_daemon_runs(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    daemon = spawn(config())
    created = daemon.cli("token", "create", "--role", "Manager", "--name", "ci")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1].split()[-1]
    assert len(secret) == 20

    rows = daemon.query("SELECT id, role, token_hash, last4, revoked_at FROM api_tokens")
    ((token_id, role, digest, last4, revoked),) = rows
    assert (role, digest, last4, revoked) == ("user", hash_token(secret), secret[-4:], None)
    raw = (tmp_path / "gw.db").read_bytes() + (tmp_path / "gw.db-wal").read_bytes()
    assert secret.encode() not in raw  # only the digest is stored

    listed = daemon.cli("token", "list")
    assert listed.returncode == 0, listed.stderr
    assert token_id in listed.stdout and f"...{secret[-4:]}" in listed.stdout
    assert secret not in listed.stdout

    revoked_run = daemon.cli("token", "revoke", token_id)
    assert revoked_run.returncode == 0, revoked_run.stderr
    assert daemon.scalar("SELECT revoked_at IS NOT NULL FROM api_tokens") == 1
    assert token_id not in daemon.cli("token", "list").stdout
    assert token_id in daemon.cli("token", "list", "--all").stdout

    again = daemon.cli("token", "revoke", token_id)
    assert again.returncode == 1 and "no live token" in again.stderr
    assert daemon.stop() == 0


def test_an_unknown_role_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config(storage=tmp_path / "gw.db"))
    result = cli("token", "create", "--config", str(path), "--role", "boss", "--name", "x")
    assert result.returncode == 2
    assert "unknown role 'boss'" in result.stderr and "limited_user" in result.stderr
    if (tmp_path / "gw.db").exists():
        conn = sqlite3.connect(tmp_path / "gw.db")
        assert conn.execute("SELECT count(*) FROM api_tokens").fetchone() == (0,)
        conn.close()
