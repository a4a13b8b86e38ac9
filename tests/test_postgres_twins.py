"""The suite's own twin runs (tests/postgres_twins.py): a test that ran an in-process gateway
runs again with its gateways on PostgreSQL; one that did not, or is marked sqlite_only, once.

Each case runs pytest in a subprocess on a small test file of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

# Each test writes which backend its gateway stored on to $SEEN, a line per run.
CASES = """
import os
import pytest
from gateway.testing import gateway_running

def seen(name, backend):
    with open(os.environ["SEEN"], "a") as out:
        out.write(f"{name} {backend}\\n")

async def test_with_a_gateway(tmp_path):
    async with gateway_running(tmp_path) as gw:
        assert (await gw.client.get("/readyz")).status_code == 200
        seen("with", gw.store.backend.name)

async def test_failing_on_postgresql_only(tmp_path):
    async with gateway_running(tmp_path) as gw:
        seen("failing", gw.store.backend.name)
        assert gw.store.backend.name == "sqlite"

@pytest.mark.sqlite_only("reads the SQLite file")
async def test_marked_sqlite_only(tmp_path):
    async with gateway_running(tmp_path) as gw:
        seen("marked", gw.store.backend.name)

def test_without_a_gateway():
    seen("without", "-")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The small test file, runnable with the repository's plugin; the path of $SEEN."""
    pytester.makeini("[pytest]\ntrio_mode = true\nmarkers =\n    sqlite_only(reason): x\n")
    pytester.makepyfile(test_cases=CASES)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    seen = pytester.path / "seen.txt"
    monkeypatch.setenv("SEEN", str(seen))
    return seen


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "tests.postgres_twins", "-p", "no:randomly", *args)


def test_a_gateway_test_runs_again_on_postgresql_under_its_own_id(
    pytester: pytest.Pytester, suite: Path
) -> None:
    # Under pytest-xdist, as `make test` runs, so the twin's reports must reach the main
    # process under their own ids; one module goes to one worker, in file order.
    result = run(pytester, "-n", "2", "--dist", "loadfile", "-v")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(
        [
            "in-process gateways: SQLite, then again on PostgreSQL (*) as <id>@postgresql",
            "*PASSED *::test_with_a_gateway ",
            "*PASSED *::test_with_a_gateway@postgresql ",
            "*PASSED *::test_failing_on_postgresql_only ",
            "*FAILED *::test_failing_on_postgresql_only@postgresql ",
        ]
    )
    assert suite.read_text().splitlines() == [
        "with sqlite",
        "with postgresql",
        "failing sqlite",
        "failing postgresql",
        "marked sqlite",
        "without -",
    ]


def test_backends_sqlite_runs_each_test_once(pytester: pytest.Pytester, suite: Path) -> None:
    result = run(pytester, "--backends=sqlite")
    result.assert_outcomes(passed=4)
    assert "postgresql" not in suite.read_text()


def test_backends_postgresql_replays_a_twin_alone(pytester: pytest.Pytester, suite: Path) -> None:
    result = run(pytester, "--backends=postgresql", "test_cases.py::test_with_a_gateway")
    result.assert_outcomes(passed=1)
    assert suite.read_text().splitlines() == ["with postgresql"]
