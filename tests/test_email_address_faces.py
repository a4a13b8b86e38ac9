"""Email addresses in the CLI, check-config and the web UI, with and without ``[smtp]``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.core.email_integrations import NO_SMTP
from tests.scaffold import cli, config, daemon_running, email_integration, service
from tests.ui.harness import post_form, signed_in, ui_running

pytestmark = pytest.mark.slow  # real daemon processes and the CLI

SMTP = {"listen": "127.0.0.1:0", "domain": "alerts.example.com"}
MAIL = service("Mail", email_integration("plain", "ops", email_preset="nagios"))


def test_cli_lists_and_shows_the_whole_address(tmp_path: Path) -> None:
    with daemon_running(tmp_path, config(MAIL, smtp=SMTP)) as daemon:
        listed = daemon.cli("services", "list")
        shown = daemon.cli("services", "show", "Mail")
        added = daemon.cli(
            "integrations", "add", "Mail", "--type", "email", "--email", "cli", "--name", "cli"
        )
        other = daemon.cli(
            "integrations", "add", "Mail", "--type", "email", "--email", "x@elsewhere.example"
        )
    assert listed.returncode == 0, listed.stderr
    assert "email ops@alerts.example.com" in listed.stdout
    assert "email ops@alerts.example.com" in shown.stdout
    assert "no [smtp]" not in listed.stdout
    assert added.returncode == 0, added.stderr
    assert "email address: cli@alerts.example.com" in added.stdout
    assert other.returncode == 1 and "@elsewhere.example" in other.stderr


def test_without_smtp_the_cli_and_check_config_warn_and_add_is_refused(tmp_path: Path) -> None:
    text = config(MAIL)
    with daemon_running(tmp_path, text) as daemon:  # the daemon starts all the same
        warned = daemon.wait_for_log("config.email_without_smtp")
        listed = daemon.cli("services", "list")
        added = daemon.cli("integrations", "add", "Mail", "--type", "email", "--email", "new")
        checked = cli("check-config", str(daemon.config_path), cwd=tmp_path)
    assert warned[-1]["key"] == "services[0].integrations[0]"
    assert "email ops (no [smtp] section: this address receives no mail)" in listed.stdout
    assert added.returncode == 1 and f"error: {NO_SMTP}" in added.stderr
    assert checked.returncode == 0, checked.stderr
    assert "warning:" in checked.stderr and "no [smtp] section" in checked.stderr


def test_ui_warns_on_the_integration_and_refuses_a_new_one_without_smtp(tmp_path: Path) -> None:
    with ui_running(tmp_path, config(MAIL)) as gw, signed_in(gw, "manager") as client:
        sid = gw.daemon.scalar("SELECT id FROM services WHERE name = 'Mail'")
        page = client.get(f"/ui/services/{sid}/integrations").text
        assert re.search(r'id="email-\w+-no-smtp">No mail reaches this address', page)
        assert "Nagios/Icinga notification mails (preset)" in page
        refused = post_form(
            client,
            f"/ui/services/{sid}/integrations/new",
            f"/ui/services/{sid}/integrations/new",
            integration_type="email",
            integration_name="Mailbox",
            integration_email="mailbox",
        )
        assert refused.status_code == 400 and "no [smtp] section is configured" in refused.text
        count = gw.daemon.scalar("SELECT count(*) FROM integrations WHERE service_id = ?", sid)
        assert count == 1


def test_ui_shows_the_whole_address_with_smtp(tmp_path: Path) -> None:
    with (
        ui_running(tmp_path, config(MAIL, smtp=SMTP)) as gw,
        signed_in(gw, "manager") as client,
    ):
        sid = gw.daemon.scalar("SELECT id FROM services WHERE name = 'Mail'")
        page = client.get(f"/ui/services/{sid}/integrations").text
        assert re.search(r'<code id="email-\w+">ops@alerts.example.com</code>', page)
        assert "no-smtp" not in page
