"""Operating on PostgreSQL: ``check-config`` reaches the store and names its schema version;
a node refuses a schema newer than it knows, on either backend, in one sentence."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import psycopg
import pytest

from gateway.store.schema import SCHEMA_VERSION
from gateway.store.services import key_digest
from tests.conftest import StoreTarget
from tests.scaffold import Daemon, cli, config, key, v2_service

pytestmark = pytest.mark.slow  # the CLI and daemons in subprocesses

KEY = key("pg-ops")


def _postgres_config(url: str) -> str:
    return config(v2_service("Pg", KEY), storage=None) + (
        f'\n[storage]\npath = "gw.db"\nurl = "{url}"\n'
    )


def test_check_config_reaches_postgres_and_reports_its_schema_version(
    postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    assert postgres.url is not None
    daemon = spawn(_postgres_config(postgres.url), start=False)
    redacted = postgres.url  # no password in it to hide

    empty = cli("check-config", str(daemon.config_path))
    assert empty.returncode == 0, empty.stderr
    assert f"PostgreSQL {redacted} is reachable at schema version 0" in empty.stdout
    assert f"{SCHEMA_VERSION} migration(s) pending" in empty.stdout
    with psycopg.connect(postgres.url) as conn:  # a check migrates nothing
        assert conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,)

    assert daemon.cli("db", "migrate").returncode == 0
    # A runtime deletion in PostgreSQL that the file contradicts: only a check that reads
    # this database can see it.
    with psycopg.connect(postgres.url) as conn:
        conn.execute(
            "INSERT INTO deleted_integration_keys (key_hash, integration_id, deleted_at)"
            " VALUES (%s, 'PGONE01', '2026-01-01T00:00:00Z')",
            (key_digest(KEY),),
        )
    current = cli("check-config", str(daemon.config_path))
    assert current.returncode == 0, current.stderr
    assert "synchronous_commit" not in current.stderr  # the server's default: on
    assert (
        f"checked against PostgreSQL {redacted} (reachable, schema version {SCHEMA_VERSION}, "
        "up to date)"
    ) in current.stdout
    assert "deleted" in current.stderr and "1 block(s) skipped" in current.stdout
    with psycopg.connect(postgres.url) as conn:  # rolled back: nothing provisioned
        assert conn.execute("SELECT count(*) FROM services").fetchone() == (0,)

    with psycopg.connect(postgres.url) as conn:
        conn.execute("UPDATE schema_version SET version = version + 1")
    newer = cli("check-config", str(daemon.config_path))
    assert newer.returncode == 2
    assert (
        f"storage.url: the database's schema version {SCHEMA_VERSION + 1} is newer than this "
        f"gateway's {SCHEMA_VERSION}: upgrade the gateway"
    ) in newer.stderr


def test_check_config_names_an_unreachable_postgres(spawn: Callable[..., Daemon]) -> None:
    url = "postgresql://alert_gateway@127.0.0.1:1/alerts?connect_timeout=3"
    daemon = spawn(_postgres_config(url), start=False)
    result = cli("check-config", str(daemon.config_path))
    assert result.returncode == 2
    assert f"storage.url: cannot reach PostgreSQL {url}:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_a_node_refuses_a_newer_schema_in_one_sentence(
    backend_name: str, request: pytest.FixtureRequest, spawn: Callable[..., Daemon]
) -> None:
    if backend_name == "postgresql":
        postgres: StoreTarget = request.getfixturevalue("postgres")
        assert postgres.url is not None
        daemon = spawn(_postgres_config(postgres.url), start=False)
        conn = postgres.connect()  # migrates
        try:
            conn.execute("UPDATE schema_version SET version = version + 1")
        finally:
            conn.close()
        where = postgres.url
    else:
        daemon = spawn(config(v2_service("Lite", KEY)), start=False)
        assert daemon.cli("db", "migrate").returncode == 0
        with sqlite3.connect(daemon.db_path) as conn:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        where = str(daemon.db_path)
    with pytest.raises(RuntimeError, match="daemon exited 1"):
        daemon.start()
    output = daemon.output()
    assert (
        f"error: {where}: database schema version {SCHEMA_VERSION + 1} is newer than this "
        f"gateway's {SCHEMA_VERSION}: upgrade the gateway"
    ) in output
    assert "Traceback" not in output


def test_a_node_whose_postgres_is_unreachable_exits_1_in_one_sentence(
    spawn: Callable[..., Daemon],
) -> None:
    """systemd's Restart=on-failure then starts it again until the server answers."""
    url = "postgresql://alert_gateway@127.0.0.1:1/alerts?connect_timeout=3"
    daemon = spawn(_postgres_config(url), start=False)
    with pytest.raises(RuntimeError, match="daemon exited 1"):
        daemon.start()
    output = daemon.output()
    assert f"error: cannot open {url}: " in output, output
    assert "Traceback" not in output


def test_synchronous_commit_off_is_warned_at_check_and_at_start(
    postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    """Acknowledged events are durable only if COMMIT waits for the disk: a URL (or role,
    or server) that turns synchronous_commit off is named, by check-config and at start."""
    assert postgres.url is not None
    url = postgres.url + "%20-csynchronous_commit%3Doff"  # a second libpq option
    daemon = spawn(_postgres_config(url), start=False)
    checked = cli("check-config", str(daemon.config_path))
    assert checked.returncode == 0, checked.stderr
    assert (
        "warning: " in checked.stderr and "storage.url: synchronous_commit is off" in checked.stderr
    )
    assert "block(s) skipped" not in checked.stdout  # a warning about the server, not a block
    daemon.start()
    (line,) = daemon.wait_for_log("store.synchronous_commit_off")
    assert line["level"] == "warning" and "acknowledged" in line["reason"]
    assert daemon.stop() == 0
