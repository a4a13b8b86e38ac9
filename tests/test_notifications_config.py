"""``[notifications.smtp]``: every mistake is an error naming its key and line; the password
is read from its file at load and appears in no repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import parse_settings
from gateway.errors import ConfigError

GOOD = """\
[notifications.smtp]
host = "smtp.example.com"
port = 587
from = "pager@example.com"
starttls = true
username = "gateway"
password_file = "relay.password"
"""


def test_a_full_table_is_read_with_the_password_from_its_file(tmp_path: Path) -> None:
    (tmp_path / "relay.password").write_text("hunter2-long-secret\n")
    smtp = parse_settings(GOOD, source=tmp_path / "gw.toml").notifications.smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.sender, smtp.starttls, smtp.tls) == (
        "smtp.example.com", 587, "pager@example.com", True, False,
    )  # fmt: skip
    assert (smtp.username, smtp.password, smtp.timeout) == ("gateway", "hunter2-long-secret", 30.0)
    assert "hunter2" not in repr(smtp)


def test_without_the_table_there_is_no_relay() -> None:
    assert parse_settings("").notifications.smtp is None


@pytest.mark.parametrize(
    ("edit", "key", "line", "words"),
    [
        (("port = 587", "port = 70000"), "notifications.smtp.port", 3, "at most 65535"),
        (("port = 587\n", ""), "notifications.smtp.port", 1, "is required"),
        (('from = "pager@example.com"', 'from = "pager"'), "notifications.smtp.from", 4,
         "email address"),
        (("starttls = true", "starttls = true\ntls = true"), "notifications.smtp.tls", 6,
         "cannot both be true"),
        (("starttls = true", 'starttls = "yes"'), "notifications.smtp.starttls", 5,
         "true or false"),
        (("starttls = true", "starttls = true\ntimeout = 0"), "notifications.smtp.timeout", 6,
         "more than 0"),
        (('username = "gateway"\n', ""), "notifications.smtp.password_file", 6, "username"),
        (("starttls = true", "starttls = true\nssl = true"), "notifications.smtp.ssl", 6,
         "unknown key"),
        (('password_file = "relay.password"', 'password_file = "missing"'),
         "notifications.smtp.password_file", 7, "cannot read"),
    ],
)  # fmt: skip
def test_errors_name_key_and_line(
    tmp_path: Path, edit: tuple[str, str], key: str, line: int, words: str
) -> None:
    (tmp_path / "relay.password").write_text("hunter2-long-secret\n")
    with pytest.raises(ConfigError) as info:
        parse_settings(GOOD.replace(*edit), source=tmp_path / "gw.toml")
    assert (info.value.key, info.value.line) == (key, line)
    assert words in info.value.message
    assert "hunter2" not in str(info.value)


def test_an_unknown_notifications_table_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings("[notifications.sms]\nprovider = 'x'\n")
    assert info.value.key == "notifications.sms"
