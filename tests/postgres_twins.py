"""Both store backends in one run: a test that ran an in-process gateway runs again on PostgreSQL.

docs/development.md, "Both backends in one run". Under ``--backends=both`` (the default) every test
runs on SQLite as written; when it started a gateway in process (:func:`gateway_running`)
and is not marked ``sqlite_only``, the same worker runs it once more at once, every
gateway of it on PostgreSQL, and reports that run as ``<node id>@postgresql``. The twin
sits beside its SQLite run, so the PostgreSQL work (much of it the server's, and waiting
on it) fills the CPU the rest of the suite leaves idle, instead of being a second pass.

``--backends=postgresql`` runs every in-process gateway on PostgreSQL and nothing twice
(to replay one twin: ``pytest --backends=postgresql 'tests/x.py::test_y'``);
``--backends=sqlite`` runs no twins (quicker while working on something else).

The run's database is made by the main process before any pytest-xdist worker starts
(the workers inherit its URL) and dropped when that process exits. Each gateway then gets
a schema of its own in it, one per ``tmp_path`` (see :mod:`gateway.testing`).
"""

from __future__ import annotations

import os

import pytest
from _pytest.runner import runtestprotocol

import gateway.testing
from gateway.store.postgres import redact
from gateway.store.scratch import release_test_schemas
from gateway.testing import TEST_DATABASE_URL
from tests import pgserver

#: Where the main process leaves the run's database URL for its workers. Apart from
#: TEST_DATABASE_URL, which is set only while a twin runs (or for --backends=postgresql).
RUN_DATABASE_URL = "ALERT_GATEWAY_TEST_RUN_DATABASE_URL"
TWIN_SUFFIX = "@postgresql"
_NO_TWINS = pytest.StashKey[str]()
#: Marks a twin's reports. pytest-xdist insists that a worker's report carry its item's
#: id, so the twin's id is given where the reports are read (see pytest_runtest_logreport).
_TWIN_PROPERTY = ("store", "postgresql")
_in_worker = False


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--backends``: where the in-process gateways store."""
    parser.getgroup("alert-gateway").addoption(
        "--backends",
        choices=("both", "sqlite", "postgresql"),
        default="both",
        help="both (default): a test that ran an in-process gateway on SQLite runs again "
        "on PostgreSQL, reported as <id>@postgresql; sqlite: no second run; postgresql: "
        "every in-process gateway on PostgreSQL, each test once",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Make the run's database (the main process only, before the workers start).

    No PostgreSQL: an error for ``--backends=postgresql`` and under ``CI=true``; elsewhere
    the twins are left out and the run says why, at its top and at its end.
    """
    global _in_worker  # noqa: PLW0603 (one process, one role)
    _in_worker = hasattr(config, "workerinput")
    backends = config.getoption("backends")
    if backends == "sqlite" or _in_worker:
        return  # a worker inherits RUN_DATABASE_URL from the main process's environment
    if not os.environ.get(RUN_DATABASE_URL):
        try:
            os.environ[RUN_DATABASE_URL] = pgserver.create_pass_database()
        except Exception as exc:  # a missing server ends the run or is said, never silent
            reason = f"no PostgreSQL for the run's twins: {exc}".strip()
            if backends == "postgresql" or os.environ.get("CI") == "true":
                raise pytest.UsageError(reason) from exc
            config.stash[_NO_TWINS] = reason
            return
    if backends == "postgresql":
        os.environ[TEST_DATABASE_URL] = os.environ[RUN_DATABASE_URL]


def pytest_report_header(config: pytest.Config) -> str:
    """Say at the top of the run where its in-process gateways store."""
    backends = config.getoption("backends")
    if backends == "sqlite":
        return "in-process gateways: SQLite only (--backends=sqlite)"
    if _NO_TWINS in config.stash:
        return f"in-process gateways: SQLite only, {config.stash[_NO_TWINS]}"
    where = redact(os.environ[RUN_DATABASE_URL])
    if backends == "postgresql":
        return f"in-process gateways: PostgreSQL, {where}"
    return f"in-process gateways: SQLite, then again on PostgreSQL ({where}) as <id>{TWIN_SUFFIX}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat at the end why no twin ran, where a long log would bury the header."""
    reason = terminalreporter.config.stash.get(_NO_TWINS, None)
    if reason is not None:
        terminalreporter.write_line(f"SKIPPED the PostgreSQL twins: {reason}", yellow=True)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """After a test, hand its gateways' PostgreSQL schemas back, to be emptied and reused
    by the next test (:mod:`gateway.store.scratch`): a fresh one costs ~0.3 s."""
    try:
        return (yield)
    finally:
        release_test_schemas()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Run ``item`` as pytest would, then its PostgreSQL twin if it ran a gateway."""
    url = os.environ.get(RUN_DATABASE_URL)
    if item.config.getoption("backends") != "both" or not url:
        return None  # pytest's own protocol
    ihook = item.ihook
    started = gateway.testing.gateways_started
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    runtestprotocol(item, nextitem=nextitem)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    if gateway.testing.gateways_started == started or item.get_closest_marker("sqlite_only"):
        return True  # no store of a gateway to move, or one that only SQLite has
    _run_twin(item, nextitem, url)
    return True


def _run_twin(item: pytest.Item, nextitem: pytest.Item | None, url: str) -> None:
    """The item again, its gateways on PostgreSQL, its reports under the twin's id.

    The first run tore its fixtures down as pytest does (a module's too, when the next
    test is in another module); the twin sets up what it needs again, with a fresh
    ``tmp_path`` and so a fresh schema.
    """
    twin = item.nodeid + TWIN_SUFFIX
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=twin, location=item.location)
    os.environ[TEST_DATABASE_URL] = url
    try:
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    finally:
        del os.environ[TEST_DATABASE_URL]
    for report in reports:
        report.user_properties.append(_TWIN_PROPERTY)
        ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=twin, location=item.location)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Give a twin's report its own id before the terminal, --durations or JUnit see it.

    In the process that reads the reports: the main one under pytest-xdist (which checks
    in the worker that a report's id is its item's), else the only one.
    """
    if _in_worker or report.nodeid.endswith(TWIN_SUFFIX):
        return
    if any(tuple(prop) == _TWIN_PROPERTY for prop in report.user_properties):
        report.nodeid += TWIN_SUFFIX
