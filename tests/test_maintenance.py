"""Maintenance windows from the configuration: no new incidents, no resolving via events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.scaffold import Daemon, config, key, v2, v2_service

KEY = key("maint")
CHECKOUT = v2_service("Checkout", KEY)
BASE = config(CHECKOUT)
WINDOW = {
    "services": ["Checkout"],
    "start": datetime(2020, 1, 1, tzinfo=UTC),
    "end": datetime(2099, 1, 1, tzinfo=UTC),
    "description": "database upgrade",
}


@pytest.mark.slow  # two daemon starts in a subprocess
def test_maintenance_suppresses_new_incidents_and_event_resolves(
    spawn: Callable[..., Daemon],
) -> None:
    daemon = spawn(BASE)
    with daemon.client() as http:
        assert http.post("/v2/enqueue", json=v2(KEY, dedup_key="before")).status_code == 202
    assert daemon.stop() == 0

    daemon.config_path.write_text(config(CHECKOUT, maintenance_windows=[WINDOW]))
    daemon.start()
    with daemon.client() as http:
        r = http.post("/v2/enqueue", json=v2(KEY, dedup_key="during"))
        assert (r.status_code, r.json()["dedup_key"]) == (202, "during")
        r = http.post("/v2/enqueue", json=v2(KEY, "resolve", "before"))
        assert r.status_code == 202
    assert daemon.query("SELECT alert_key, status FROM alerts") == [("before", "triggered")]
    assert daemon.scalar("SELECT count(*) FROM incidents") == 1
    assert daemon.query(
        "SELECT summary FROM log_entries WHERE type = 'suppress_log_entry' ORDER BY seq"
    ) == [
        ("Suppressed trigger: service in maintenance",),
        ("Suppressed resolve: service in maintenance",),
    ]
    assert daemon.stop() == 0

    daemon.config_path.write_text(BASE)  # the window is gone from the file
    daemon.start()
    with daemon.client() as http:
        assert http.post("/v2/enqueue", json=v2(KEY, "resolve", "before")).status_code == 202
    assert daemon.query("SELECT status FROM incidents") == [("resolved",)]
    assert daemon.scalar("SELECT count(*) FROM maintenance_windows") == 0
    assert daemon.stop() == 0
