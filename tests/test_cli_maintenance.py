"""`alert-gateway maintenance start|list|end` against the database of a running daemon."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from tests.scaffold import Daemon, config, key, service, v2, v2_service

pytestmark = pytest.mark.slow  # the CLI beside a real daemon process

KEY = key("cli-maint")
CONFIG = config(v2_service("Checkout", KEY), service("Search"))


def maintenance(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``alert-gateway maintenance ... --config <the daemon's>`` in a subprocess."""
    return daemon.cli("maintenance", *args)


def test_start_list_and_end_while_the_daemon_runs(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(CONFIG)
    started = maintenance(
        daemon,
        "start",
        "--service",
        "Checkout",
        "--minutes",
        "30",
        "--description",
        "db upgrade",
    )
    assert started.returncode == 0, started.stderr
    window_id = started.stdout.split()[3]
    ((stored_id, description, created_by),) = daemon.query(
        "SELECT id, description, created_by FROM maintenance_windows"
    )
    assert (stored_id, description) == (window_id, "db upgrade")
    assert created_by.startswith("cli:")
    with daemon.client() as http:
        assert http.post("/v2/enqueue", json=v2(KEY, dedup_key="quiet")).status_code == 202
    assert daemon.scalar("SELECT count(*) FROM incidents") == 0

    listed = maintenance(daemon, "list")
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    assert window_id in line and "ongoing" in line and "[Checkout]" in line
    assert "db upgrade" in line

    ended = maintenance(daemon, "end", window_id)
    assert (ended.returncode, ended.stdout.strip()) == (
        0,
        f"ended maintenance window {window_id}",
    )
    with daemon.client() as http:
        assert http.post("/v2/enqueue", json=v2(KEY, dedup_key="loud")).status_code == 202
    assert daemon.query("SELECT incident_key FROM incidents") == [("loud",)]
    assert "no open maintenance windows" in maintenance(daemon, "list").stdout
    assert window_id in maintenance(daemon, "list", "--filter", "past").stdout

    again = maintenance(daemon, "end", window_id)
    assert again.returncode == 1
    assert "Cannot cancel a maintenance window from the past" in again.stderr
    assert "Traceback" not in again.stderr


def test_until_several_services_future_delete_and_errors(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(CONFIG)
    search = daemon.scalar("SELECT id FROM services WHERE name = 'Search'")
    started = maintenance(
        daemon,
        "start",
        "--service",
        "Checkout",
        "--service",
        search,
        "--until",
        "2099-01-01T00:00:00Z",
    )
    assert started.returncode == 0, started.stderr
    window_id = started.stdout.split()[3]
    assert sorted(
        r[0] for r in daemon.query("SELECT service_id FROM maintenance_window_services")
    ) == sorted([search, daemon.scalar("SELECT id FROM services WHERE name = 'Checkout'")])
    assert maintenance(daemon, "end", window_id).stdout.startswith("ended")

    for args, message in (
        (("start", "--service", "Nope"), "error: Service Nope not found"),
        (
            ("start", "--service", "Search", "--until", "2001-01-01T00:00:00Z"),
            "'end_time' must be in the future",
        ),
        (("start", "--service", "Search", "--until", "soon"), "'--until' must be an ISO"),
        (("end", "PNOPE00"), "error: Maintenance Window PNOPE00 not found"),
    ):
        result = maintenance(daemon, *args)
        assert result.returncode == 1, result.stdout
        assert message in result.stderr and "Traceback" not in result.stderr
    both = maintenance(daemon, "start", "--service", "Search", "--minutes", "5", "--until", "x")
    assert both.returncode == 2 and "not both" in both.stderr
    assert daemon.scalar("SELECT count(*) FROM maintenance_windows") == 1
