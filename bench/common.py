"""Pieces the bench scripts share: wrk, a server process and its CPU and memory, percentiles."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def ensure_wrk() -> str:
    """wrk from Debian's packages, installed if missing."""
    path = shutil.which("wrk")
    if path:
        return path
    print("bench: installing wrk (apt-get)", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        sys.exit("bench: wrk is not installable here")
    return found


class Server:
    """A process listening on 127.0.0.1 (the gateway or the ceiling app)."""

    def __init__(
        self,
        argv: list[str],
        log: Path,
        *,
        pass_fds: tuple[int, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            argv,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=REPO,
            pass_fds=pass_fds,
            env=env,
        )

    def wait_port(self, finder: Callable[[str], int | None]) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            port = finder(self.log.read_text(errors="replace"))
            if port:
                return port
            if self.proc.poll() is not None:
                sys.exit(f"bench: server exited:\n{self.log.read_text()}")
            time.sleep(0.05)
        sys.exit("bench: server did not start")

    def _tree(self) -> list[int]:
        """This process and its descendants (Hypercorn serves from a child process)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parents[int(entry.name)] = int(fields[1])
        tree = [self.proc.pid]
        for pid in tree:
            tree.extend(child for child, parent in parents.items() if parent == pid)
        return tree

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self._tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        return total

    def peak_rss_mb(self) -> float:
        peak = 0.0
        for pid in self._tree():
            try:
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        return peak

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def gateway_port(text: str) -> int | None:
    for line in text.splitlines():
        if '"daemon.ready"' in line:
            return int(json.loads(line)["listen"][0].rsplit(":", 1)[1])
    return None


def hypercorn_port(text: str) -> int | None:
    for line in text.splitlines():
        if "Running on" in line:
            return int(line.split("http://")[1].split()[0].rsplit(":", 1)[1])
    return None


def daemon_ready(text: str) -> dict[str, object] | None:
    """The gateway's ``daemon.ready`` log line (its listen and SMTP addresses), once written."""
    for line in text.splitlines():
        if '"daemon.ready"' in line:
            found: dict[str, object] = json.loads(line)
            return found
    return None


def percentile(ms: list[float], q: float) -> float:
    """Nearest rank of sorted ``ms`` (0 when empty)."""
    return ms[max(0, math.ceil(len(ms) * q) - 1)] if ms else 0.0
