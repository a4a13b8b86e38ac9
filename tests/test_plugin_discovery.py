"""Entry-point discovery end to end: a third-party plugin package, built and installed by pip.

``examples/alert-gateway-example-plugin`` and a second, deliberately broken
package written here are installed by pip, as a user would, and then found
only through their ``alert_gateway.plugins`` entry points by
``alert-gateway plugins``, by a daemon (``GET /-/plugins``, its vendor serving
events) and by the ``[plugins] block``/``require`` settings.

pip installs them with ``--target`` into a temporary directory that the
subprocesses see through ``PYTHONPATH``, not into the shared virtualenv: an
entry point is discovered from a directory on ``sys.path`` exactly as from
site-packages, and nobody else's test run in this venv meets a half-installed
plugin (the broken one would show up in every gateway's problems meanwhile).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import REPO, Daemon, key

pytestmark = pytest.mark.slow  # pip installs and real daemon processes

EXAMPLE = REPO / "examples" / "alert-gateway-example-plugin"
EXAMPLE_KEY = key("example")
V2_KEY = key("example-v2")
LITTER = ("build", "*.egg-info", "__pycache__", ".pytest_cache")


@dataclass(frozen=True)
class Installed:
    """Where pip put the packages, and the environment that sees them."""

    target: Path
    env: dict[str, str]


def _can_build_without_isolation() -> bool:
    """setuptools builds wheels by itself from 70.1 on; before, it needs ``wheel``."""
    from importlib.metadata import version

    major, minor, *_ = (int(p) for p in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _write_broken_package(root: Path) -> Path:
    """A plugin package whose module raises on import."""
    package = root / "broken-plugin"
    (package / "alert_gateway_broken").mkdir(parents=True)
    (package / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "alert-gateway-broken-plugin"
            version = "0.0.1"

            [project.entry-points."alert_gateway.plugins"]
            broken = "alert_gateway_broken"
            """
        )
    )
    (package / "alert_gateway_broken" / "__init__.py").write_text(
        'raise ImportError("this plugin is broken on purpose")\n'
    )
    return package


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("plugins")
    target = root / "site"
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target)]
    if _can_build_without_isolation():
        command.append("--no-build-isolation")  # offline: the venv's setuptools builds it
    # Built from a copy: setuptools leaves build/ and *.egg-info next to the sources.
    example = shutil.copytree(EXAMPLE, root / "example", ignore=shutil.ignore_patterns(*LITTER))
    command += [str(example), str(_write_broken_package(root))]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=300, cwd=root
    )
    assert done.returncode == 0, done.stdout + done.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    yield Installed(target, env)
    # Nothing to uninstall: the target directory goes with tmp_path_factory.


