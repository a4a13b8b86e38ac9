"""The daemon on PostgreSQL, end to end: a real process, real HTTP, the real CLI."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from tests.conftest import StoreTarget
from tests.scaffold import Daemon, config, key, v2, v2_service

KEY = key("postgres-e2e")


def _postgres_config(url: str) -> str:
    # The scaffold writes [storage] path; the URL goes in the same table.
    return config(v2_service("Pg", KEY), storage=None) + (
        f'\n[storage]\npath = "gw.db"\nurl = "{url}"\n'
    )


@pytest.mark.slow  # a real daemon process
def test_v2_trigger_ack_resolve_and_dedup_on_postgres(
    postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    daemon = spawn(_postgres_config(postgres.url), start=False)
    pending = daemon.cli("db", "status")
    assert pending.returncode == 1 and "pending" in pending.stdout, pending.stdout
    migrated = daemon.cli("db", "migrate")
    assert migrated.returncode == 0 and "from schema version 0" in migrated.stdout
    daemon.start()
    with daemon.client() as client:
        for action in ("trigger", "trigger", "acknowledge", "resolve"):
            answer = client.post("/v2/enqueue", json=v2(KEY, action, "disk-full"))
            assert answer.status_code == 202, answer.text
            assert answer.json()["dedup_key"] == "disk-full"
        client.post("/v2/enqueue", json=v2(KEY, "trigger", "other"))
        assert client.get("/readyz").status_code == 200
    status = daemon.cli("db", "status")
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
    # The other commands read and write the same PostgreSQL database, never a file.
    listed = daemon.cli("services", "list")
    assert listed.returncode == 0 and "Pg" in listed.stdout, listed.stdout + listed.stderr
    backup = daemon.cli("db", "backup", str(daemon.workdir / "copy.db"))
    assert backup.returncode == 1 and "PostgreSQL" in backup.stderr
    assert not daemon.db_path.exists()
    with psycopg.connect(postgres.url) as conn:
        rows = conn.execute("SELECT incident_key, status FROM incidents ORDER BY number").fetchall()
        alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()
    # Two triggers with one dedup key made one incident, which the ack and resolve moved.
    assert rows == [("disk-full", "resolved"), ("other", "triggered")]
    assert alerts == (2,)


def test_storage_url_is_validated_with_key_and_line() -> None:
    from gateway.config import parse_settings
    from gateway.errors import ConfigError

    for url, message in (
        ("mysql://h/db", "postgresql://"),
        ("postgresql://u:secret@h/db", "must not hold a password"),
    ):
        with pytest.raises(ConfigError, match=message) as caught:
            parse_settings(f'[storage]\nurl = "{url}"\n')
        assert caught.value.key == "storage.url" and caught.value.line == 2
        assert "secret" not in str(caught.value)
