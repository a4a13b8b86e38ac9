"""``email_preset``: its settings checks and the reading of subject-only mails."""

from __future__ import annotations

from alert_gateway_plugins import email as email_vendor

from tests.plugins.test_email import key_by_regex, mail, one, parse, regex_predicate


def test_preset_settings_are_checked_by_name() -> None:
    check = email_vendor.check_settings
    assert check({"email_preset": "nagios"}) == []
    assert check({"email_preset": "nagios", "email_incident_creation": "use_rules"}) == []
    assert check({"email_preset": "zabbix"}) == [
        "integration setting 'email_preset' is invalid (must be one of 'nagios')"
    ]
    (problem,) = check({"email_preset": "nagios", "email_incident_creation": "on_new_email"})
    assert problem.startswith("integration setting 'email_incident_creation' is invalid")
    assert "email_preset" in problem


def test_subject_alone_is_enough_and_a_slash_belongs_to_the_service() -> None:
    event = one(
        mail("** PROBLEM Service Alert: web-03/Disk /var is WARNING **", "short body"),
        email_preset="nagios",
    )
    assert (event.dedup_key, event.source, event.component) == (
        "web-03/Disk /var",
        "web-03",
        "Disk /var",
    )
    assert (event.event_action, event.severity) == ("trigger", "warning")


def test_a_state_without_a_type_decides_the_action() -> None:
    event = one(mail("status", "Host: db-01\nState: UP\n"), email_preset="nagios")
    assert (event.event_action, event.dedup_key) == ("resolve", "db-01")
    event = one(mail("status", "Host: db-01\nState: UNREACHABLE\n"), email_preset="nagios")
    assert (event.event_action, event.severity) == ("trigger", "error")


def test_own_parsers_run_before_the_preset() -> None:
    parser = {
        "action": "trigger",
        "match_predicate": regex_predicate("subject", "^CUSTOM "),
        "value_extractors": [key_by_regex(r"^CUSTOM (\S+)")],
    }
    rules = {"email_preset": "nagios", "email_incident_creation": "use_rules"}
    mine = one(
        mail("CUSTOM thing-1", "Host: db-01\nState: DOWN\n"), email_parsers=[parser], **rules
    )
    assert mine.dedup_key == "thing-1"
    preset = one(mail("other", "Host: db-01\nState: DOWN\n"), email_parsers=[parser], **rules)
    assert preset.dedup_key == "db-01"


def test_unreadable_mail_follows_the_parsing_fallback() -> None:
    assert (
        parse(mail("hello", "no fields"), email_preset="nagios", email_parsing_fallback="discard")
        == []
    )
