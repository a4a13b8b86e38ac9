"""Test helpers: a real daemon in a subprocess, and read-only access to its database."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "samples"  # a clean checkout must hold what its tests read


def key(tag: str) -> str:
    """A deterministic, valid 32-character integration key for a test."""
    return (tag.encode().hex() + "0" * 32)[:32]


class Daemon:
    """``alert-gateway serve`` in a subprocess, on an ephemeral port."""

    def __init__(self, workdir: Path, config: str, *, name: str = "gw") -> None:
        self.workdir = workdir
        self.config_path = workdir / f"{name}.toml"
        self.db_path = workdir / f"{name}.db"
        self.log_path = workdir / f"{name}.log"
        self.config_path.write_text(config)
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.smtp: list[str] = []

    def start(self, *, timeout: float = 20.0, env: dict[str, str] | None = None) -> Daemon:
        """Start the process and wait until it logs ``daemon.ready``."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--config",
                str(self.config_path),
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=log,
            stderr=log,
            cwd=self.workdir,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if line.get("event") == "daemon.ready":
                    self.base_url = line["listen"][0]
                    self.smtp = line.get("smtp") or []
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"daemon not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        """Everything the daemon printed since the last start."""
        data = self.log_path.read_bytes()[self._log_offset :]
        return data.decode("utf-8", "replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines printed since the last start."""
        lines = []
        for raw in self.output().splitlines():
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except json.JSONDecodeError:
                    continue
        return lines

    def stop(self, *, timeout: float = 15.0) -> int:
        """SIGTERM and wait; return the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def signal(self, signum: int) -> None:
        """Send a signal to the daemon."""
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait_for_log(
        self, event: str, *, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until ``event`` has been logged ``count`` times since the start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.log_lines() if line.get("event") == event]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{event!r} not logged {count} time(s):\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def client(self) -> httpx.Client:
        """An HTTP client for this daemon."""
        return httpx.Client(base_url=self.base_url, timeout=10.0)

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection to the daemon's real database file."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one read query against the database."""
        with self.db() as conn:
            return conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, *params: Any) -> Any:
        """The first column of the first row of a query."""
        rows = self.query(sql, *params)
        return rows[0][0] if rows else None


def v2(
    routing_key: str, action: str = "trigger", dedup_key: str | None = None, **payload: Any
) -> dict[str, Any]:
    """An Events API v2 body; ``payload`` fields default to a valid trigger."""
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    if action == "trigger":
        body["payload"] = {
            "summary": "Disk full on db01",
            "source": "db01",
            "severity": "critical",
            **payload,
        }
    elif payload:
        body["payload"] = payload
    return body
