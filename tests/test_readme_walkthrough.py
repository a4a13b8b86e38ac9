"""The README's shell commands, run in order as a new user would, against `make run`'s daemon.

Each ```sh block of the README runs with bash (``set -euo pipefail``) in a copy of the
checkout's example configuration, beside a daemon started on that same file, exactly as
the README says. Only the address changes (the daemon takes a free port rather than 8080)
and ``.venv/bin/alert-gateway`` is this interpreter's command wherever its venv lives.
``make`` lines are the daemon itself and the suite, so they are the two not run here.
Every ``# {...}`` line under a command is the answer the README promises: it must be
among the JSON objects the block printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.scaffold import REPO, Daemon

pytestmark = pytest.mark.slow  # a daemon process and the CLI in subprocesses

README = (REPO / "README.md").read_text()


def _sh_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", README, flags=re.S | re.M)


def _runnable(block: str) -> str:
    return "\n".join(line for line in block.splitlines() if not line.startswith("make "))


def _json_objects(text: str) -> list[object]:
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            at = start + 1
            continue
        found.append(value)
        at = end
    return found


def test_the_readme_blocks_are_found() -> None:
    # Guards the test below against a README whose blocks it would silently not see.
    blocks = [_runnable(b) for b in _sh_blocks()]
    assert any("/v2/enqueue" in b for b in blocks)
    assert any("token create" in b and "TOKEN=" in b for b in blocks)


def test_every_readme_command_works_in_order(tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    example = (REPO / "config.example.toml").read_text()
    daemon = spawn(example, name="config.example")
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    command = venv_bin / "alert-gateway"
    command.write_text(f'#!/bin/sh\nexec {sys.executable} -m gateway "$@"\n')
    command.chmod(0o755)
    assert shutil.which("curl"), "the README's commands use curl"

    # One shell for all blocks, in order: a variable one block sets (TOKEN) is there for
    # the next, as in the terminal the README is read beside.
    script = ["set -euo pipefail", 'curl() { command curl --fail-with-body "$@"; echo; }']
    for block in _sh_blocks():
        script.append(_runnable(block).replace("http://127.0.0.1:8080", daemon.base_url))
        script.append("echo '--- block done ---'")
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ALERT_GATEWAY_CONFIG": ""},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("--- block done ---") == len(_sh_blocks())
    printed = _json_objects(result.stdout)
    promised = [
        json.loads(line.removeprefix("#").strip())
        for block in _sh_blocks()
        for line in block.splitlines()
        if line.startswith("# {")
    ]
    assert promised, "the README promises answers"
    for answer in promised:
        assert answer in printed, f"README promises {answer}; printed:\n{result.stdout}"
    # The token the README's block created is the one the REST calls used.
    assert any(isinstance(o, dict) and "services" in o for o in printed)
    assert any(isinstance(o, dict) and "incidents" in o for o in printed)
