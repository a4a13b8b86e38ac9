"""The entry points: a configuration text or file → :class:`~gateway.config.Settings`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from gateway.config.escalation import escalation_policy_configs
from gateway.config.forwarding import forwarding_settings
from gateway.config.notifications import notification_settings
from gateway.config.outbound import outbound_settings
from gateway.config.reader import Reader, locate_keys
from gateway.config.schedules import schedule_configs
from gateway.config.sections import (
    logging_settings,
    logging_table,
    plugin_settings,
    plugins_table,
    rate_limit_settings,
    server_settings,
    smtp_settings,
    storage_settings,
)
from gateway.config.services import maintenance_configs, service_configs
from gateway.config.settings import Settings
from gateway.config.users import user_configs
from gateway.config.webhooks import webhook_configs
from gateway.core.text import nul_fields
from gateway.errors import ConfigError

_SECTIONS = {
    "server",
    "storage",
    "logging",
    "plugins",
    "services",
    "maintenance_windows",
    "smtp",
    "rate_limit",
    "outbound",
    "forwarding",
    "webhook_subscriptions",
    "users",
    "schedules",
    "notifications",
    "escalation_policies",
}


def parse_settings(text: str, *, source: Path | None = None) -> Settings:
    """Parse and check a configuration text; raise :class:`ConfigError` on any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ConfigError(
            f"not valid TOML: {exc}", line=int(match.group(1)) if match else None
        ) from exc
    r = Reader(locate_keys(text))
    # PostgreSQL cannot store a NUL (TOML's "\u0000"): the file is refused, naming the key.
    if nul := nul_fields(data):
        raise r.error("must not contain a NUL character (U+0000)", nul[0])
    r.only(data, _SECTIONS, "")
    base = source.parent if source else Path.cwd()

    # The sections are read in this order so that, of several mistakes, the one reported
    # first stays the same as it always was.
    storage = storage_settings(r, data, base)
    logging_t = logging_table(r, data)
    plugins_t = plugins_table(r, data)
    services = service_configs(r, data)
    windows = maintenance_configs(r, data, services)

    return Settings(
        server=server_settings(r, data, base),
        storage=storage,
        logging=logging_settings(r, logging_t),
        plugins=plugin_settings(r, plugins_t),
        services=services,
        maintenance_windows=windows,
        smtp=smtp_settings(r, data, base),
        rate_limit=rate_limit_settings(r, data),
        outbound=outbound_settings(r, data),
        forwarding=forwarding_settings(r, data),
        webhook_subscriptions=webhook_configs(r, data),
        users=user_configs(r, data),
        schedules=schedule_configs(r, data),
        escalation_policies=escalation_policy_configs(r, data),
        source=source,
        notifications=notification_settings(r, data, base),
    )


def load_settings(path: str | Path) -> Settings:
    """Read and parse a configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_settings(text, source=path.resolve())
