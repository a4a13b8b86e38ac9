"""Configuration: the README's file as written, and errors that name the key and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config import locate_keys, parse_settings
from gateway.errors import ConfigError
from tests.scaffold import REPO, Daemon, cli

# The file from the README, exactly as operators will copy it. Literal, not built with
# tests.scaffold.config: its text (and its line numbers) is what these tests check.
README_CONFIG = """\
[server]
listen = "127.0.0.1:8080"

[storage]
path = "alert-gateway.db"

[[services]]
name = "Shopping Cart"
description = "Checkout and payment flow"
alert_creation = "create_alerts_and_incidents"
incident_urgency = "severity_based"

  [[services.integrations]]
  name = "Datadog-Shopping-Cart"
  type = "events_api_v2"
  integration_key = "0123456789abcdef0123456789abcdef"

  [[services.integrations]]
  name = "Legacy-Cron"
  type = "events_api_v1"

[[services]]
name = "BizOps"
alert_creation = "create_incidents"
status = "disabled"
"""


def test_readme_config_is_accepted() -> None:
    settings = parse_settings(README_CONFIG)
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.storage.synchronous == "FULL"
    assert settings.server.max_body_size == 512 * 1024
    cart, bizops = settings.services
    assert cart.urgency == "severity_based"
    assert [i.type for i in cart.integrations] == [
        "events_api_v2_inbound_integration",
        "generic_events_api_inbound_integration",
    ]
    assert cart.integrations[0].integration_key == "0123456789abcdef0123456789abcdef"
    assert cart.integrations[1].integration_key is None
    assert (bizops.alert_creation, bizops.status) == ("create_incidents", "disabled")


def test_example_config_file_matches_readme_semantics() -> None:
    example = parse_settings((REPO / "config.example.toml").read_text())
    readme = parse_settings(README_CONFIG)

    def shape(settings):  # type: ignore[no-untyped-def]
        return [
            (
                s.name,
                s.status,
                s.alert_creation,
                s.urgency,
                [(i.name, i.type, i.integration_key) for i in s.integrations],
            )
            for s in settings.services
        ]

    assert shape(example) == shape(readme)


def test_key_locations() -> None:
    lines = locate_keys(README_CONFIG)
    assert lines["services[0].integrations[1].type"] == 20
    assert lines["services[1].status"] == 25
    assert lines["server.listen"] == 2


@pytest.mark.parametrize(
    ("edit", "key", "line", "message"),
    [
        (
            ('alert_creation = "create_incidents"', 'alert_creation = "sometimes"'),
            "services[1].alert_creation",
            24,
            "must be one of",
        ),
        (('status = "disabled"', 'stauts = "disabled"'), "services[1].stauts", 25, "unknown key"),
        (
            ('type = "events_api_v1"', 'type = "smoke_signals"'),
            "services[0].integrations[1].type",
            20,
            "unknown integration type",
        ),
        (('listen = "127.0.0.1:8080"', 'listen = "localhost"'), "server.listen", 2, "HOST:PORT"),
        (
            ('integration_key = "0123456789abcdef0123456789abcdef"', 'integration_key = "short"'),
            "services[0].integrations[0].integration_key",
            16,
            "32 letters and digits",
        ),
        (
            (
                'alert_creation = "create_alerts_and_incidents"',
                'alert_creation = "create_incidents"',
            ),
            "services[0].integrations[0].type",
            15,
            "Events API v2",
        ),
        (('name = "BizOps"', 'name = "Shopping Cart"'), "services[1].name", 23, "already used"),
    ],
)
def test_errors_name_key_and_line(edit: tuple[str, str], key: str, line: int, message: str) -> None:
    text = README_CONFIG.replace(*edit)
    with pytest.raises(ConfigError) as info:
        parse_settings(text)
    assert info.value.key == key
    assert info.value.line == line
    assert message in info.value.message


# A value the file does not write has no line of its own: the error names the nearest
# enclosing table's (or array's) line instead. Each edit keeps the README's line numbers
# by turning a line into a comment.
INLINE_SERVICES = """\
# services written as an array of inline tables,
# so no element has a header line of its own
services = [
  { name = "Inline" },
  { name = "Second", status = "sometimes" },
]
"""


@pytest.mark.parametrize(
    ("text", "key", "line", "message"),
    [
        # the second [[services.integrations]] of the first service (line 18), not the service
        (
            README_CONFIG.replace('name = "Legacy-Cron"', "# unnamed"),
            "services[0].integrations[1].name",
            18,
            "is required",
        ),
        (
            README_CONFIG.replace('type = "events_api_v1"', "# no type"),
            "services[0].integrations[1].type",
            18,
            "needs a type",
        ),
        # the second [[services]] (line 22)
        (
            README_CONFIG.replace('name = "BizOps"', "# unnamed"),
            "services[1].name",
            22,
            "is required",
        ),
        # a keyfile without a certfile: the certfile is missing from [server] (line 1)
        (
            README_CONFIG.replace('listen = "127.0.0.1:8080"', 'keyfile = "key.pem"'),
            "server.certfile",
            1,
            "go together",
        ),
        # a window without an end: its [[maintenance_windows]] header (line 27)
        (
            README_CONFIG + '\n[[maintenance_windows]]\nservices = ["BizOps"]\n'
            "start = 2026-01-01T00:00:00Z\n",
            "maintenance_windows[0].end",
            27,
            "is required",
        ),
        # neither services[1].status nor services[1] has a line: up two levels to `services =`
        (INLINE_SERVICES, "services[1].status", 3, "must be one of"),
    ],
    ids=[
        "integration-name",
        "integration-type",
        "service-name",
        "certfile",
        "window-end",
        "inline",
    ],
)
def test_a_value_without_a_line_is_placed_at_its_parents_line(
    text: str, key: str, line: int, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(text)
    assert (info.value.key, info.value.line) == (key, line)
    assert message in info.value.message
    assert str(info.value).startswith(f"line {line}: {key}: ")


def test_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(README_CONFIG.replace('name = "BizOps"', 'name = "BizOps'))
    assert info.value.line == 23


def test_maintenance_window_must_name_a_configured_service() -> None:
    text = (
        README_CONFIG
        + """
