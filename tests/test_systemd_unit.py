"""The shipped systemd unit passes `systemd-analyze verify` and keeps its promises."""

from __future__ import annotations

import os
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


def test_the_unit_runs_a_postgresql_store_unchanged() -> None:
    """docs/operations.md, "Several nodes": nothing in the unit names the store, and its
    sandbox lets libpq reach a server over TCP or a local Unix socket."""
    lines = UNIT.read_text().splitlines()
    (start,) = [line for line in lines if line.startswith("ExecStart=")]
    assert start.split()[1:] == ["serve", "--config", "${CONFIGURATION_DIRECTORY}/config.toml"]
    (families,) = [line for line in lines if line.startswith("RestrictAddressFamilies=")]
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(families.split("=", 1)[1].split())
    for closed in ("PrivateNetwork=", "IPAddressDeny=", "IPAddressAllow="):
        assert not any(line.startswith(closed) for line in lines), closed
    assert "After=network-online.target" in lines


def _documented_drop_in() -> str:
    text = (REPO / "docs" / "operations.md").read_text()
    section = text.split("### systemd", 1)[1]
    return section.split("```ini\n", 1)[1].split("```", 1)[0]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (make test installs it as root)",
)
def test_the_documented_postgresql_drop_in_verifies(tmp_path: Path) -> None:
    binary = Path(sysconfig.get_path("scripts")) / "alert-gateway"
    unit = tmp_path / "alert-gateway.service"
    unit.write_text(
        UNIT.read_text().replace("/opt/alert-gateway/.venv/bin/alert-gateway", str(binary))
    )
    drop_in = tmp_path / "alert-gateway.service.d" / "postgresql.conf"
    drop_in.parent.mkdir()

    def verify(text: str) -> str:
        drop_in.write_text(text)
        result = subprocess.run(
            ["systemd-analyze", "verify", str(unit)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
        )
        assert result.returncode == 0, result.stderr
        return result.stderr

    documented = _documented_drop_in()
    assert "After=postgresql.service" in documented
    # The drop-in is read (a misspelt key in it is reported), and the documented one is clean.
    assert "postgresql.conf" in verify(documented.replace("After=", "Aftr="))
    clean = verify(documented)
    assert "postgresql.conf" not in clean and "alert-gateway.service" not in clean, clean