def python(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run this venv's Python (``-m gateway ...``, ``-m pytest ...``) and capture its output."""
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def gateway_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return python("-m", "gateway", *args, env=env)


def config(extra: str = "", *, example: bool = True) -> str:
    integrations = f"""
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{V2_KEY}"
"""
    if example:
        integrations += f"""
  [[services.integrations]]
  name = "Example"
  vendor = "example"
  integration_key = "{EXAMPLE_KEY}"
"""
    return f"""
[server]
listen = "127.0.0.1:0"

[storage]
path = "gw.db"
{extra}
[[services]]
name = "Web"
{integrations}"""


def test_cli_lists_the_installed_plugin_and_the_broken_one(installed: Installed) -> None:
    listed = gateway_cli("plugins", env=installed.env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert "example  alert-gateway-example-plugin 0.1.0  vendors: PEXAMPL" in lines
    assert "datadog  alert-gateway 0.1.0  vendors: PGWDDOG" in lines  # built-ins: same path
    assert "broken  FAILED: ImportError: this plugin is broken on purpose" in lines

    without = gateway_cli("plugins")  # the same interpreter, without the packages on its path
    assert without.returncode == 0, without.stderr
    assert "example" not in without.stdout
    assert "broken" not in without.stdout


def test_daemon_loads_the_plugin_and_serves_its_vendor(
    installed: Installed, tmp_path: Path
) -> None:
    daemon = Daemon(tmp_path, config()).start(env=installed.env)
    try:
        with daemon.client() as http:
            listing = http.get("/-/plugins").json()
            by_name = {p["name"]: p for p in listing["plugins"]}
            assert by_name["example"] == {
                "name": "example",
                "module": "alert_gateway_example",
                "distribution": "alert-gateway-example-plugin",
                "version": "0.1.0",
                "vendors": ["PEXAMPL"],
            }
            assert listing["problems"] == [
                {"name": "broken", "error": "ImportError: this plugin is broken on purpose"}
            ]
            url = f"/integration/{EXAMPLE_KEY}/enqueue"
            alerting = {"id": "disk-web-01", "state": "alerting", "title": "Disk 95% full",
                        "host": "web-01", "level": "warning"}  # fmt: skip
            answer = http.post(url, json=alerting)
            assert answer.status_code == 202, answer.text
            assert answer.json()["dedup_key"] == "example:disk-web-01"
            answer = http.post(url, json={"id": "disk-web-01", "state": "ok"})
            assert answer.status_code == 202, answer.text
            refused = http.post(url, json={"id": "disk-web-01", "state": "melting"})
            assert refused.status_code == 400, refused.text
        changes = daemon.wait_for_log("example.incident_changed", count=2)
    finally:
        assert daemon.stop() == 0

    rows = daemon.query(
        "SELECT a.alert_key, a.severity, a.status, a.body, i.status FROM alerts a "
        "JOIN incidents i ON i.id = a.incident_id"
    )
    assert len(rows) == 1
    alert_key, severity, alert_status, body, incident_status = rows[0]
    assert (alert_key, severity, alert_status, incident_status) == (
        "example:disk-web-01",
        "warning",
        "resolved",
        "resolved",
    )
    stored = json.loads(body)
    assert (stored["summary"], stored["source"]) == ("Disk 95% full", "web-01")
    assert stored["custom_details"] == {"parsed_by": "alert-gateway-example-plugin"}
    assert [(c["previous_status"], c["status"]) for c in changes] == [
        (None, "triggered"),
        ("triggered", "resolved"),
    ]
    assert daemon.wait_for_log("plugin.load_failed")[0]["plugin"] == "broken"


def test_block_keeps_installed_plugins_out(installed: Installed, tmp_path: Path) -> None:
    blocked = '[plugins]\nblock = ["example", "broken"]\n'
    daemon = Daemon(tmp_path, config(blocked, example=False)).start(env=installed.env)
    try:
        with daemon.client() as http:
            listing = http.get("/-/plugins").json()
            assert "events_v2" in {p["name"] for p in listing["plugins"]}
            assert "example" not in {p["name"] for p in listing["plugins"]}
            assert listing["problems"] == []  # a blocked plugin is not even imported
            answer = http.post(f"/integration/{EXAMPLE_KEY}/enqueue", json={"id": "x"})
            assert answer.json()["errors"] == ["Invalid routing key"]
    finally:
        assert daemon.stop() == 0

    # A configuration that needs the blocked plugin's vendor does not start.
    path = tmp_path / "needs-example.toml"
    path.write_text(config(blocked))
    checked = gateway_cli("check-config", str(path), env=installed.env)
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert "example" in checked.stderr

    # 'alert-gateway plugins --config' applies the same [plugins] block.
    listed = gateway_cli("plugins", "--config", str(path), env=installed.env)
    assert listed.returncode == 0, listed.stderr
    assert "events_v2  alert-gateway" in listed.stdout
    assert "example" not in listed.stdout and "broken" not in listed.stdout


@pytest.mark.parametrize(
    ("required", "message"),
    [
        ("not-installed", "required plugin(s) not installed: not-installed"),
        ("broken", "required plugin 'broken' failed to load: ImportError"),
    ],
)
def test_require_is_fatal_at_start_up(
    installed: Installed, tmp_path: Path, required: str, message: str
) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(config(f'[plugins]\nrequire = ["{required}"]\n'))
    served = python(
        "-m", "gateway", "serve", "--config", str(path), env=installed.env, cwd=tmp_path
    )
    assert served.returncode == 2, served.stdout + served.stderr
    assert message in served.stderr
    assert "daemon.ready" not in served.stdout + served.stderr


def test_require_of_an_installed_plugin_starts(installed: Installed, tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, config('[plugins]\nrequire = ["example"]\n'))
    daemon.start(env=installed.env)
    try:
        with httpx.Client(base_url=daemon.base_url) as http:
            names = {p["name"] for p in http.get("/-/plugins").json()["plugins"]}
        assert "example" in names
    finally:
        assert daemon.stop() == 0


def test_the_example_plugins_own_tests_pass(installed: Installed) -> None:
    # The tutorial's testing chapter, run as a plugin author would (with the package installed).
    tests = str(EXAMPLE / "tests")
    done = python(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", tests, env=installed.env, cwd=EXAMPLE
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


# -- packaging of the built-in plugins -------------------------------------------------------------


def _packages_on_disk() -> set[str]:
    """Every package of the source tree, under the name it is installed as."""
    names = set()
    for folder, installed_as in (("gateway", "gateway"), ("plugins", "alert_gateway_plugins")):
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO / folder).parts
            if "__pycache__" not in parts:
                names.add(".".join((installed_as, *parts)))
    return names


def test_every_package_of_the_tree_is_installed() -> None:
    # pyproject.toml lists the packages by hand (setuptools' find cannot install the folder
    # plugins/ under another name): a new subpackage missing from the list would be left out
    # of every wheel while the editable install hides it.
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(setuptools["packages"]) == _packages_on_disk()
    assert setuptools["package-dir"] == {"alert_gateway_plugins": "plugins"}


def test_the_built_in_plugins_install_under_a_name_of_their_own(tmp_path: Path) -> None:
    # Run from elsewhere than the checkout, so only what pip installed can be imported.
    probe = (
        "import importlib.metadata as md, importlib.util as u; "
        "import alert_gateway_plugins.events_v2; "
        "print(u.find_spec('plugins') is None); "
        "print(sorted({ep.value.split('.')[0] for ep in md.entry_points("
        "group='alert_gateway.plugins') if ep.dist and ep.dist.name == 'alert-gateway'}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = python("-c", probe, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["True", "['alert_gateway_plugins']"]
