"""The daemon hides its start-up objects from the garbage collector (short full collections)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.scaffold import Daemon, config

pytestmark = pytest.mark.slow  # a real daemon process


def test_serve_freezes_what_start_up_built_before_taking_load(
    spawn: Callable[..., Daemon],
) -> None:
    daemon = spawn(config())
    try:
        frozen = daemon.wait_for_log("daemon.gc_frozen")[0]["objects"]
        events = [line.get("event") for line in daemon.log_lines()]
    finally:
        assert daemon.stop() == 0
    # Quart, Hypercorn, the plugins and the settings: tens of thousands of objects.
    assert frozen > 20_000
    assert events.index("daemon.ready") < events.index("daemon.gc_frozen")
