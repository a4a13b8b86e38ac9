"""TOML configuration → typed settings, with errors that name the key and the line.

Unknown keys are errors (a typo should not pass silently), except inside an
integration's table, where extra keys are that vendor's settings (for example
CloudWatch's ``sns_topic_allowlist``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gateway import cef
from gateway.domain import (
    ALERT_CREATIONS,
    EVENTS_API_V2,
    GENERIC_EMAIL,
    GENERIC_INTEGRATION_TYPES,
    INTEGRATION_TYPES,
    URGENCY_RULES,
)
from gateway.errors import ConfigError

DEFAULT_MAX_BODY = 512 * 1024

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")


@dataclass(frozen=True)
class ServerSettings:
    """``[server]``: the HTTP listener and the daemon process."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_size: int = DEFAULT_MAX_BODY
    shutdown_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    read_timeout: int = 10
    certfile: Path | None = None
    keyfile: Path | None = None
    public_url: str | None = None
    #: ``"auto"`` (one CPU picked at start), ``"off"``, or CPU numbers (gateway/affinity.py).
    cpu_affinity: str | tuple[int, ...] = "auto"

    @property
    def listen(self) -> str:
        """``host:port`` as Hypercorn's ``bind`` wants it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class SmtpSettings:
    """``[smtp]``: the built-in SMTP listener for email integrations."""

    host: str = "127.0.0.1"
    port: int = 2525
    domain: str = "localhost"
    max_message_size: int = 10 * 1024 * 1024
    certfile: Path | None = None
    keyfile: Path | None = None

    @property
    def listen(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RateLimitSettings:
    """``[rate_limit]``: events per integration key over a sliding 60 s window (0: off)."""

    events_per_minute: int = 0


@dataclass(frozen=True)
class StorageSettings:
    """``[storage]``: the SQLite database."""

    path: Path = Path("alert-gateway.db")
    synchronous: str = "FULL"


@dataclass(frozen=True)
class LoggingSettings:
    """``[logging]``: level and format (``auto`` is JSON unless on a terminal)."""

    level: str = "info"
    format: str = "auto"


@dataclass(frozen=True)
class IntegrationConfig:
    """One ``[[services.integrations]]`` block."""

    name: str
    type: str | None
    vendor: str | None
    integration_key: str | None
    integration_email: str | None
    settings: dict[str, Any]
    key: str
    line: int | None


@dataclass(frozen=True)
class ServiceConfig:
    """One ``[[services]]`` block."""

    name: str
    description: str | None
    status: str
    alert_creation: str
    urgency: str
    acknowledgement_timeout: int | None
    auto_resolve_timeout: int | None
    alert_grouping: str | None
    alert_grouping_timeout: int | None
    integrations: tuple[IntegrationConfig, ...]
    key: str
    line: int | None


@dataclass(frozen=True)
class MaintenanceConfig:
    """One ``[[maintenance_windows]]`` block (services by name)."""

    services: tuple[str, ...]
    start: datetime
    end: datetime
    description: str | None


@dataclass(frozen=True)
class PluginSettings:
    """``[plugins]``: which entry-point plugins not to load, and which must load."""

    block: tuple[str, ...] = ()
    require: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """The whole configuration."""

    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    plugins: PluginSettings = field(default_factory=PluginSettings)
    services: tuple[ServiceConfig, ...] = ()
    maintenance_windows: tuple[MaintenanceConfig, ...] = ()
    smtp: SmtpSettings | None = None
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    source: Path | None = None


# -- line numbers -----------------------------------------------------------------------------
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_ASSIGN = re.compile(r'^\s*("?[A-Za-z0-9_.\-]+"?)\s*=')


def locate_keys(text: str) -> dict[str, int]:
    """Map each key path (``services[0].integrations[1].type``) to its line number."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    current = ""

    def resolve(parts: list[str], *, index_last: bool) -> str:
        # Each array-of-tables prefix points at its newest element.
        path = ""
        for i, part in enumerate(parts):
            path = f"{path}.{part}" if path else part
            if path in counts and (index_last or i < len(parts) - 1):
                path = f"{path}[{counts[path] - 1}]"
        return path

    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            parts = [p.strip() for p in header.group(2).replace('"', "").split(".")]
            if header.group(1) == "[[":
                base = resolve(parts, index_last=False)
                index = counts.get(base, 0)
                counts[base] = index + 1
                current = f"{base}[{index}]"
            else:
                current = resolve(parts, index_last=True)
            lines.setdefault(current, number)
            continue
        assign = _ASSIGN.match(raw)
        if assign:
            key = assign.group(1).strip('"')
            lines.setdefault(f"{current}.{key}" if current else key, number)
    return lines


