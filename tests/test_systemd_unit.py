"""The shipped systemd unit passes `systemd-analyze verify` and keeps its promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO

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
    # Point ExecStart at this checkout's binary: verify checks that it exists.
    binary = REPO / ".venv" / "bin" / "alert-gateway"
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
