"""`alert-gateway escalation-policies …` and `services set-policy` as subprocesses, beside a
running daemon."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.store.offline import write_sync
from tests.scaffold import Daemon, config, daemon_running

pytestmark = pytest.mark.slow  # the CLI beside a real daemon process


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with daemon_running(tmp_path_factory.mktemp("cli-ep"), config()) as running:
        yield running


def test_list_show_set_policy_and_delete(daemon: Daemon) -> None:
    write_sync(daemon.db_path, lambda tx: tx.insert_escalation_policy("PEPCLI1", name="Night"))
    done = daemon.cli("services", "create", "Shop", "--escalation-policy", "Nope")
    assert done.returncode == 1 and "Nope" in done.stdout + done.stderr
    assert daemon.scalar("SELECT count(*) FROM services WHERE name = 'Shop'") == 0
    made = daemon.cli("services", "create", "Shop", "--escalation-policy", "Night")
    assert made.returncode == 0, made.stderr
    assert daemon.scalar("SELECT escalation_policy_id FROM services WHERE name = 'Shop'") == (
        "PEPCLI1"
    )
    shown = daemon.cli("services", "show", "Shop").stdout
    assert "Night (PEPCLI1)" in shown
    listing = daemon.cli("escalation-policies", "list").stdout
    assert "PEPCLI1  Night  levels: 0  loops: 0  services: 1" in listing
    assert "PDEFALT  Default" in listing
    refused = daemon.cli("escalation-policies", "delete", "Night")
    assert refused.returncode == 1 and "Shop" in refused.stdout + refused.stderr
    moved = daemon.cli("services", "set-policy", "Shop", "Default")
    assert moved.returncode == 0 and "uses escalation policy 'Default'" in moved.stdout
    assert "services (0): -" in daemon.cli("escalation-policies", "show", "PEPCLI1").stdout
    gone = daemon.cli("escalation-policies", "delete", "PEPCLI1")
    assert gone.returncode == 0, gone.stderr
    assert daemon.scalar("SELECT count(*) FROM escalation_policies WHERE id = 'PEPCLI1'") == 0
    missing = daemon.cli("services", "set-policy", "Shop", "PEPCLI1")
    assert missing.returncode == 1
