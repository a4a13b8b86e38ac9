"""The UI's plain words: relative times with the exact one on hover, settings by name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.http.ui.words import (
    exact_time,
    relative_time,
    setting_label,
    setting_value,
    status_words,
    when,
)

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamp", "words"),
    [
        ("2026-12-02T11:59:55.000Z", "just now"),
        ("2026-12-02T11:59:00.000Z", "1 minute ago"),
        ("2026-12-02T11:55:00Z", "5 minutes ago"),
        ("2026-12-02T09:00:00.000Z", "3 hours ago"),
        ("2026-11-29T12:00:00.000Z", "3 days ago"),
        ("2026-12-02T14:00:00.000Z", "in 2 hours"),
        (None, "—"),
    ],
)
def test_relative_time(stamp: str | None, words: str) -> None:
    assert relative_time(stamp, NOW) == words


def test_when_shows_the_exact_time_on_hover() -> None:
    html = str(when("2026-12-02T00:37:56.510Z"))
    assert 'datetime="2026-12-02T00:37:56.510Z"' in html
    assert 'title="2026-12-02 00:37:56 UTC"' in html
    assert exact_time("2026-12-02T00:37:56.510Z") == "2026-12-02 00:37:56 UTC"


@pytest.mark.parametrize(
    ("field", "value", "label", "words"),
    [
        ("incident_urgency_rule", "severity_based", "Urgency", "based on the alert's severity"),
        ("acknowledgement_timeout", "1800", "Acknowledgement timeout", "30 minutes"),
        ("auto_resolve_timeout", None, "Auto-resolution", "off"),
        ("alert_grouping_timeout", "15", "Alert grouping window", "15 minutes"),
        ("alert_creation", "create_incidents", "Incident behaviour", "incidents only"),
        ("escalation_policy", None, "Escalation policy", "none"),
    ],
)
def test_settings_in_words(field: str, value: str | None, label: str, words: str) -> None:
    assert setting_label(field) == label
    assert setting_value(field, value) == words


def test_statuses_in_words() -> None:
    assert status_words("critical") == "Critical: an incident is triggered"
    assert "_" not in status_words("maintenance")
