"""``[[users]]`` in the configuration file: provisioned through the user rules, owned by it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import check_config
from gateway.config import parse_settings
from gateway.core import contact_methods as cm
from gateway.core import users
from gateway.core.contact_types import available
from gateway.core.inputs import Agent
from gateway.core.provision import provision
from gateway.domain import ContactMethod, NotificationRule, User
from gateway.errors import ConfigError, Refused
from gateway.plugins import PluginHost, load_plugins
from gateway.store import Reader
from gateway.store.offline import read_sync, write_sync

API = Agent("api_token", "PTOKEN1")
PLAIN = """
[[users]]
name = "Ada Lovelace"
email = "Ada@Example.com"
role = "responder"
time_zone = "Europe/London"
"""
DETAILED = """
[[users]]
name = "Grace Hopper"
email = "grace@example.com"
job_title = "Rear Admiral"
  [[users.contact_methods]]
  label = "Work"
  address = "grace@example.com"
  [[users.contact_methods]]
  label = "Pager"
  type = "email_contact_method"
  address = "pager-grace@example.com"
  [[users.notification_rules]]
  contact_method = "Work"
  [[users.notification_rules]]
  contact_method = "Pager"
  start_delay_in_minutes = 5
  urgency = "high"
  [[users.notification_rules]]
  contact_method = "Work"
  urgency = "low"
"""


@pytest.fixture(scope="module")
def plugins() -> PluginHost:
    return load_plugins()


def run(db: Path, text: str, plugins: PluginHost) -> None:
    settings = parse_settings(text, source=db.with_name("gateway.toml"))
    write_sync(db, lambda tx: provision(tx, settings, plugins))


def person(db: Path, email: str) -> tuple[User, list[ContactMethod], list[NotificationRule]]:
    def read(reader: Reader) -> tuple[User, list[ContactMethod], list[NotificationRule]]:
        found = users.find_user(reader, email)
        return (
            found,
            cm.contact_methods_for(reader, found),
            cm.notification_rules_for(reader, found),
        )

    return read_sync(db, read)


def test_a_declared_user_gets_defaults_and_is_the_files_to_change(
    tmp_path: Path, plugins: PluginHost
) -> None:
    db = tmp_path / "gw.db"
    run(db, PLAIN, plugins)
    user, methods, rules = person(db, "ada@example.com")
    assert (user.name, user.role, user.time_zone, user.source) == (
        "Ada Lovelace", "limited_user", "Europe/London", "config",
    )  # fmt: skip
    assert [(m.label, m.address, m.source) for m in methods] == [
        ("Default", "Ada@Example.com", "api")
    ]
    assert sorted(r.urgency for r in rules) == ["high", "low"]
    with pytest.raises(Refused, match="declared in the configuration file"):
        write_sync(db, lambda tx: users.update_user(tx, user.id, users.UserPatch(name="X"), by=API))
    with pytest.raises(Refused, match="declared in the configuration file"):
        write_sync(db, lambda tx: users.delete_user(tx, user.id, by=API))
    # Sending the same values back is no change (clients PUT whole objects).
    write_sync(
        db, lambda tx: users.update_user(tx, user.id, users.UserPatch(name="Ada Lovelace"), by=API)
    )
    # The defaults are runtime's: the user edits them.
    write_sync(
        db,
        lambda tx: cm.update_contact_method(
            tx, user.id, methods[0].id, cm.ContactMethodPatch(label="Mine"), {}, by=API
        ),
    )
    run(db, PLAIN.replace("Ada Lovelace", "Ada King"), plugins)  # matched by email
    again, methods, _ = person(db, "ADA@example.com")
    assert (again.id, again.name, methods[0].label) == (user.id, "Ada King", "Mine")
    run(db, "", plugins)  # no longer declared: released, not deleted
    released, _, _ = person(db, "ada@example.com")
    assert released.source == "api"
    write_sync(db, lambda tx: users.update_user(tx, user.id, users.UserPatch(name="Ada"), by=API))


def test_declared_contact_methods_and_rules_follow_the_file(
    tmp_path: Path, plugins: PluginHost
) -> None:
    db = tmp_path / "gw.db"
    run(db, DETAILED, plugins)
    user, methods, rules = person(db, "grace@example.com")
    # One job made both: their order is the ids' (any), so compare them sorted.
    methods.sort(key=lambda m: m.label, reverse=True)
    assert [(m.label, m.address, m.source) for m in methods] == [
        ("Work", "grace@example.com", "config"),
        ("Pager", "pager-grace@example.com", "config"),
    ]
    labels = {m.id: m.label for m in methods}
    shape = sorted(
        (labels[r.contact_method_id], r.start_delay_in_minutes, r.urgency) for r in rules
    )
    assert shape == [("Pager", 5, "high"), ("Work", 0, "high"), ("Work", 0, "low")]
    assert {r.source for r in rules} == {"config"}
    run(db, DETAILED, plugins)  # again: nothing new, the same rows
    _, same_methods, same_rules = person(db, "grace@example.com")
    assert (set(same_methods), set(same_rules)) == (set(methods), set(rules))
    # At runtime: a contact method of one's own is fine; the file's are refused.
    work = methods[0]
    with pytest.raises(Refused, match="Contact method 'Work' is declared"):
        write_sync(db, lambda tx: cm.delete_contact_method(tx, user.id, work.id, by=API))
    extra = write_sync(
        db,
        lambda tx: cm.create_contact_method(
            tx, user.id, cm.ContactMethodInput("email_contact_method", "h@example.com", "Home"),
            available({}), by=API,
        ),
    )  # fmt: skip
    # The file drops the pager and its rule, and moves Work's address.
    edited = DETAILED.replace('address = "grace@example.com"', 'address = "g@example.com"')
    edited = edited.replace(
        '''  [[users.contact_methods]]
  label = "Pager"
  type = "email_contact_method"
  address = "pager-grace@example.com"
''', "").replace(
        '''  [[users.notification_rules]]
  contact_method = "Pager"
  start_delay_in_minutes = 5
  urgency = "high"
''', "")  # fmt: skip
    run(db, edited, plugins)
    _, methods, rules = person(db, "grace@example.com")
    assert [(m.label, m.address) for m in methods] == [
        ("Work", "g@example.com"),
        ("Home", "h@example.com"),
    ]
    assert methods[1].id == extra.id and methods[1].source == "api"
    assert sorted((r.start_delay_in_minutes, r.urgency) for r in rules) == [(0, "high"), (0, "low")]


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (PLAIN.replace("Europe/London", "Mars/Olympus"), "users[0]", "Mars/Olympus"),
        (PLAIN.replace('"responder"', '"emperor"'), "users[0]", "role must be one of"),
        (PLAIN.replace("Ada@Example.com", "not-mail"), "users[0]", "not an email address"),
        (
            DETAILED.replace('type = "email_contact_method"', 'type = "sms_contact_method"'),
            "users[0].contact_methods[1]",
            "no loaded plugin registers it",
        ),
        (
            DETAILED.replace('contact_method = "Pager"', 'contact_method = "Phone"'),
            "users[0].notification_rules[1].contact_method",
            "names no contact method of this user",
        ),
        (PLAIN + PLAIN.replace("Ada@", "ADA@"), "users[1].email", "same email"),
        (PLAIN + 'color = "green"\n', "users[0].color", "unknown key"),
        (
            DETAILED.replace("start_delay_in_minutes = 5", "start_delay_in_minutes = -5"),
            "users[0].notification_rules[1].start_delay_in_minutes",
            "at least 0",
        ),
    ],
)
def test_mistakes_name_the_key_and_line_and_change_nothing(
    tmp_path: Path, plugins: PluginHost, text: str, key: str, words: str
) -> None:
    db = tmp_path / "gw.db"
    with pytest.raises(ConfigError) as caught:
        run(db, text, plugins)
    assert caught.value.key == key and words in caught.value.message
    assert caught.value.line is not None
    if db.exists():
        assert read_sync(db, lambda r: r.count("users")) == 0


def test_check_config_reports_users_problems(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(PLAIN.replace("Europe/London", "Mars/Olympus"))
    bad = CliRunner().invoke(check_config, [str(config)])
    assert bad.exit_code == 2 and "users[0]" in bad.stderr and "Mars/Olympus" in bad.stderr
    config.write_text(PLAIN + DETAILED)
    ok = CliRunner().invoke(check_config, [str(config)])
    assert ok.exit_code == 0, ok.stderr
    assert "2 users" in ok.stdout


CHANGES = """
  [[users.notification_rules]]
  contact_method = "Work"
  type = "status_change_notification_rule"
