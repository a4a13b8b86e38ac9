"""Shared fixtures (the helpers they use live in tests/scaffold.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.scaffold import SAMPLES, Daemon


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
