"""``alert-gateway db copy``: a SQLite store the daemon wrote, into PostgreSQL, served again.

The source is made by a real daemon on SQLite (services, integrations, incidents, alerts,
log entries, users, a schedule, an escalation policy, timers, webhook messages and their
attempts, a maintenance window, a token); the copy goes to a real PostgreSQL schema; a
daemon started on that schema must serve the same incidents over REST, and go on writing.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateway.store.postgres import with_search_path
from tests import pgserver
from tests.conftest import StoreTarget
from tests.escalation_support import person, policy
from tests.incident_helpers import headers
from tests.scaffold import Daemon, cli, config, daemon_running, key, v2, v2_service

pytestmark = pytest.mark.slow  # real daemons and the CLI in subprocesses

WEB = key("copy-web")
DB = key("copy-db")
PUBLIC = "http://gw.example"  # both daemons build the same links, whatever their ports

BLOCKS = (
    person("Ada Lovelace", "ada@copy.example")
    + person("Bob Ünïcode", "bob@copy.example")
    + "\n[[schedules]]\n"
    'name = "Primary"\n'
    'time_zone = "Europe/London"\n'
    "\n[[schedules.layers]]\n"
    'name = "Days"\n'
    "start = 2026-03-27T09:00:00+01:00\n"
    "rotation_turn_length_seconds = 86400\n"
    'users = ["ada@copy.example", "bob@copy.example"]\n'
    + policy("On call", (15, ["ada@copy.example", "schedule:Primary"]))
    + "\n[[webhook_subscriptions]]\n"
    'name = "watch"\n'
    'url = "http://127.0.0.1:9/pd"\n'  # nobody listens: the messages wait, with attempts
    'events = ["incident.triggered", "incident.acknowledged", "incident.resolved"]\n'
    'secret = "copy-secret-0123456789"\n'
)


def _config(**storage: Any) -> str:
    text = config(
        v2_service(
            "Web",
            WEB,
            acknowledgement_timeout=600,
            auto_resolve_timeout=3600,
            escalation_policy="On call",
        ),
        v2_service("Db", DB),
        server={"public_url": PUBLIC},
        storage=storage.get("path"),
        maintenance_windows=[
            {
                "services": ["Db"],
                "start": datetime(2099, 1, 1, tzinfo=UTC),
                "end": datetime(2099, 1, 2, tzinfo=UTC),
            }
        ],
    )
    if "url" in storage:
        text += f'\n[storage]\npath = "pg.db"\nurl = "{storage["url"]}"\n'
    return text + BLOCKS


def _wait(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _token(daemon: Daemon) -> str:
    made = daemon.cli("token", "create", "--role", "admin", "--name", "copy")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1].split()[-1]


def _served(daemon: Daemon, token: str) -> dict[str, Any]:
    """What REST says about every incident, its timeline, and the services."""
    h = headers(token)
    with daemon.client() as http:
        listed = http.get(
            "/incidents",
            headers=h,
            params={"statuses[]": ["triggered", "acknowledged", "resolved"], "limit": 100},
        )
        assert listed.status_code == 200, listed.text
        incidents = listed.json()["incidents"]
        timelines = {}
        for incident in incidents:
            got = http.get(f"/incidents/{incident['id']}/log_entries", headers=h)
            assert got.status_code == 200, got.text
            timelines[incident["id"]] = got.json()["log_entries"]
        services = http.get("/services", headers=h, params={"include[]": "integrations"})
        assert services.status_code == 200, services.text
    return {"incidents": incidents, "timelines": timelines, "services": services.json()}


def _rows(conn: Any, table: str) -> list[str]:
    """Every row of ``table``, each value in one plain form, sorted: an independent look."""

    def plain(value: Any) -> Any:
        if isinstance(value, memoryview | bytes):
            return bytes(value).hex()
        return value

    cursor = conn.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cursor.description]
    return sorted(repr(sorted(zip(names, map(plain, row), strict=True))) for row in cursor)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """A SQLite store written by a real daemon; its token and what it served, stopped."""
    workdir = tmp_path_factory.mktemp("source")
    with daemon_running(workdir, _config(path="gw.db")) as daemon:
        token = _token(daemon)
        h = headers(token)
        with daemon.client() as http:
            for n in range(7):
                body = v2(WEB, dedup_key=f"web-{n}", custom_details={"note": f"ünï {n} ✓"})
                assert http.post("/v2/enqueue", json=body).status_code == 202
            for n in range(3):
                assert http.post("/v2/enqueue", json=v2(DB, dedup_key=f"db-{n}")).status_code == 202
            assert http.post("/v2/enqueue", json=v2(WEB, "acknowledge", "web-1")).status_code == 202
            assert http.post("/v2/enqueue", json=v2(WEB, "resolve", "web-2")).status_code == 202
            note = {"note": {"content": "looking at it"}}
            assert http.post("/incidents/1/notes", headers=h, json=note).is_success
            ack = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
            assert http.put("/incidents/4", headers=h, json=ack).is_success
        _wait(
            lambda: daemon.scalar("SELECT count(*) FROM outbox_attempts") > 0,
            "a webhook delivery attempt",
        )
        served = _served(daemon, token)
    yield daemon.db_path, token, served


def test_copy_then_serve_the_same_incidents_from_postgres(
    source: tuple[Path, str, dict[str, Any]], postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    path, token, before = source
    assert postgres.url is not None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    copied = cli("db", "copy", "--from", str(path), "--to", postgres.url, "--batch-size", "3")
    assert copied.returncode == 0, copied.stdout + copied.stderr
    assert "every row count and checksum matches" in copied.stdout
    assert "MISMATCH" not in copied.stdout
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # read-only

    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with psycopg.connect(postgres.url) as dst:
        tables = [
            r[0]
            for r in src.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            count = src.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            # The printed table names each table with both counts.
            assert any(
                line.split()[:3] == [table, str(count), str(count)]
                for line in copied.stdout.splitlines()
            ), (table, copied.stdout)
            assert _rows(dst, table) == _rows(src, table), table
        for table in ("incidents", "alerts", "log_entries", "users", "schedules", "timers"):
            assert src.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
        for table in ("escalation_rules", "outbox_messages", "outbox_attempts", "api_tokens"):
            assert src.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
        (copied_seq,) = dst.execute("SELECT max(seq) FROM log_entries").fetchone() or (0,)
    src.close()

    daemon = spawn(_config(url=postgres.url), name="pg")
    after = _served(daemon, token)
    assert after == before
    # The node goes on where the file left off: the next incident number, new log entries
    # numbered after the copied ones (the identity sequence was moved past them).
    with daemon.client() as http:
        assert http.post("/v2/enqueue", json=v2(WEB, dedup_key="after-copy")).status_code == 202
    with psycopg.connect(postgres.url) as dst:
        number = dst.execute(
            "SELECT number FROM incidents WHERE incident_key = 'after-copy'"
        ).fetchone()
        assert number == (max(i["incident_number"] for i in before["incidents"]) + 1,)
        newer = dst.execute("SELECT count(*) FROM log_entries WHERE seq > %s", (copied_seq,))
        assert newer.fetchone() != (0,)
    assert daemon.stop() == 0


def _postgres_count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]


def _schema_version(url: str) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        if not found or not found[0]:
            return 0
        return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])  # type: ignore[index]


def test_bad_targets_are_refused_with_a_reason_and_change_nothing(
    source: tuple[Path, str, dict[str, Any]], postgres: StoreTarget
) -> None:
    path = source[0]
    assert postgres.url is not None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def copy(*args: str) -> Any:
        return cli("db", "copy", "--from", str(path), *args)

    not_pg = copy("--to", "mysql://db.example/alerts")
    assert not_pg.returncode == 2 and "must be a postgresql://" in not_pg.stderr
    with_password = copy("--to", "postgresql://gw:hunter2@127.0.0.1/x")
    assert with_password.returncode == 2 and "must not hold a password" in with_password.stderr
    assert "hunter2" not in with_password.stderr
    unreachable = copy("--to", "postgresql://postgres@127.0.0.1:1/alerts?connect_timeout=3")
    assert unreachable.returncode == 1, unreachable.stderr
    assert "error: cannot connect to postgresql://postgres@127.0.0.1:1/alerts" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    empty = path.parent / "empty-password"
    empty.write_text("\n")
    for password_file, reason in ((empty, "is empty"), (path.parent / "none", "cannot read")):
        refused = copy("--to", postgres.url, "--password-file", str(password_file))
        assert refused.returncode == 2 and reason in refused.stderr, refused.stderr
    missing = cli("db", "copy", "--from", str(path.parent / "nope.db"), "--to", postgres.url)
    assert missing.returncode == 1 and "no SQLite database at" in missing.stderr
    assert _schema_version(postgres.url) == 0  # nothing created

    # A target that holds data (a service) is refused before anything is written.
    conn = postgres.connect()  # migrates
    try:
        conn.execute(
            "INSERT INTO services (id, name, created_at, updated_at)"
            " VALUES ('PLIVE01', 'Live', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
        )
    finally:
        conn.close()
    full = copy("--to", postgres.url)
    assert full.returncode == 1
    assert "already holds data (in services)" in full.stderr, full.stderr
    assert "never merges or overwrites" in full.stderr
    assert _postgres_count(postgres.url, "services") == 1
    assert _postgres_count(postgres.url, "incidents") == 0
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_a_source_at_another_schema_version_is_refused(
    source: tuple[Path, str, dict[str, Any]], postgres: StoreTarget, tmp_path: Path
) -> None:
    assert postgres.url is not None
    old = tmp_path / "old.db"
    old.write_bytes(source[0].read_bytes())
    with sqlite3.connect(old) as conn:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        conn.execute(f"PRAGMA user_version = {version - 1}")
    refused = cli("db", "copy", "--from", str(old), "--to", postgres.url)
    assert refused.returncode == 1
    assert f"schema version {version - 1}, this gateway's is {version}" in refused.stderr
    assert "alert-gateway db migrate" in refused.stderr
    with sqlite3.connect(old) as conn:
        conn.execute(f"PRAGMA user_version = {version + 1}")
    newer = cli("db", "copy", "--from", str(old), "--to", postgres.url)
    assert newer.returncode == 1 and "newer than this gateway's" in newer.stderr
    assert _schema_version(postgres.url) == 0


def test_a_mismatch_is_printed_and_rolled_back(
    source: tuple[Path, str, dict[str, Any]], postgres: StoreTarget
) -> None:
    """A target that alters what it is given (a trigger here; a broken disk, an encoding,
    a driver bug elsewhere) fails the verification, and nothing is kept."""
    assert postgres.url is not None
    conn = postgres.connect()  # migrates: the copy finds an empty database at its version
    try:
        conn.execute(
            "CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN NEW.title := NEW.title || '!'; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER tamper BEFORE INSERT ON incidents"
            " FOR EACH ROW EXECUTE FUNCTION tamper()"
        )
    finally:
        conn.close()
    failed = cli("db", "copy", "--from", str(source[0]), "--to", postgres.url)
    assert failed.returncode == 1
    (line,) = [row for row in failed.stdout.splitlines() if row.startswith("incidents ")]
    assert line.endswith("MISMATCH"), failed.stdout
    assert "the copy does not match the source in: incidents" in failed.stderr
    assert "rolled back" in failed.stderr
    for table in ("incidents", "services", "log_entries"):
        assert _postgres_count(postgres.url, table) == 0, table


def test_a_pg_dump_of_the_copy_restores_and_serves(
    source: tuple[Path, str, dict[str, Any]],
    postgres: StoreTarget,
    spawn: Callable[..., Daemon],
    tmp_path: Path,
) -> None:
    """docs/operations.md's backup and restore: pg_dump, pg_restore into a new database,
    and a node on it serves the same incidents and goes on numbering."""
    path, token, before = source
    assert postgres.url is not None
    copied = cli("db", "copy", "--from", str(path), "--to", postgres.url)
    assert copied.returncode == 0, copied.stdout + copied.stderr
    database = pgserver.session_database()
    schema = postgres.url.rsplit("search_path%3D", 1)[1]
    dump = tmp_path / "gw.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--schema", schema, "--file", str(dump), database],
        check=True,
        timeout=120,
    )
    name = f"agw_restore_{secrets.token_hex(4)}"
    with psycopg.connect(pgserver.SERVER, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        restored = database.rsplit("/", 1)[0] + "/" + name
        subprocess.run(
            ["pg_restore", "--no-owner", "--dbname", restored, str(dump)], check=True, timeout=120
        )
        daemon = spawn(_config(url=with_search_path(restored, schema)), name="restored")
        assert _served(daemon, token) == before
        with daemon.client() as http:
            answer = http.post("/v2/enqueue", json=v2(WEB, dedup_key="after-restore"))
            assert answer.status_code == 202, answer.text
        assert daemon.stop() == 0
    finally:
        with psycopg.connect(pgserver.SERVER, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_nul_character_is_refused_by_name_or_replaced_on_request(
    source: tuple[Path, str, dict[str, Any]], postgres: StoreTarget, tmp_path: Path
) -> None:
    """SQLite's text holds a NUL (the daemon stores one sent in an event's summary);
    PostgreSQL's cannot. The copy names where it is, or copies it as U+FFFD when asked."""
    assert postgres.url is not None
    nul = tmp_path / "nul.db"
    nul.write_bytes(source[0].read_bytes())
    with sqlite3.connect(nul) as conn:
        conn.execute("UPDATE alerts SET summary = 'disk' || char(0) || 'full' WHERE rowid = 1")
        (alert_id,) = conn.execute("SELECT id FROM alerts WHERE rowid = 1").fetchone()
    refused = cli("db", "copy", "--from", str(nul), "--to", postgres.url)
    assert refused.returncode == 1
    assert (
        f"alerts.summary holds a NUL character in the row whose id is '{alert_id}'"
        in refused.stderr
    ), refused.stderr
    assert "--replace-nul" in refused.stderr
    assert _postgres_count(postgres.url, "alerts") == 0
    replaced = cli("db", "copy", "--from", str(nul), "--to", postgres.url, "--replace-nul")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert "replaced NUL characters with U+FFFD in 1 value(s) of alerts" in replaced.stdout
    with psycopg.connect(postgres.url) as conn:
        found = conn.execute("SELECT summary FROM alerts WHERE id = %s", (alert_id,)).fetchone()
    assert found == ("disk\ufffdfull",)
