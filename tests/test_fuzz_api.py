"""schemathesis against docs/openapi.json on a running daemon: no 5xx, no undocumented answer.

Every operation, the Events API and vendor URLs included, gets generated valid
and invalid requests (wrong types, bad bytes, odd paths and query strings) with
an admin token and a From header. Afterwards the daemon is still serving, it
logged no error, and the database passes its integrity check.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.auth import hash_token, new_token
from gateway.http.openapi import OPERATIONS
from gateway.store.offline import write_sync
from tests.scaffold import Daemon, config, key, v2_service

pytestmark = pytest.mark.slow  # schemathesis against a real daemon: minutes, not seconds

KEY = key("fuzz")
CONFIG = config(v2_service("Fuzz", KEY))
SCHEMATHESIS = Path(sys.executable).with_name("st")


def test_no_route_answers_5xx_to_generated_requests(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    daemon = spawn(CONFIG)
    token = new_token()
    write_sync(
        daemon.db_path,
        lambda tx: tx.insert_token(
            name="fuzz", role="admin", token_hash=hash_token(token), last4=token[-4:]
        ),
    )
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{daemon.base_url}/openapi.json",
            "--checks",
            # No 5xx, and every answer matches the document: body schema (wrapped objects,
            # PagerDuty's error shape), documented status codes, JSON content types.
            "not_a_server_error,response_schema_conformance,status_code_conformance,"
            "content_type_conformance",
            "--header",
            f"Authorization: Token token={token}",
            "--header",
            "From: fuzz@example.com",
            # 12 per operation (~130 operations): the whole suite's 10-minute budget on
            # 2 cores; 25 took ~100 s. bench/ has no fuzz: raise it by hand when changing
            # the REST surface.
            "--max-examples",
            "12",
            "--seed",
            "20261129",
            "--request-timeout",
            "10",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,  # schemathesis keeps a .schemathesis/ cache in its working directory
    )
    summary = run.stdout[-4000:]
    assert run.returncode == 0, summary
    selected = re.search(r"Selected: (\d+)/(\d+)", run.stdout)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert selected and tested, summary
    # Every operation schemathesis found was tried, and it found (nearly) all of ours.
    assert tested[1] == selected[1] == selected[2], summary
    assert int(tested[1]) >= len(OPERATIONS) - 1, summary
    with daemon.client() as client:
        assert client.get("/healthz").status_code == 200
    errors = [line for line in daemon.log_lines() if line.get("level") in ("error", "critical")]
    assert errors == [], errors[:3]
    assert daemon.query("PRAGMA integrity_check") == [("ok",)]
    assert daemon.stop() == 0
