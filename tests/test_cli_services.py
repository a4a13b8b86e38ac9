"""`alert-gateway services …` and `integrations …` as subprocesses, while the daemon runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scaffold import Daemon, cli, config, daemon_running, v2

pytestmark = pytest.mark.slow  # the CLI beside a real daemon process


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    # [smtp]: the CLI adds email integrations only where mail can reach them.
    smtp = {"listen": "127.0.0.1:0", "domain": "gw.test"}
    with daemon_running(tmp_path_factory.mktemp("cli"), config(smtp=smtp)) as running:
        yield running


def ok(daemon: Daemon, *args: str, stdin: str | None = None) -> str:
    done = daemon.cli(*args, stdin=stdin)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def add_v2(daemon: Daemon, service: str) -> tuple[str, str]:
    """Add an Events API v2 integration; return (id, key) from the printed lines."""
    out = ok(daemon, "integrations", "add", service, "--name", "v2")
    lines = out.strip().splitlines()
    integration_id = lines[0].split()[2]
    key = lines[-1].split()[-1]
    return integration_id, key


def send(daemon: Daemon, key: str, dedup: str, action: str = "trigger") -> httpx.Response:
    with daemon.client() as client:
        return client.post("/v2/enqueue", json=v2(key, action, dedup))


def test_create_show_list(daemon: Daemon) -> None:
    out = ok(daemon, "services", "create", "Shop", "--urgency", "low", "--description", "web")
    assert "created service" in out
    integration_id, key = add_v2(daemon, "Shop")
    assert len(key) == 32 and key.isalnum()
    # By id: the module's other tests add integrations called "v2" to the same daemon.
    assert (
        daemon.scalar("SELECT integration_key FROM integrations WHERE id = ?", integration_id)
        == key
    )
    shown = ok(daemon, "services", "show", "Shop")
    assert "urgency:" in shown and "low" in shown and key in shown and "web" in shown
    listing = ok(daemon, "services", "list")
    assert "Shop  [active]  create_alerts_and_incidents  urgency=low" in listing
    assert key in listing


def test_create_duplicate_and_unknown_service_fail_cleanly(daemon: Daemon) -> None:
    ok(daemon, "services", "create", "Dup")
    again = daemon.cli("services", "create", "Dup")
    assert again.returncode == 1 and "Name has already been taken" in again.stderr
    assert "Traceback" not in again.stderr
    missing = daemon.cli("services", "show", "Nope")
    assert missing.returncode == 1 and "Service Nope not found" in missing.stderr


def test_disable_stops_incidents_and_enable_restores(daemon: Daemon) -> None:
    ok(daemon, "services", "create", "Pausable")
    _, key = add_v2(daemon, "Pausable")
    sid = daemon.scalar("SELECT id FROM services WHERE name = 'Pausable'")
    assert "is disabled" in ok(daemon, "services", "disable", "Pausable")
    assert send(daemon, key, "off").status_code == 202
    assert daemon.scalar("SELECT count(*) FROM incidents WHERE service_id = ?", sid) == 0
    assert "[disabled]" in ok(daemon, "services", "list", "--query", "Pausable")
    assert "is active" in ok(daemon, "services", "enable", sid)
    assert send(daemon, key, "on").status_code == 202
    assert daemon.scalar("SELECT count(*) FROM incidents WHERE service_id = ?", sid) == 1


def test_add_vendor_and_email_integrations(daemon: Daemon) -> None:
    ok(daemon, "services", "create", "Vendors")
    out = ok(daemon, "integrations", "add", "Vendors", "--vendor", "cloudwatch")
    assert "aws_cloudwatch_inbound_integration" in out
    out = ok(daemon, "integrations", "add", "Vendors", "--type", "email", "--email", "v@gw.test")
    assert "email address: v@gw.test" in out
    bad = daemon.cli("integrations", "add", "Vendors", "--type", "email")
    assert bad.returncode == 1 and "integration_email is required" in bad.stderr


def test_move_asks_shows_differences_and_moves_incidents(daemon: Daemon) -> None:
    ok(daemon, "services", "create", "From")
    ok(daemon, "services", "create", "To", "--urgency", "severity_based")
    integration_id, key = add_v2(daemon, "From")
    assert send(daemon, key, "m1").status_code == 202
    to_id = daemon.scalar("SELECT id FROM services WHERE name = 'To'")

    declined = daemon.cli("integrations", "move", integration_id, "To", stdin="n\n")
    assert declined.returncode == 1
    assert "incident_urgency_rule: high -> severity_based" in declined.stdout
    assert (
        daemon.scalar("SELECT service_id FROM incidents WHERE integration_id = ?", integration_id)
        != to_id
    )

    out = ok(daemon, "integrations", "move", integration_id, "To", stdin="y\n")
    assert "1 incident(s) and 1 alert(s)" in out
    assert (
        daemon.scalar("SELECT service_id FROM incidents WHERE integration_id = ?", integration_id)
        == to_id
    )
    assert (
        daemon.scalar("SELECT service_id FROM alerts WHERE integration_id = ?", integration_id)
        == to_id
    )
    assert (
        daemon.scalar("SELECT integration_key FROM integrations WHERE id = ?", integration_id)
        == key
    )
    back = ok(daemon, "integrations", "move", integration_id, "From", "--yes")
    assert "incident_urgency_rule: severity_based -> high" in back


def test_v2_move_onto_create_incidents_is_refused(daemon: Daemon) -> None:
    ok(daemon, "services", "create", "Src2")
    ok(daemon, "services", "create", "Old", "--alert-creation", "create_incidents")
    integration_id, _ = add_v2(daemon, "Src2")
    refused = daemon.cli("integrations", "move", integration_id, "Old", "--yes")
    assert refused.returncode == 1 and "create_incidents" in refused.stderr


def test_delete_asks_then_the_key_stops_working(daemon: Daemon) -> None:
    ok(daemon, "services", "create", "Del")
    integration_id, key = add_v2(daemon, "Del")
    assert send(daemon, key, "kept").status_code == 202
    assert daemon.cli("integrations", "delete", integration_id, stdin="n\n").returncode == 1
    assert send(daemon, key, "still").status_code == 202
    ok(daemon, "integrations", "delete", integration_id, stdin="y\n")
    refused = send(daemon, key, "gone")
    assert refused.status_code == 400 and "Invalid routing key" in refused.text
    assert (
        daemon.scalar("SELECT count(*) FROM incidents WHERE integration_id = ?", integration_id)
        == 2
    )
    again = daemon.cli("integrations", "delete", integration_id, "--yes")
    assert again.returncode == 1 and "not found" in again.stderr


def test_list_without_a_database_says_so(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config(storage="missing.db"))
    done = cli("services", "list", "--config", str(path), cwd=tmp_path)
    assert done.returncode == 1 and "no database" in done.stderr
