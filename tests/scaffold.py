"""The tests' one scaffolding: configs, daemons (in-process and subprocess), the CLI, events.

Configs are built, not hand-written::

    KEY = key("web")
    CONFIG = config(v2_service("Web", KEY), server={"keep_alive_timeout": 1})

``config`` returns TOML text, so the result goes wherever a config went before: to
:func:`gateway_running` (an in-process gateway in the test's Trio run), to :class:`Daemon`
or the ``spawn`` fixture (``alert-gateway serve`` in a real subprocess, for signals,
crashes and anything that needs a process of its own), to :func:`daemon_running` (one
such process shared by a module's tests), to ``parse_settings``, or through
``str.replace`` for a test about one edit.

Tests about the configuration file's own text (line numbers, the README's example) keep
their literal TOML: there the text is what is under test.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.config import parse_settings
from gateway.errors import ConfigError
from gateway.testing import TestGateway, gateway_running

__all__ = [
    "REPO",
    "SAMPLES",
    "Daemon",
    "Integration",
    "Service",
    "TestGateway",
    "cli",
    "config",
    "daemon_running",
    "email_integration",
    "events_v1",
    "events_v2",
    "gateway_running",
    "key",
    "service",
    "v2",
    "v2_service",
    "vendor_integration",
]

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "samples"  # a clean checkout must hold what its tests read


# -- keys and event bodies --------------------------------------------------------------------
def key(tag: str) -> str:
    """A deterministic, valid 32-character integration key for a test."""
    return (tag.encode().hex() + "0" * 32)[:32]


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


# -- configs ----------------------------------------------------------------------------------
def toml_value(value: Any) -> str:
    """One value in TOML syntax (strings, numbers, booleans, date-times, arrays, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        # A JSON string is a valid TOML basic string for everything tests write.
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _assignments(values: Mapping[str, Any], indent: str = "") -> list[str]:
    # None means "leave the key out", so callers can pass optional fields straight through.
    return [f"{indent}{k} = {toml_value(v)}" for k, v in values.items() if v is not None]


@dataclass(frozen=True)
class Integration:
    """One ``[[services.integrations]]`` block: its name, kind, key and vendor settings."""

    name: str
    type: str | None = None
    vendor: str | None = None
    integration_key: str | None = None
    integration_email: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The block's TOML lines, indented as the README writes them."""
        fields = {
            "name": self.name,
            "type": self.type,
            "vendor": self.vendor,
            "integration_key": self.integration_key,
            "integration_email": self.integration_email,
            **self.settings,
        }
        return ["  [[services.integrations]]", *_assignments(fields, "  ")]


def events_v2(integration_key: str | None, name: str = "v2") -> Integration:
    """An Events API v2 integration (``integration_key=None``: the daemon generates one)."""
    return Integration(name, type="events_api_v2", integration_key=integration_key)


def events_v1(integration_key: str | None, name: str = "v1") -> Integration:
    """An Events API v1 (generic events) integration."""
    return Integration(name, type="events_api_v1", integration_key=integration_key)


def vendor_integration(
    name: str, vendor: str, integration_key: str | None, **settings: Any
) -> Integration:
    """A vendor plugin's integration; ``settings`` are that vendor's own keys."""
    return Integration(name, vendor=vendor, integration_key=integration_key, settings=settings)


def email_integration(
    name: str, address: str, integration_key: str | None = None, **settings: Any
) -> Integration:
    """An email integration at ``address`` (a local part or a whole address)."""
    return Integration(
        name,
        type="email",
        integration_key=integration_key,
        integration_email=address,
        settings=settings,
    )


@dataclass(frozen=True)
class Service:
    """One ``[[services]]`` block: its name, its fields and its integrations."""

    name: str
    integrations: tuple[Integration, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The block's TOML lines, its integrations after its own keys."""
        out = ["[[services]]", *_assignments({"name": self.name, **self.fields})]
        for integration in self.integrations:
            out += integration.lines()
        return out


def service(name: str, *integrations: Integration, **fields: Any) -> Service:
    """A service; ``fields`` are its other keys (``status``, ``incident_urgency`` ...)."""
    return Service(name, integrations, fields)


def v2_service(name: str, integration_key: str | None, **fields: Any) -> Service:
    """A service with one Events API v2 integration named ``v2``: most tests' only need."""
    return service(name, events_v2(integration_key), **fields)


def config(
    *services: Service,
    server: Mapping[str, Any] | None = None,
    storage: str | Path | None = "gw.db",
    synchronous: str | None = None,
    smtp: Mapping[str, Any] | None = None,
    rate_limit: int | None = None,
    logging: Mapping[str, Any] | None = None,
    plugins: Mapping[str, Any] | None = None,
    maintenance_windows: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A whole configuration file's TOML text.

    ``storage`` is the database path (relative to the config file; ``None`` leaves
    ``[storage]`` out). ``server``, ``smtp``, ``logging`` and ``plugins`` are their tables'
    keys (``smtp={}`` turns the SMTP listener on with its defaults); ``rate_limit`` is
    events per minute.
    """
    blocks: list[list[str]] = []
    if server:
        blocks.append(["[server]", *_assignments(server)])
    if storage is not None:
        blocks.append(["[storage]", *_assignments({"path": storage, "synchronous": synchronous})])
    for name, table in (("smtp", smtp), ("logging", logging), ("plugins", plugins)):
        if table is not None:
            blocks.append([f"[{name}]", *_assignments(table)])
    if rate_limit is not None:
        blocks.append(["[rate_limit]", f"events_per_minute = {rate_limit}"])
    blocks += [s.lines() for s in services]
    blocks += [["[[maintenance_windows]]", *_assignments(w)] for w in maintenance_windows]
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


# -- the command line -------------------------------------------------------------------------
def cli(
    *args: str, cwd: Path | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gateway ARGS`` as an operator would; never raises on a failure.

    ``stdin`` is what the operator types (a confirmation prompt's answer); without it the
    command reads an empty input, never the test runner's terminal.
    """
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


# -- a daemon in a subprocess -----------------------------------------------------------------
class Daemon:
    """``alert-gateway serve`` in a subprocess, on an ephemeral port.

    Its config, log and (unless the config says otherwise) database sit in ``workdir``
    under ``name``. Use it where a real process matters: signals, SIGKILL, systemd, CPU
    affinity, the CLI beside a running daemon. The ``spawn`` fixture kills it at teardown.
    """

    def __init__(self, workdir: Path, config: str, *, name: str = "gw") -> None:
        self.workdir = workdir
        self.config_path = workdir / f"{name}.toml"
        self.db_path = _database(config, self.config_path, workdir / f"{name}.db")
        self.log_path = workdir / f"{name}.log"
        self.config_path.write_text(config)
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.smtp: list[str] = []
        self._log_offset = 0

    def start(self, *, timeout: float = 60.0, env: dict[str, str] | None = None) -> Daemon:
        """Start the process and wait until it logs ``daemon.ready``.

        ``timeout`` is a ceiling, not a measure: with pytest-xdist's two workers on a busy
        2-core machine a start (mostly imports) was seen to take over 20 s.
        """
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
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
        """SIGKILL, as a crash would (nothing happens if it is not running)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def client(self) -> httpx.Client:
        """An HTTP client for this daemon."""
        return httpx.Client(base_url=self.base_url, timeout=10.0)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``python -m gateway ARGS --config <this daemon's config>`` beside it."""
        return cli(*args, "--config", str(self.config_path), cwd=self.workdir, stdin=stdin)

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


@contextmanager
def daemon_running(workdir: Path, config: str, *, name: str = "gw") -> Iterator[Daemon]:
    """A started :class:`Daemon` for the block: one process shared by many tests.

    For a module-scoped fixture (the ``spawn`` fixture is per test)::

        @pytest.fixture(scope="module")
        def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
            with daemon_running(tmp_path_factory.mktemp("events"), CONFIG) as running:
                yield running

    At the end of the block the daemon gets SIGTERM and must exit 0; if the block raised,
    it is killed instead, so a failure leaves no process behind.
    """
    daemon = Daemon(workdir, config, name=name)
    try:
        daemon.start()
        yield daemon
        code = daemon.stop()
        assert code == 0, f"daemon exited {code} on SIGTERM:\n{daemon.output()}"
    finally:
        daemon.kill()


def _database(text: str, config_path: Path, fallback: Path) -> Path:
    # The database is wherever the config puts it (the daemon resolves a relative path
    # against the config file's folder); a config that does not parse is a test about
    # refusing to start, and its database path is never read.
    try:
        return parse_settings(text, source=config_path).storage.path
    except ConfigError:
        return fallback