"""


def test_a_declared_status_change_rule_is_its_own_rule(tmp_path: Path, plugins: PluginHost) -> None:
    db = tmp_path / "gw.db"
    run(db, DETAILED + CHANGES, plugins)
    _, _, first = person(db, "grace@example.com")
    run(db, DETAILED + CHANGES, plugins)  # again: matched, not made twice
    _, _, again = person(db, "grace@example.com")
    run(db, DETAILED, plugins)  # gone from the file: deleted, the assignment rules kept
    _, _, after = person(db, "grace@example.com")
    kinds = sorted((r.type, r.urgency, r.start_delay_in_minutes) for r in first)
    assert kinds == [
        ("assignment_notification_rule", "high", 0),
        ("assignment_notification_rule", "high", 5),
        ("assignment_notification_rule", "low", 0),
        ("status_change_notification_rule", "high", 0),
    ]
    assert {r.id for r in again} == {r.id for r in first}
    assert {r.type for r in after} == {"assignment_notification_rule"} and len(after) == 3
    with pytest.raises(ConfigError) as low:
        run(tmp_path / "low.db", DETAILED + CHANGES + '  urgency = "low"\n', plugins)
    assert "high-urgency incidents only" in low.value.message
    with pytest.raises(ConfigError) as bad:
        run(
            tmp_path / "bad.db",
            DETAILED + CHANGES.replace("status_change", "status_update"),
            plugins,
        )
    assert bad.value.key == "users[0].notification_rules[3].type"
