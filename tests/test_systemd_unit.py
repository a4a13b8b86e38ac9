"""The shipped systemd unit passes `systemd-analyze verify` and keeps its promises."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.scaffold import REPO

UNIT = REPO / "systemd" / "alert-gateway.service"


def test_unit_declares_notify_watchdog_and_hardening() -> None:
    text = UNIT.read_text()
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "User=alert-gateway",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/alert-gateway",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "StateDirectory=alert-gateway",
        "ConfigurationDirectory=alert-gateway",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ]:
        assert line in text, line


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (make test installs it as root)",
)
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # Point ExecStart at the console script installed beside the running interpreter's
    # packages (verify checks that it exists), wherever that environment lives: not
    # necessarily this checkout's .venv.
    binary = Path(sysconfig.get_path("scripts")) / "alert-gateway"
    assert binary.is_file(), f"{binary} is missing: install the package (make install-test)"
    unit = tmp_path / "alert-gateway.service"
    unit.write_text(
        UNIT.read_text().replace("/opt/alert-gateway/.venv/bin/alert-gateway", str(binary))
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "alert-gateway.service" not in result.stderr, result.stderr


def _expand(names: list[str], seen: set[str] | None = None) -> set[str]:
    """System call names behind ``names`` (groups like ``@resources`` expanded by systemd)."""
    seen = set() if seen is None else seen
    calls: set[str] = set()
    for name in names:
        if not name.startswith("@"):
            calls.add(name)
            continue
        if name in seen:
            continue
        seen.add(name)
        listing = subprocess.run(
            ["systemd-analyze", "syscall-filter", name],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        members = [
            line.strip() for line in listing.splitlines()[1:] if line.strip()[:1] not in ("", "#")
        ]
        calls |= _expand(members, seen)
    return calls


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (make test installs it as root)",
)
def test_syscall_filter_allows_what_the_daemon_calls() -> None:
    # systemd applies SystemCallFilter= lines in order: the first (an allow-list) sets the
    # default action, "~" lines remove calls, later plain lines add them back. A call left
    # out kills the daemon with SIGSYS, so the ones `serve` makes on purpose must survive.
    allowed: set[str] = set()
    for line in UNIT.read_text().splitlines():
        if not line.startswith("SystemCallFilter="):
            continue
        value = line.split("=", 1)[1]
        if value.startswith("~"):
            allowed -= _expand(value[1:].split())
        else:
            allowed |= _expand(value.split())
    assert "sched_setaffinity" in allowed  # gateway/affinity.py, [server] cpu_affinity
    assert {"fsync", "fdatasync", "epoll_wait", "sendmsg"} <= allowed
    assert "reboot" not in allowed and "setpriority" not in allowed
