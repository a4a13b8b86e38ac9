"""``[[escalation_policies]]`` and a service's ``escalation_policy`` in the configuration file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import parse_settings
from gateway.core import escalation_policies as ep
from gateway.core.inputs import Agent, ServicePatch
from gateway.core.provision import provision
from gateway.core.services import update_service
from gateway.errors import ConfigError, Refused
from gateway.plugins import PluginHost, load_plugins
from gateway.store.offline import read_sync, write_sync

FILE = """
[[users]]
name = "Lead One"
email = "lead1@example.com"

[[users]]
name = "Lead Two"
email = "Lead2@Example.com"

[[schedules]]
name = "Checkout primary"
time_zone = "Europe/Berlin"
  [[schedules.layers]]
  start = "2026-01-05T09:00:00+01:00"
  rotation_turn_length_seconds = 604800
  users = ["lead1@example.com", "lead2@example.com"]

[[escalation_policies]]
name = "Checkout on-call"
description = "primary, then the lead"
num_loops = 1
  [[escalation_policies.escalation_rules]]
  escalation_delay_in_minutes = 10
  escalation_rule_assignment_strategy = "round_robin"
  schedules = ["Checkout primary"]
  [[escalation_policies.escalation_rules]]
  escalation_delay_in_minutes = 20
  users = ["lead1@example.com", "lead2@example.com"]

[[services]]
name = "Checkout"
escalation_policy = "Checkout on-call"

[[services]]
name = "Legacy"
"""

CLI = Agent("cli")


@pytest.fixture(scope="module")
def plugins() -> PluginHost:
    return load_plugins()


def run(db: Path, text: str, plugins: PluginHost) -> None:
    settings = parse_settings(text, source=db.with_name("gateway.toml"))
    write_sync(db, lambda tx: provision(tx, settings, plugins))


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    return read_sync(db, lambda r: r.conn.execute(sql).fetchall())


def test_the_file_declares_policies_and_services_name_them(
    tmp_path: Path, plugins: PluginHost
) -> None:
    db = tmp_path / "gw.db"
    run(db, FILE, plugins)
    policy = read_sync(db, lambda r: ep.find_policy(r, "Checkout on-call"))
    assert policy.source == "config" and policy.num_loops == 1
    assert [(r.escalation_delay_in_minutes, r.assignment_strategy) for r in policy.rules] == [
        (10, "round_robin"),
        (20, "assign_to_everyone"),
    ]
    leads = [read_sync(db, lambda r, n=n: r.user_by_email(f"lead{n}@example.com")) for n in (1, 2)]
    (primary,) = read_sync(db, lambda r: r.schedules_by_name("Checkout primary"))
    assert [[(t.type, t.id) for t in r.targets] for r in policy.rules] == [
        [("schedule", primary.id)],
        [("user", u.id) for u in leads if u],
    ]
    services = dict(rows(db, "SELECT name, escalation_policy_id FROM services"))
    # A block without escalation_policy gets the Default policy, as a new REST service does.
    assert services == {"Checkout": policy.id, "Legacy": ep.DEFAULT_POLICY_ID}
    # An unchanged file changes nothing (rule ids kept, no update written).
    before = rows(
        db, "SELECT r.id, p.updated_at FROM escalation_rules r JOIN escalation_policies p"
    )
    run(db, FILE, plugins)
    assert rows(
        db, "SELECT r.id, p.updated_at FROM escalation_rules r JOIN escalation_policies p"
    ) == (before)


def test_runtime_edits_of_what_the_file_declares_are_refused(
    tmp_path: Path, plugins: PluginHost
) -> None:
    db = tmp_path / "gw.db"
    run(db, FILE, plugins)
    policy = read_sync(db, lambda r: ep.find_policy(r, "Checkout on-call"))
    checkout, legacy = (
        read_sync(db, lambda r, n=n: r.service_by_name(n)) for n in ("Checkout", "Legacy")
    )
    assert checkout and legacy
    for edit in (
        lambda tx: ep.update_policy(tx, policy.id, ep.PolicyPatch(num_loops=3), by=CLI),
        lambda tx: ep.delete_policy(tx, policy.id, by=CLI),
        lambda tx: update_service(
            tx, checkout.id, ServicePatch(escalation_policy_id=ep.DEFAULT_POLICY_ID), by=CLI
        ),
    ):
        with pytest.raises(Refused) as caught:
            write_sync(db, edit)
        assert "configuration file; change it there" in caught.value.errors[0]
    # Legacy's block has no escalation_policy: runtime owns it, and the next start keeps it.
    write_sync(
        db,
        lambda tx: update_service(
            tx, legacy.id, ServicePatch(escalation_policy_id=policy.id), by=CLI
        ),
    )
    run(db, FILE, plugins)
    assert read_sync(db, lambda r: r.service(legacy.id)).escalation_policy_id == policy.id  # type: ignore[union-attr]
    # A policy the file no longer declares is released to runtime edits.
    run(db, FILE.replace("Checkout on-call", "Renamed"), plugins)
    write_sync(db, lambda tx: ep.update_policy(tx, policy.id, ep.PolicyPatch(num_loops=3), by=CLI))


@pytest.mark.parametrize(
    ("text", "needle", "key"),
    [
        (
            '[[services]]\nname = "S"\nescalation_policy = "Nope"\n',
            "no escalation policy is named 'Nope'",
            "services[0].escalation_policy",
        ),
        (
            '[[escalation_policies]]\nname = "Empty"\n',
            "at least one rule",
            "escalation_policies[0]",
        ),
        (
            '[[escalation_policies]]\nname = "Ghost"\n'
            '[[escalation_policies.escalation_rules]]\nusers = ["ghost@example.com"]\n',
            "user ghost@example.com does not exist",
            "escalation_policies[0]",
        ),
        (
            '[[escalation_policies]]\nname = "Two"\n'
            "[[escalation_policies.escalation_rules]]\nusers = []\n",
            "1 to 10",
            "escalation_policies[0]",
        ),
    ],
)
def test_refused_blocks_name_their_key(
    tmp_path: Path, plugins: PluginHost, text: str, needle: str, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        run(tmp_path / "gw.db", text, plugins)
    assert needle in str(caught.value) and caught.value.key == key


def test_typos_fail_at_parse_time_with_their_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings('[[escalation_policies]]\nname = "X"\nloops = 2\n')
    assert caught.value.key == "escalation_policies[0].loops"
    with pytest.raises(ConfigError) as caught:
        parse_settings('[[escalation_policies]]\nname = "X"\n[[escalation_policies]]\nname = "X"\n')
    assert "same name" in str(caught.value)
