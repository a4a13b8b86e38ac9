"""SIGKILL and overdue timers: after a restart every due action fires once, never twice.

A real ``alert-gateway serve`` process on the wall clock: its services auto-resolve after
4 seconds. The daemon is killed while the auto-resolutions are due (some fired, some not,
some perhaps mid-commit), restarted, and every incident must end resolved with exactly
one resolution in its timeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.scaffold import Daemon, config, key, v2, v2_service

KEY = key("timer-crash")
INCIDENTS = 150


def _resolutions(daemon: Daemon) -> dict[str, int]:
    rows = daemon.query(
        "SELECT i.id, (SELECT count(*) FROM log_entries e WHERE e.incident_id = i.id"
        " AND e.type = 'resolve_log_entry') FROM incidents i"
    )
    return {incident: count for incident, count in rows}


@pytest.mark.slow
def test_overdue_timers_fire_once_after_sigkill(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    text = config(v2_service("Web", KEY, auto_resolve_timeout=4, acknowledgement_timeout=0))
    daemon = spawn(text)
    with daemon.client() as http:
        for n in range(INCIDENTS):
            answer = http.post("/v2/enqueue", json=v2(KEY, dedup_key=f"crash-{n}"))
            assert answer.status_code == 202
    # Kill while the resolutions are falling due: whatever had fired is on disk with its
    # row gone; whatever had not is still a due row.
    deadline = time.monotonic() + 15
    while daemon.scalar("SELECT count(*) FROM timers") == INCIDENTS:
        assert time.monotonic() < deadline, "no timer fired"
        time.sleep(0.005)
    daemon.kill()
    left = daemon.scalar("SELECT count(*) FROM timers")
    before = _resolutions(daemon)
    assert all(count <= 1 for count in before.values())
    assert sum(before.values()) + left == INCIDENTS
    assert left > 0  # the kill came while resolutions were still due (they fall due over ~2 s)

    time.sleep(0.5)  # every remaining timer is now overdue
    daemon.start()
    deadline = time.monotonic() + 20
    while daemon.scalar("SELECT count(*) FROM timers") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert daemon.stop() == 0
    after = _resolutions(daemon)
    assert len(after) == INCIDENTS and set(after.values()) == {1}, after
    statuses = daemon.query("SELECT status, count(*) FROM incidents GROUP BY status")
    assert statuses == [("resolved", INCIDENTS)]
    assert daemon.scalar("SELECT count(*) FROM timers") == 0
    alerts = daemon.query("SELECT status, count(*) FROM alerts GROUP BY status")
    assert alerts == [("resolved", INCIDENTS)]
