"""`alert-gateway outbox list|show|retry|drop` against the database of a running daemon that
forwards to a fake upstream Events API."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx
import pytest

from tests.forwarding_support import ACCEPTED, Request, forward_to, upstream
from tests.scaffold import Daemon, config, key, v2, v2_service

pytestmark = pytest.mark.slow  # the CLI beside a real daemon process

KEY = key("cli-outbox")
UP = "R0UT1NGKEY0000000000000000000001"


def outbox(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``alert-gateway outbox ... --config <the daemon's>`` in a subprocess."""
    return daemon.cli("outbox", *args)


def wait_lines(daemon: Daemon, *args: str, count: int, timeout: float = 20) -> list[str]:
    """``outbox list ARGS`` lines, once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        listed = outbox(daemon, "list", *args)
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_list_show_retry_and_drop_while_the_daemon_runs(spawn: Callable[..., Daemon]) -> None:
    refuse = {"on": True}

    def script(_: Request, __: int) -> tuple[int, object]:
        if refuse["on"]:
            return 400, {"status": "invalid event", "message": "Event object is invalid"}
        return 202, ACCEPTED

    with upstream(script) as up:
        daemon = spawn(config(v2_service("Cart", KEY, forward_to=forward_to(up.url, UP))))
        for dedup in ("one", "two", "three"):
            answer = httpx.post(f"{daemon.base_url}/v2/enqueue", json=v2(KEY, dedup_key=dedup))
            assert answer.status_code == 202
        failed = wait_lines(daemon, "--state", "failed", "--kind", "forward", count=3)
        assert len(failed) == 3
        assert all("HTTP 400: " in line and "Event object is invalid" in line for line in failed)
        ids = {line.split()[4].rsplit(":", 1)[1]: line.split()[0] for line in failed}

        shown = outbox(daemon, "show", ids["one"])
        assert shown.returncode == 0, shown.stderr
        assert "drop  status=400" in shown.stdout
        assert UP not in shown.stdout  # the upstream key travels in the body, never printed

        refuse["on"] = False
        retried = outbox(daemon, "retry", ids["one"])
        assert retried.returncode == 0, retried.stderr
        delivered = wait_lines(daemon, "--state", "delivered", count=1)
        assert [line.split()[0] for line in delivered] == [ids["one"]]

        dropped = outbox(daemon, "drop", ids["two"])
        assert dropped.returncode == 0, dropped.stderr
        again = outbox(daemon, "drop", ids["one"])
        assert again.returncode == 1
        assert "was delivered" in again.stderr

        every = outbox(daemon, "retry", "--all-failed", "--destination", f"{up.url}/v2/enqueue")
        assert every.stdout.strip() == "retrying 1 failed message(s)"
        delivered = wait_lines(daemon, "--state", "delivered", count=2)
        remaining = outbox(daemon, "list", "--state", "all")

    assert sorted(line.split()[0] for line in delivered) == sorted([ids["one"], ids["three"]])
    assert ids["two"] not in remaining.stdout
    sent = [r.body["dedup_key"] for r in up.got()]
    assert sorted(sent) == ["one", "one", "three", "three", "two"]
    missing = outbox(daemon, "retry", "MNOSUCHMESSAGE")
    assert missing.returncode == 1 and "not found" in missing.stderr
