"""``[server] cpu_affinity``: the daemon keeps every thread on the CPUs it was given."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.affinity import AffinityError, choose, current_cpu, pin
from gateway.config import parse_settings
from gateway.errors import ConfigError
from tests.scaffold import Daemon, config, key, v2, v2_service

KEY = key("affinity")
ALLOWED = sorted(os.sched_getaffinity(0))
needs_two_cpus = pytest.mark.skipif(
    len(ALLOWED) < 2, reason="pinning is only observable with two or more usable CPUs"
)


def pinned(affinity: str | list[int]) -> str:
    return config(v2_service("Pinned", KEY), server={"cpu_affinity": affinity})


def thread_cpus(pid: int) -> dict[str, str]:
    """Each thread's name and ``Cpus_allowed_list`` as /proc shows them."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        status = (task / "status").read_text()
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        found[f"{task.name}:{fields['Name']}"] = fields["Cpus_allowed_list"].strip()
    return found


# -- choosing -------------------------------------------------------------------------------
def test_auto_stays_on_the_cpu_the_process_started_on() -> None:
    assert choose("auto", {0, 1, 2, 3}, 2) == {2}


def test_auto_falls_back_to_the_highest_allowed_cpu() -> None:
    assert choose("auto", {0, 1}, None) == {1}
    assert choose("auto", {0, 1}, 7) == {1}  # a CPU outside the mask is never chosen


def test_auto_leaves_a_single_cpu_process_alone() -> None:
    assert choose("auto", {3}, 3) is None


def test_off_and_the_whole_mask_change_nothing() -> None:
    assert choose("off", {0, 1}, 0) is None
    assert choose((0, 1), {0, 1}, 0) is None


def test_a_list_pins_to_exactly_those_cpus() -> None:
    assert choose((0,), {0, 1, 2}, 2) == {0}


def test_a_cpu_outside_the_mask_is_an_error_naming_it() -> None:
    with pytest.raises(AffinityError, match=r"CPU 9 is not available.*available: 0, 1"):
        choose((0, 9), {0, 1}, 0)


def test_current_cpu_is_one_this_process_may_use() -> None:
    assert current_cpu() in os.sched_getaffinity(0)


def _refused(pid: int, cpus: set[int]) -> None:
    raise PermissionError(1, "Operation not permitted")


@needs_two_cpus
def test_a_refused_auto_pin_is_a_warning_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_setaffinity", _refused)
    with capture_logs() as logs:
        assert pin("auto") is None
    assert logs[0]["event"] == "daemon.cpu_affinity_unavailable"
    assert logs[0]["log_level"] == "warning"


@needs_two_cpus
def test_a_refused_explicit_pin_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_setaffinity", _refused)
    with pytest.raises(AffinityError, match="cannot pin to CPU"):
        pin((ALLOWED[0],))


# -- configuration --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "parsed"),
    [("", "auto"), ('cpu_affinity = "off"', "off"), ("cpu_affinity = [1, 0, 1]", (0, 1))],
)
def test_cpu_affinity_values(written: str, parsed: object) -> None:
    settings = parse_settings(f"[server]\n{written}\n")
    assert settings.server.cpu_affinity == parsed


@pytest.mark.parametrize("bad", ['"fast"', "[]", "[-1]", '["0"]', "true", "1"])
def test_bad_cpu_affinity_names_the_key_and_line(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(f'[server]\nlisten = "127.0.0.1:8080"\ncpu_affinity = {bad}\n')
    assert caught.value.key == "server.cpu_affinity"
    assert caught.value.line == 3


# -- the running daemon ---------------------------------------------------------------------
@pytest.mark.slow  # a real daemon process
@needs_two_cpus
def test_auto_pins_every_thread_to_one_cpu(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(pinned("auto"))
    try:
        with daemon.client() as client:  # work that starts the writer and reader threads
            assert client.post("/v2/enqueue", json=v2(KEY, "trigger", "pin-1")).status_code == 202
            assert client.get("/healthz").status_code == 200
        assert daemon.proc is not None
        threads = thread_cpus(daemon.proc.pid)
        logged = daemon.wait_for_log("daemon.cpu_affinity")[0]["cpus"]
    finally:
        daemon.stop()
    assert len(threads) > 1
    assert len(logged) == 1 and logged[0] in ALLOWED
    assert set(threads.values()) == {str(logged[0])}, threads


@pytest.mark.slow  # a real daemon process
@needs_two_cpus
def test_a_configured_cpu_list_is_applied(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(pinned([ALLOWED[0]]))
    try:
        assert daemon.proc is not None
        threads = thread_cpus(daemon.proc.pid)
    finally:
        daemon.stop()
    assert set(threads.values()) == {str(ALLOWED[0])}, threads


@pytest.mark.slow  # a real daemon process
@needs_two_cpus
def test_off_leaves_the_inherited_mask(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(pinned("off"))
    try:
        assert daemon.proc is not None
        threads = thread_cpus(daemon.proc.pid)
        events = [line.get("event") for line in daemon.log_lines()]
    finally:
        daemon.stop()
    assert "daemon.cpu_affinity" not in events
    assert all(len(cpus) > 1 for cpus in threads.values()), threads


@pytest.mark.slow  # a real daemon process
def test_an_unavailable_cpu_stops_the_start_with_a_clear_error(
    spawn: Callable[..., Daemon],
) -> None:
    # spawn kills the daemon at teardown if it started after all.
    with pytest.raises(RuntimeError, match=r"(?s)exited 2.*server.cpu_affinity: CPU 4095 is"):
        spawn(pinned([4095]))