class _Reader:
    """Pulls typed values out of a TOML table, raising errors with key and line."""

    def __init__(self, lines: dict[str, int]) -> None:
        self.lines = lines

    def error(self, message: str, key: str) -> ConfigError:
        line = self.lines.get(key)
        probe = key
        while line is None and ("." in probe or "[" in probe):
            probe = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", probe)
            line = self.lines.get(probe)
        return ConfigError(message, key=key, line=line)

    def table(self, data: dict[str, Any], name: str, prefix: str = "") -> dict[str, Any]:
        key = f"{prefix}{name}"
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise self.error("must be a table", key)
        return value

    def array(self, data: dict[str, Any], name: str, prefix: str = "") -> list[dict[str, Any]]:
        key = f"{prefix}{name}"
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(f"must be an array of tables ([[{key}]])", key)
        return value

    def string(
        self,
        data: dict[str, Any],
        name: str,
        key: str,
        *,
        default: str | None = None,
        required: bool = False,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        value = data.get(name, default)
        if value is None:
            if required:
                raise self.error("is required", key)
            return None
        if not isinstance(value, str):
            raise self.error("must be a string", key)
        if required and not value.strip():
            raise self.error("must not be empty", key)
        if choices and value not in choices:
            raise self.error(f"must be one of {', '.join(choices)} (got {value!r})", key)
        return value

    def integer(
        self,
        data: dict[str, Any],
        name: str,
        key: str,
        *,
        default: int | None = None,
        minimum: int = 0,
    ) -> int | None:
        value = data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error("must be an integer", key)
        if value < minimum:
            raise self.error(f"must be at least {minimum}", key)
        return value

    def number(self, data: dict[str, Any], name: str, key: str, default: float) -> float:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.error("must be a non-negative number", key)
        return float(value)

    def strings(self, data: dict[str, Any], name: str, key: str) -> tuple[str, ...]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error("must be an array of strings", key)
        return tuple(value)

    def only(self, data: dict[str, Any], allowed: set[str], prefix: str) -> None:
        for name in data:
            if name not in allowed:
                raise self.error(
                    f"unknown key (allowed: {', '.join(sorted(allowed))})", f"{prefix}{name}"
                )

    def when(self, data: dict[str, Any], name: str, key: str) -> datetime:
        value = data.get(name)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, str):
            parsed = cef.parse_timestamp(value)
            if parsed is not None:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(value, date) or value is not None:
            raise self.error("must be a date-time such as 2026-11-22T10:00:00Z", key)
        raise self.error("is required", key)


