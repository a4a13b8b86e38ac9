"""Provisioning from the configuration file, through the service layer, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import check_config
from gateway.config import Settings, parse_settings
from gateway.core.inputs import (
    CONFIG,
    Agent,
    IntegrationInput,
    IntegrationPatch,
    ServiceInput,
    ServicePatch,
)
from gateway.core.integrations import add_integration, delete_integration, update_integration
from gateway.core.moves import move_integration
from gateway.core.provision import CreatedIntegration, provision, provision_report
from gateway.core.services import create_service, delete_service, placement_problem, update_service
from gateway.domain import EVENTS_API_V1, EVENTS_API_V2, GENERIC_EMAIL
from gateway.errors import ConfigError, Invalid, Refused
from gateway.plugins import PluginHost, load_plugins
from gateway.store import Tx
from gateway.store.offline import read_sync, write_sync

KEY = "0123456789abcdef0123456789abcdef"
FILE = f"""
[[services]]
name = "Checkout"
  [[services.integrations]]
  name = "events"
  type = "events_api_v2"
  integration_key = "{KEY}"

  [[services.integrations]]
  name = "mail"
  type = "email"
  integration_email = "Ops"

[[services]]
name = "Legacy"
status = "disabled"
alert_creation = "create_incidents"
  [[services.integrations]]
  name = "cron"
  type = "events_api_v1"