[[maintenance_windows]]
services = ["Nope"]
start = 2026-01-01T00:00:00Z
end = 2026-01-02T00:00:00Z
"""
    )
    with pytest.raises(ConfigError) as info:
        parse_settings(text)
    assert info.value.key == "maintenance_windows[0].services"
    assert info.value.line == 28


@pytest.mark.slow  # the CLI in a subprocess
def test_check_config_cli(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(README_CONFIG)
    result = cli("check-config", str(good))
    assert result.returncode == 0, result.stderr
    assert "OK (2 services, 2 integrations)" in result.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text(
        README_CONFIG.replace(
            'incident_urgency = "severity_based"', 'incident_urgency = "whenever"'
        )
    )
    result = cli("check-config", str(bad))
    assert result.returncode == 2
    assert "line 11: services[0].incident_urgency: must be one of" in result.stderr


@pytest.mark.slow  # the CLI in a subprocess
def test_check_config_rejects_unknown_vendor(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        README_CONFIG + '  [[services.integrations]]\n  name = "x"\n  vendor = "no-such-vendor"\n'
    )
    result = cli("check-config", str(path))
    assert result.returncode == 2
    assert "unknown vendor 'no-such-vendor'" in result.stderr


@pytest.mark.slow  # two daemon starts and the CLI
def test_generated_key_is_printed_once_and_listed(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(README_CONFIG.replace('"alert-gateway.db"', '"gw.db"'))
    assert daemon.stop() == 0
    first = daemon.output()
    printed = [line for line in first.splitlines() if line.startswith("created integration")]
    assert len(printed) == 1 and "'Legacy-Cron'" in printed[0]
    # stdout goes to the journal: the last four characters only, and where to read the key.
    shown = printed[0].split("integration key ")[1].split()[0]
    assert shown.startswith("…") and len(shown) == 5, printed[0]
    assert "alert-gateway services list" in printed[0]

    daemon.start()  # a restart keeps the key and does not print it again
    assert daemon.stop() == 0
    assert "created integration" not in daemon.output()

    listing = cli("services", "list", "--config", str(daemon.config_path))
    assert listing.returncode == 0, listing.stderr
    generated = [
        word
        for word in listing.stdout.split()
        if len(word) == 32 and word.isalnum() and word != "0123456789abcdef0123456789abcdef"
    ]
    assert len(generated) == 1 and generated[0].endswith(shown[1:]), listing.stdout
    assert generated[0] not in first
    assert "0123456789abcdef0123456789abcdef" in listing.stdout
    assert "BizOps  [disabled]  create_incidents" in listing.stdout


# -- [server] body_timeout and max_connections -------------------------------------------------


def test_body_timeout_and_max_connections_defaults() -> None:
    server = parse_settings(README_CONFIG).server
    assert server.body_timeout == server.read_timeout == 10  # whole body within read_timeout
    assert server.max_connections == 1000


def test_body_timeout_follows_read_timeout_unless_set() -> None:
    slower = README_CONFIG.replace('listen = "127.0.0.1:8080"', 'listen = "127.0.0.1:8080"\n%s')
    assert parse_settings(slower % "read_timeout = 30").server.body_timeout == 30
    own = parse_settings(slower % "read_timeout = 30\nbody_timeout = 2.5").server
    assert (own.read_timeout, own.body_timeout) == (30, 2.5)
    assert parse_settings(slower % "max_connections = 10").server.max_connections == 10


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("body_timeout = 0", "must be a positive number"),
        ("body_timeout = -1", "must be a non-negative number"),
        ('body_timeout = "10s"', "must be a non-negative number"),
        ("max_connections = 9", "must be at least 10"),
        ("max_connections = 0", "must be at least 10"),
        ("max_connections = 100.5", "must be an integer"),
        ("max_connections = true", "must be an integer"),
    ],
)
def test_bad_body_timeout_or_max_connections_names_key_and_line(setting: str, message: str) -> None:
    text = README_CONFIG.replace(
        'listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:8080"\n{setting}'
    )
    with pytest.raises(ConfigError) as info:
        parse_settings(text)
    assert info.value.key == "server." + setting.split(" ")[0]
    assert info.value.line == 3
    assert message in info.value.message