def parse_listen(value: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:8080`` for IPv6); raise ValueError if malformed."""
    match = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:\[\]]+):(\d+)", value.strip())
    if not match:
        raise ValueError(f"listen address {value!r} is not HOST:PORT")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return host, port


def _server(r: _Reader, data: dict[str, Any]) -> ServerSettings:
    t = r.table(data, "server")
    r.only(
        t,
        {
            "listen",
            "max_body_size",
            "shutdown_timeout",
            "keep_alive_timeout",
            "read_timeout",
            "certfile",
            "keyfile",
            "public_url",
            "cpu_affinity",
        },
        "server.",
    )
    listen = r.string(t, "listen", "server.listen", default="127.0.0.1:8080")
    assert listen is not None
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise r.error(str(exc), "server.listen") from exc
    certfile = r.string(t, "certfile", "server.certfile")
    keyfile = r.string(t, "keyfile", "server.keyfile")
    if bool(certfile) != bool(keyfile):
        raise r.error("certfile and keyfile go together", "server.certfile")
    return ServerSettings(
        host=host,
        port=port,
        max_body_size=r.integer(
            t, "max_body_size", "server.max_body_size", default=DEFAULT_MAX_BODY, minimum=1024
        )
        or DEFAULT_MAX_BODY,
        shutdown_timeout=r.number(t, "shutdown_timeout", "server.shutdown_timeout", 10.0),
        keep_alive_timeout=r.number(t, "keep_alive_timeout", "server.keep_alive_timeout", 5.0),
        read_timeout=r.integer(t, "read_timeout", "server.read_timeout", default=10, minimum=1)
        or 10,
        certfile=Path(certfile) if certfile else None,
        keyfile=Path(keyfile) if keyfile else None,
        public_url=r.string(t, "public_url", "server.public_url"),
        cpu_affinity=_cpu_affinity(r, t),
    )


def _cpu_affinity(r: _Reader, t: dict[str, Any]) -> str | tuple[int, ...]:
    value = t.get("cpu_affinity", "auto")
    if isinstance(value, str):
        return r.string(t, "cpu_affinity", "server.cpu_affinity", choices=("auto", "off")) or "auto"
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        return tuple(sorted(set(value)))
    raise r.error(
        'must be "auto", "off" or a non-empty array of CPU numbers such as [1]',
        "server.cpu_affinity",
    )


def _rate_limit(r: _Reader, data: dict[str, Any]) -> RateLimitSettings:
    t = r.table(data, "rate_limit")
    r.only(t, {"events_per_minute"}, "rate_limit.")
    per_minute = r.integer(t, "events_per_minute", "rate_limit.events_per_minute", default=0)
    return RateLimitSettings(events_per_minute=per_minute or 0)


def _smtp(r: _Reader, data: dict[str, Any], base: Path) -> SmtpSettings | None:
    if "smtp" not in data:
        return None
    t = r.table(data, "smtp")
    r.only(t, {"listen", "domain", "max_message_size", "certfile", "keyfile"}, "smtp.")
    listen = r.string(t, "listen", "smtp.listen", default="127.0.0.1:2525") or ""
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise r.error(str(exc), "smtp.listen") from exc
    certfile = r.string(t, "certfile", "smtp.certfile")
    keyfile = r.string(t, "keyfile", "smtp.keyfile")
    if bool(certfile) != bool(keyfile):
        raise r.error("certfile and keyfile go together", "smtp.certfile")
    return SmtpSettings(
        host=host,
        port=port,
        domain=(r.string(t, "domain", "smtp.domain", default="localhost") or "").lower(),
        max_message_size=r.integer(
            t, "max_message_size", "smtp.max_message_size", default=10 * 1024 * 1024, minimum=1024
        )
        or 0,
        certfile=base / certfile if certfile else None,
        keyfile=base / keyfile if keyfile else None,
    )


def _integration(
    r: _Reader, data: dict[str, Any], key: str, alert_creation: str
) -> IntegrationConfig:
    name = r.string(data, "name", f"{key}.name", required=True)
    kind = r.string(data, "type", f"{key}.type")
    vendor = r.string(data, "vendor", f"{key}.vendor")
    if kind is None and vendor is None:
        raise r.error(
            "needs a type (events_api_v2, events_api_v1, email) or a vendor", f"{key}.type"
        )
    if kind is not None:
        kind = INTEGRATION_TYPES.get(kind, kind)
        if vendor is None and kind not in GENERIC_INTEGRATION_TYPES:
            allowed = ", ".join([*INTEGRATION_TYPES, *sorted(GENERIC_INTEGRATION_TYPES)])
            raise r.error(
                f"unknown integration type {data['type']!r} (allowed: {allowed})", f"{key}.type"
            )
    integration_key = r.string(data, "integration_key", f"{key}.integration_key")
    if integration_key is not None and cef.routing_key_errors(integration_key):
        raise r.error("must be 32 letters and digits", f"{key}.integration_key")
    email = r.string(data, "integration_email", f"{key}.integration_email")
    if kind == GENERIC_EMAIL and not email:
        raise r.error("an email integration needs integration_email", f"{key}.integration_email")
    if kind == EVENTS_API_V2 and alert_creation == "create_incidents":
        raise r.error(
            "an Events API v2 integration needs a service with alert_creation = "
            '"create_alerts_and_incidents"',
            f"{key}.type",
        )
    known = {"name", "type", "vendor", "integration_key", "integration_email"}
    settings = {k: v for k, v in data.items() if k not in known}
    return IntegrationConfig(
        name=name or "",
        type=kind,
        vendor=vendor,
        integration_key=integration_key,
        integration_email=email,
        settings=settings,
        key=key,
        line=r.lines.get(key),
    )


def _service(r: _Reader, data: dict[str, Any], key: str) -> ServiceConfig:
    r.only(
        data,
        {
            "name",
            "description",
            "status",
            "alert_creation",
            "incident_urgency",
            "acknowledgement_timeout",
            "auto_resolve_timeout",
            "alert_grouping",
            "alert_grouping_timeout",
            "integrations",
        },
        f"{key}.",
    )
    name = r.string(data, "name", f"{key}.name", required=True)
    alert_creation = r.string(
        data,
        "alert_creation",
        f"{key}.alert_creation",
        default="create_alerts_and_incidents",
        choices=ALERT_CREATIONS,
    )
    assert alert_creation is not None
    urgency_value = data.get("incident_urgency", "high")
    if isinstance(urgency_value, dict):  # PagerDuty's {type = "constant", urgency = "..."}
        urgency_value = urgency_value.get("urgency")
    urgency = r.string({"u": urgency_value}, "u", f"{key}.incident_urgency", choices=URGENCY_RULES)
    grouping = r.string(data, "alert_grouping", f"{key}.alert_grouping", choices=("time",))
    integrations = tuple(
        _integration(r, item, f"{key}.integrations[{i}]", alert_creation)
        for i, item in enumerate(r.array(data, "integrations", f"{key}."))
    )
    return ServiceConfig(
        name=name or "",
        description=r.string(data, "description", f"{key}.description"),
        status=r.string(
            data, "status", f"{key}.status", default="active", choices=("active", "disabled")
        )
        or "active",
        alert_creation=alert_creation,
        urgency=urgency or "high",
        acknowledgement_timeout=r.integer(
            data, "acknowledgement_timeout", f"{key}.acknowledgement_timeout", default=1800
        ),
        auto_resolve_timeout=r.integer(
            data, "auto_resolve_timeout", f"{key}.auto_resolve_timeout", default=14400
        ),
        alert_grouping=grouping,
        alert_grouping_timeout=r.integer(
            data, "alert_grouping_timeout", f"{key}.alert_grouping_timeout", default=0
        ),
        integrations=integrations,
        key=key,
        line=r.lines.get(key),
    )


def parse_settings(text: str, *, source: Path | None = None) -> Settings:
    """Parse and check a configuration text; raise :class:`ConfigError` on any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ConfigError(
            f"not valid TOML: {exc}", line=int(match.group(1)) if match else None
        ) from exc
    r = _Reader(locate_keys(text))
    r.only(
        data,
        {
            "server",
            "storage",
            "logging",
            "plugins",
            "services",
            "maintenance_windows",
            "smtp",
            "rate_limit",
        },
        "",
    )
    base = source.parent if source else Path.cwd()

    storage = r.table(data, "storage")
    r.only(storage, {"path", "synchronous"}, "storage.")
    path = Path(r.string(storage, "path", "storage.path", default="alert-gateway.db") or "")
    synchronous = (
        r.string(storage, "synchronous", "storage.synchronous", default="FULL") or "FULL"
    ).upper()
    if synchronous not in SYNCHRONOUS:
        raise r.error(f"must be one of {', '.join(SYNCHRONOUS)}", "storage.synchronous")

    logging_t = r.table(data, "logging")
    r.only(logging_t, {"level", "format"}, "logging.")
    plugins_t = r.table(data, "plugins")
    r.only(plugins_t, {"block", "require"}, "plugins.")

    services = tuple(
        _service(r, item, f"services[{i}]") for i, item in enumerate(r.array(data, "services"))
    )
    _check_unique(r, services)

    names = {s.name for s in services}
    windows = []
    for i, item in enumerate(r.array(data, "maintenance_windows")):
        key = f"maintenance_windows[{i}]"
        r.only(item, {"services", "start", "end", "description"}, f"{key}.")
        start, end = r.when(item, "start", f"{key}.start"), r.when(item, "end", f"{key}.end")
        if end <= start:
            raise r.error("must be after start", f"{key}.end")
        listed = r.strings(item, "services", f"{key}.services")
        if not listed:
            raise r.error("must name at least one service", f"{key}.services")
        for name in listed:
            if name not in names:
                raise r.error(f"no [[services]] block is named {name!r}", f"{key}.services")
        windows.append(
            MaintenanceConfig(
                listed, start, end, r.string(item, "description", f"{key}.description")
            )
        )

    return Settings(
        server=_server(r, data),
        storage=StorageSettings(
            path=path if path.is_absolute() else base / path, synchronous=synchronous
        ),
        logging=LoggingSettings(
            level=r.string(logging_t, "level", "logging.level", default="info", choices=LOG_LEVELS)
            or "info",
            format=r.string(
                logging_t, "format", "logging.format", default="auto", choices=LOG_FORMATS
            )
            or "auto",
        ),
        plugins=PluginSettings(
            block=r.strings(plugins_t, "block", "plugins.block"),
            require=r.strings(plugins_t, "require", "plugins.require"),
        ),
        services=services,
        maintenance_windows=tuple(windows),
        smtp=_smtp(r, data, base),
        rate_limit=_rate_limit(r, data),
        source=source,
    )


def _check_unique(r: _Reader, services: tuple[ServiceConfig, ...]) -> None:
    seen_services: dict[str, str] = {}
    seen_keys: dict[str, str] = {}
    for service in services:
        if service.name in seen_services:
            raise r.error(
                f"service name {service.name!r} is already used by {seen_services[service.name]}",
                f"{service.key}.name",
            )
        seen_services[service.name] = service.key
        names: set[str] = set()
        for integration in service.integrations:
            if integration.name in names:
                raise r.error(
                    f"integration name {integration.name!r} appears twice in "
                    f"service {service.name!r}",
                    f"{integration.key}.name",
                )
            names.add(integration.name)
            ikey = integration.integration_key
            if ikey is not None:
                if ikey in seen_keys:
                    raise r.error(
                        f"integration_key is already used by {seen_keys[ikey]}",
                        f"{integration.key}.integration_key",
                    )
                seen_keys[ikey] = integration.key


def load_settings(path: str | Path) -> Settings:
    """Read and parse a configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_settings(text, source=path.resolve())
