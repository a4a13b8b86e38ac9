"""Shared fixtures (the helpers they use live in tests/scaffold.py)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import Clock
from gateway.store import Store, open_sync
from gateway.store.postgres import connect as pg_connect
from gateway.store.postgres import create_schema, drop_schema
from gateway.store.schema import migrate_postgres
from tests import pgserver
from tests.scaffold import SAMPLES, Daemon

#: Both store backends in one run (docs/development.md, "Both backends").
pytest_plugins = ["tests.postgres_twins"]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the PostgreSQL database the session made (if it made one)."""
    pgserver.drop_session_database()


@dataclass
class StoreTarget:
    """One backend the store tests run on: a SQLite file or a PostgreSQL schema."""

    name: str
    path: Path
    url: str | None
    integrity_error: type[BaseException]

    async def open(self, *, clock: Clock | None = None, synchronous: str = "FULL") -> Store:
        """A :class:`Store` on this backend."""
        return await Store.open(self.path, clock=clock, url=self.url, synchronous=synchronous)

    def connect(self) -> Any:
        """A migrated raw connection (``sqlite3`` or psycopg, autocommit)."""
        if self.url is None:
            return open_sync(self.path)
        conn = pg_connect(self.url)
        migrate_postgres(conn)
        return conn


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreTarget]:
    """Each store test twice: on a SQLite file and on PostgreSQL (a schema of its own)."""
    if request.param == "sqlite":
        import sqlite3

        yield StoreTarget("sqlite", tmp_path / "s.db", None, sqlite3.IntegrityError)
        return
    yield from _postgres_target(tmp_path)


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[StoreTarget]:
    """PostgreSQL alone, for what SQLite has no twin of (a lost connection, its migrations)."""
    yield from _postgres_target(tmp_path)


def _postgres_target(tmp_path: Path) -> Iterator[StoreTarget]:
    """A schema of its own on the test server, dropped afterwards."""
    import psycopg

    database = pgserver.session_database()
    schema = f"t_{secrets.token_hex(6)}"
    url = create_schema(database, schema)
    try:
        yield StoreTarget("postgresql", tmp_path / "s.db", url, psycopg.IntegrityError)
    finally:
        drop_schema(database, schema)


@pytest.fixture(scope="session")
def samples() -> Path:
    """The shared vendor sample bodies."""
    return SAMPLES


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start ``alert-gateway serve`` subprocesses in ``tmp_path``; all are killed at teardown.

    ``spawn(config)`` returns a started :class:`Daemon`; ``spawn(config, start=False)`` one
    to start later (a test about start-up, or several starts). ``name`` keeps two daemons'
    files apart; ``env`` is added to the process's environment.
    """
    daemons: list[Daemon] = []

    def make(
        config: str, *, name: str = "gw", start: bool = True, env: dict[str, str] | None = None
    ) -> Daemon:
        daemon = Daemon(tmp_path, config, name=name)
        daemons.append(daemon)
        return daemon.start(env=env) if start else daemon

    yield make
    for daemon in daemons:
        daemon.kill()  # a test that failed half-way leaves no process behind


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """Repeat the run's test-order seed at the end (docs/development.md, "Random order").

    pytest-randomly names it in the header only, which ``-q`` hides and a long CI log
    buries; a failure's reader looks at the end.
    """
    if not config.pluginmanager.hasplugin("randomly"):
        return  # -p no:randomly: file order
    seed = config.getoption("randomly_seed", None)
    if isinstance(seed, int) and config.getoption("randomly_reorganize", True):
        terminalreporter.write_line(f"Test order: replay it with --randomly-seed={seed}")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, keep the module order :func:`_longest_first` gives (xdist's own
    reordering, by number of tests, would put the longest modules last)."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a ``sqlite_only`` mark without its reason; then order the modules."""
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None and not (marker.args or marker.kwargs.get("reason")):
            raise pytest.UsageError(f"{item.nodeid}: sqlite_only needs a reason")
    _longest_first(items)


# -- the order modules start in under pytest-xdist (docs/development.md, "In parallel") ------
# `--dist loadfile` hands each worker a module at a time, in the order of the collection;
# left to itself xdist first sorts the modules by their number of tests, so the modules of
# one long test (the fuzzer, the crash campaigns) came last and ran on one worker while the
# other had nothing left. These start first, longest first (seconds measured with
# --durations on 2 cores); the rest follow by number of tests, as xdist would order them.
# Only the speed depends on this list: a module missing from it still runs.
START_FIRST = (
    "tests/test_fuzz_api.py",  # ~70-105 s, one test (schemathesis)
    "tests/test_escalation_crash.py",  # ~45-65 s, one test
    "tests/test_ha_two_nodes.py",  # ~35 s
    "tests/test_bench_tools.py",  # ~35 s
    "tests/test_cli_services.py",  # ~35 s, CLI subprocesses
    "tests/test_cli_maintenance.py",  # ~35 s
    "tests/test_vendors_http.py",  # ~35 s with its twins
    "tests/test_postgres_twins.py",  # ~25 s, pytest in subprocesses
    "tests/test_ui_browser_forms.py",  # ~25 s, Chromium
    "tests/test_cli_policies.py",
    "tests/test_plugin_discovery.py",
    "tests/test_config_runtime.py",
    "tests/test_email_address_faces.py",
    "tests/test_slow_clients.py",
    "tests/test_webhooks_delivery.py",
    "tests/test_forwarding.py",
)


def _longest_first(items: list[pytest.Item]) -> None:
    """Order the modules: START_FIRST's, then the others by number of tests (stable)."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:  # pytest-randomly has shuffled them already: its order is kept
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def rank(path: str) -> tuple[int, int]:
        first = START_FIRST.index(path) if path in START_FIRST else len(START_FIRST)
        return first, -len(modules[path])

    items[:] = [item for path in sorted(modules, key=rank) for item in modules[path]]