"""


@pytest.fixture(scope="module")
def plugins() -> PluginHost:
    return load_plugins()


def run(db: Path, text: str, plugins: PluginHost) -> list[CreatedIntegration]:
    settings: Settings = parse_settings(text, source=db.with_name("gateway.toml"))
    return write_sync(db, lambda tx: provision(tx, settings, plugins))


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    return read_sync(db, lambda r: r.conn.execute(sql).fetchall())


def test_provisioning_creates_through_the_service_layer_and_logs_as_config(
    tmp_path: Path, plugins: PluginHost
) -> None:
    db = tmp_path / "gw.db"
    created = run(db, FILE, plugins)
    # Every integration without a key in the file gets one, shown once (email ones too).
    assert [(c.service, c.name) for c in created] == [("Checkout", "mail"), ("Legacy", "cron")]
    assert all(len(c.integration_key) == 32 for c in created)
    assert rows(db, "SELECT name, status, alert_creation FROM services ORDER BY name") == [
        ("Checkout", "active", "create_alerts_and_incidents"),
        ("Legacy", "disabled", "create_incidents"),
    ]
    listed = rows(db, "SELECT name, type, integration_email FROM integrations ORDER BY name")
    assert listed == [
        ("cron", EVENTS_API_V1, None),
        ("events", EVENTS_API_V2, None),
        ("mail", GENERIC_EMAIL, "ops"),  # a bare local part is stored lower-cased
    ]
    assert rows(db, "SELECT integration_key FROM integrations WHERE name = 'events'") == [(KEY,)]
    source = str(tmp_path / "gateway.toml")
    entries = rows(db, "SELECT type, agent_type, agent_id FROM log_entries ORDER BY seq")
    assert {(agent, who) for _, agent, who in entries} == {("config", source)}
    assert [t for t, _, _ in entries].count("service_create_log_entry") == 2
    assert [t for t, _, _ in entries].count("service_disable_log_entry") == 1

    # The same file again changes nothing and logs nothing.
    assert run(db, FILE, plugins) == []
    assert len(rows(db, "SELECT id FROM log_entries")) == len(entries)


def test_an_edited_file_changes_kinds_in_an_order_the_rules_allow(
    tmp_path: Path, plugins: PluginHost
) -> None:
    db = tmp_path / "gw.db"
    run(db, FILE, plugins)
    # Checkout becomes create_incidents while its v2 integration becomes v1 and its key
    # stays: the integration changes first, then the service.
    edited = FILE.replace(
        'name = "Checkout"', 'name = "Checkout"\nalert_creation = "create_incidents"'
    )
    edited = edited.replace('type = "events_api_v2"', 'type = "events_api_v1"')
    run(db, edited, plugins)
    assert rows(db, "SELECT type, integration_key FROM integrations WHERE name = 'events'") == [
        (EVENTS_API_V1, KEY)
    ]
    # And back: the service creates alerts first, then the integration becomes v2 again.
    run(db, FILE, plugins)
    assert rows(db, "SELECT type FROM integrations WHERE name = 'events'") == [(EVENTS_API_V2,)]
    assert rows(db, "SELECT alert_creation FROM services WHERE name = 'Checkout'") == [
        ("create_alerts_and_incidents",)
    ]


def test_refusals_name_the_block_and_its_line(tmp_path: Path, plugins: PluginHost) -> None:
    db = tmp_path / "gw.db"

    def api_integration(tx: Tx) -> None:
        service = create_service(tx, ServiceInput(name="Elsewhere"))
        add_integration(tx, service.id, IntegrationInput(type="events_api_v1"), plugins)
        tx.conn.execute("UPDATE integrations SET integration_key = ?", (KEY,))
        # The file's key is found elsewhere and would come to Checkout as "events", a name
        # one of Checkout's runtime integrations already has.
        checkout = create_service(tx, ServiceInput(name="Checkout"))
        add_integration(
            tx,
            checkout.id,
            IntegrationInput(name="events", type="email", integration_email="x@example.com"),
            plugins,
        )

    write_sync(db, api_integration)
    with pytest.raises(ConfigError) as caught:
        run(db, FILE, plugins)
    assert "name 'events' is already used by another integration" in caught.value.message
    assert (caught.value.key, caught.value.line) == ("services[0].integrations[0]", 4)
    assert rows(db, "SELECT name FROM services ORDER BY name") == [
        ("Checkout",),
        ("Elsewhere",),
    ]  # all or nothing

    with pytest.raises(ConfigError) as caught:
        run(
            tmp_path / "other.db",
            FILE.replace('type = "events_api_v1"', 'vendor = "nope"'),
            plugins,
        )
    assert caught.value.message.startswith("unknown vendor 'nope' (loaded: ")
    assert caught.value.key == "services[1].integrations[0].vendor"


def test_check_config_provisions_into_a_scratch_database(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        FILE + '  [[services.integrations]]\n  name = "v2"\n  vendor = "events_api_v2"\n'
    )
    # The command itself: the top-level group would reconfigure this process's logging.
    result = CliRunner().invoke(check_config, [str(config)])
    assert result.exit_code == 2
    rule = placement_problem(EVENTS_API_V2, "create_incidents")
    assert f"services[1].integrations[1]: {rule}" in result.stderr
    assert not (tmp_path / "alert-gateway.db").exists()  # nothing written beside the file
    config.write_text(FILE)
    ok = CliRunner().invoke(check_config, [str(config)])
    assert ok.exit_code == 0, ok.stderr
    assert "OK (2 services, 3 integrations)" in ok.stdout


# -- issue 14 item 6: a key deleted at runtime stays deleted -------------------------------------


def test_a_deleted_key_is_skipped_never_given_back(tmp_path: Path, plugins: PluginHost) -> None:
    db = tmp_path / "gw.db"
    run(db, FILE, plugins)
    (events_id,) = rows(db, f"SELECT id FROM integrations WHERE integration_key = '{KEY}'")[0]
    write_sync(db, lambda tx: delete_integration(tx, events_id, by=Agent("api_token", "PTOKEN")))

    # The unchanged file provisions without an error: the block is skipped, the key stays dead.
    report = write_sync(db, lambda tx: provision_report(tx, parse_settings(FILE), plugins))
    assert report.problems == [] and report.created == []
    (warning,) = report.warnings
    assert (warning.key, warning.line) == ("services[0].integrations[0]", 4)
    assert "deleted" in warning.message and KEY not in warning.message
    assert run(db, FILE, plugins) == []
    assert rows(db, f"SELECT id FROM integrations WHERE integration_key = '{KEY}'") == []

    # Pinned anywhere else (another block, the core's own patch), the key is refused too.
    moved = FILE.replace(f'  integration_key = "{KEY}"\n', "") + f'  integration_key = "{KEY}"\n'
    assert write_sync(db, lambda tx: provision_report(tx, parse_settings(moved), plugins)).warnings[
        0
    ].key == ("services[1].integrations[0]")
    (cron_id,) = rows(db, "SELECT id FROM integrations WHERE name = 'cron'")[0]
    with pytest.raises(Invalid) as caught:
        write_sync(
            db,
            lambda tx: update_integration(
                tx, cron_id, IntegrationPatch(integration_key=KEY), plugins=plugins, by=CONFIG
            ),
        )
    assert "a deleted key can never be used again" in caught.value.errors[0]


def test_check_config_runs_against_the_database_and_keeps_nothing(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[storage]\npath = "gw.db"\n' + FILE)
    db = tmp_path / "gw.db"
    first = CliRunner().invoke(check_config, [str(config)])
    assert first.exit_code == 0, first.stderr
    assert "an empty database" in first.stdout and not db.exists()

    run(db, FILE, plugins=load_plugins())
    (events_id,) = rows(db, f"SELECT id FROM integrations WHERE integration_key = '{KEY}'")[0]
    write_sync(db, lambda tx: delete_integration(tx, events_id))
    before = rows(db, "SELECT count(*) FROM log_entries")
    checked = CliRunner().invoke(check_config, [str(config)])
    assert checked.exit_code == 0, checked.stderr
    assert f"checked against {db}; 1 block(s) skipped" in checked.stdout
    assert "warning: " in checked.stderr and "line 6: services[0].integrations[0]" in checked.stderr
    assert rows(db, "SELECT count(*) FROM log_entries") == before  # rolled back


# -- issue 14 item 7: the file and runtime edits never fight -------------------------------------


def test_a_database_an_older_build_let_runtime_edits_into_still_provisions(
    tmp_path: Path, plugins: PluginHost
) -> None:
    db = tmp_path / "gw.db"
    run(db, FILE, plugins)
    ids = dict(rows(db, "SELECT name, id FROM integrations"))

    def older_build_edits(tx: Tx) -> None:
        # What the REST API allowed before the file's objects were marked: a rename of a
        # fixed-key integration, a move of it and of the email integration to another service.
        tx.conn.execute("UPDATE services SET source = 'api'")
        tx.conn.execute("UPDATE integrations SET source = 'api'")
        elsewhere = create_service(tx, ServiceInput(name="Elsewhere")).id
        update_integration(tx, ids["events"], IntegrationPatch(name="renamed"))
        move_integration(tx, ids["events"], elsewhere, confirm=True)
        move_integration(tx, ids["mail"], elsewhere, confirm=True)

    write_sync(db, older_build_edits)
    assert run(db, FILE, plugins) == []  # starts: nothing created twice, nothing refused
    placed = rows(
        db,
        "SELECT i.name, s.name, i.integration_key IS NOT NULL, i.source FROM integrations i "
        "JOIN services s ON s.id = i.service_id ORDER BY i.name",
    )
    assert placed == [
        ("cron", "Legacy", 1, "config"),
        ("events", "Checkout", 1, "config"),  # found by its fixed key, moved back, renamed
        ("mail", "Checkout", 1, "config"),  # found by its address
    ]
    assert rows(db, f"SELECT id FROM integrations WHERE integration_key = '{KEY}'") == [
        (ids["events"],)
    ]


def test_the_core_refuses_runtime_edits_of_what_the_file_declares(
    tmp_path: Path, plugins: PluginHost
) -> None:
    db = tmp_path / "gw.db"
    run(db, FILE, plugins)
    ids = dict(rows(db, "SELECT name, id FROM integrations"))
    (checkout,) = rows(db, "SELECT id FROM services WHERE name = 'Checkout'")[0]
    (legacy,) = rows(db, "SELECT id FROM services WHERE name = 'Legacy'")[0]
    cli_user = Agent("cli", "ops")
    for edit in (
        lambda tx: update_integration(tx, ids["mail"], IntegrationPatch(name="x"), by=cli_user),
        lambda tx: update_integration(
            tx, ids["mail"], IntegrationPatch(integration_email="new@example.com"), by=cli_user
        ),
        lambda tx: move_integration(tx, ids["mail"], legacy, confirm=True, by=cli_user),
        lambda tx: update_service(tx, checkout, ServicePatch(status="disabled"), by=cli_user),
        lambda tx: delete_service(tx, checkout, by=cli_user),
    ):
        with pytest.raises(Refused) as caught:
            write_sync(db, edit)
        assert caught.value.code == 2001
        assert "declared in the configuration file; change it there" in caught.value.errors[0]
    # What the file has no key for stays a runtime setting; deleting an integration (how a
    # leaked key is stopped at once) is allowed.
    write_sync(db, lambda tx: tx.insert_escalation_policy("PEPRUN1", name="Runtime"))
    write_sync(
        db,
        lambda tx: update_service(
            tx, checkout, ServicePatch(escalation_policy_id="PEPRUN1"), by=cli_user
        ),
    )
    write_sync(db, lambda tx: delete_integration(tx, ids["mail"], by=cli_user))
    report = write_sync(db, lambda tx: provision_report(tx, parse_settings(FILE), plugins))
    assert [w.key for w in report.warnings] == ["services[0].integrations[1]"]
    assert "was deleted at runtime" in report.warnings[0].message


def test_check_config_names_every_conflict_the_start_would_hit(
    tmp_path: Path, plugins: PluginHost
) -> None:
    config = tmp_path / "gateway.toml"
    creates_alerts = FILE.replace('alert_creation = "create_incidents"\n', "")
    config.write_text('[storage]\npath = "gw.db"\n' + creates_alerts)
    db = tmp_path / "gw.db"
    run(db, creates_alerts, plugins)

    def runtime_v2_integrations(tx: Tx) -> None:
        for service in tx.services():
            add_integration(tx, service.id, IntegrationInput(type="events_api_v2"), plugins)

    write_sync(db, runtime_v2_integrations)
    # The file now makes both services create_incidents: each has a runtime v2 integration.
    edited = creates_alerts.replace(
        'name = "Checkout"', 'name = "Checkout"\nalert_creation = "create_incidents"'
    )
    edited = edited.replace(
        'name = "Legacy"', 'name = "Legacy"\nalert_creation = "create_incidents"'
    )
    edited = edited.replace('type = "events_api_v2"', 'type = "events_api_v1"')
    config.write_text('[storage]\npath = "gw.db"\n' + edited)
    checked = CliRunner().invoke(check_config, [str(config)])
    assert checked.exit_code == 2
    errors = [line for line in checked.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert ": services[0]: An Events API v2 integration cannot be" in errors[0]
    assert ": services[1]: An Events API v2 integration cannot be" in errors[1]
    with pytest.raises(ConfigError) as caught:  # and start-up stops on the first of them
        run(db, edited, plugins)
    assert caught.value.key == "services[0]"


def test_check_config_copies_a_database_from_an_older_version_and_migrates_nothing(
    tmp_path: Path,
) -> None:
    import sqlite3

    from gateway.store.schema import MIGRATIONS, _statements

    db = tmp_path / "gw.db"
    conn = sqlite3.connect(db)
    for version, script in enumerate(MIGRATIONS[:4], start=1):
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    config = tmp_path / "gateway.toml"
    config.write_text('[storage]\npath = "gw.db"\n' + FILE)
    checked = CliRunner().invoke(check_config, [str(config)])
    assert checked.exit_code == 0, checked.stderr
    assert f"checked against a copy of {db}" in checked.stdout
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone() == (4,)  # not migrated
    assert conn.execute("SELECT count(*) FROM services").fetchone() == (0,)
    conn.close()


def test_names_are_unique_within_a_service_but_an_unnamed_integration_is_never_refused(
    tmp_path: Path, plugins: PluginHost
) -> None:
    db = tmp_path / "gw.db"

    def add_three(tx: Tx) -> list[str]:
        service = create_service(tx, ServiceInput(name="Web")).id
        unnamed = IntegrationInput(type="events_api_v2")
        made = [add_integration(tx, service, unnamed, plugins).name for _ in range(2)]
        with pytest.raises(Invalid) as caught:
            add_integration(tx, service, IntegrationInput(name=made[0], type="email"), plugins)
        assert caught.value.errors[:1] == [
            f"name {made[0]!r} is already used by another integration on this service"
        ]
        return made

    assert write_sync(db, add_three) == ["Events API v2", "Events API v2 (2)"]
