"""Parsers for the single-table sections: ``[server]``, ``[smtp]``, ``[rate_limit]``,
``[storage]``, ``[logging]`` and ``[plugins]``.

Each takes the :class:`~gateway.config.reader.Reader` and the parsed document (or its
already-checked table) and returns one settings object.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

from gateway.config.reader import Reader
from gateway.config.settings import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONNECTIONS,
    LOG_FORMATS,
    LOG_LEVELS,
    MIN_MAX_CONNECTIONS,
    SYNCHRONOUS,
    LoggingSettings,
    PluginSettings,
    RateLimitSettings,
    ServerSettings,
    SmtpSettings,
    StorageSettings,
)


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


def tls_files(
    r: Reader, t: dict[str, Any], section: str, base: Path
) -> tuple[Path | None, Path | None]:
    """``certfile`` and ``keyfile`` of ``[section]``: both or neither, loaded once to check.

    Relative paths are taken from ``base`` (the config file's folder), like every other
    path in the file. Loading the pair here makes ``check-config`` and start-up report a
    missing or unreadable file, or a key that does not match its certificate, as a
    configuration error with its line instead of a traceback at bind time.
    """
    certfile = r.string(t, "certfile", f"{section}.certfile")
    keyfile = r.string(t, "keyfile", f"{section}.keyfile")
    if bool(certfile) != bool(keyfile):
        raise r.error("certfile and keyfile go together", f"{section}.certfile")
    if not certfile or not keyfile:
        return None, None
    cert_path, key_path = base / certfile, base / keyfile
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as exc:
        raise r.error(
            f"cannot load the certificate {cert_path} with the key {key_path}: {exc}",
            f"{section}.certfile",
        ) from exc
    return cert_path, key_path


def server_settings(r: Reader, data: dict[str, Any], base: Path) -> ServerSettings:
    """``[server]``: the listen address, limits, timeouts, TLS files and CPU affinity."""
    t = r.table(data, "server")
    r.only(
        t,
        {
            "listen",
            "max_body_size",
            "shutdown_timeout",
            "keep_alive_timeout",
            "read_timeout",
            "body_timeout",
            "max_connections",
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
    certfile, keyfile = tls_files(r, t, "server", base)
    read_timeout = r.integer(t, "read_timeout", "server.read_timeout", default=10, minimum=1) or 10
    return ServerSettings(
        host=host,
        port=port,
        max_body_size=r.integer(
            t, "max_body_size", "server.max_body_size", default=DEFAULT_MAX_BODY, minimum=1024
        )
        or DEFAULT_MAX_BODY,
        shutdown_timeout=r.number(t, "shutdown_timeout", "server.shutdown_timeout", 10.0),
        keep_alive_timeout=r.number(t, "keep_alive_timeout", "server.keep_alive_timeout", 5.0),
        read_timeout=read_timeout,
        body_timeout=_body_timeout(r, t, read_timeout),
        max_connections=r.integer(
            t,
            "max_connections",
            "server.max_connections",
            default=DEFAULT_MAX_CONNECTIONS,
            minimum=MIN_MAX_CONNECTIONS,
        )
        or DEFAULT_MAX_CONNECTIONS,
        certfile=certfile,
        keyfile=keyfile,
        public_url=r.string(t, "public_url", "server.public_url"),
        cpu_affinity=_cpu_affinity(r, t),
    )


def _body_timeout(r: Reader, t: dict[str, Any], read_timeout: int) -> float:
    # Unset, the whole body gets what read_timeout seemed to promise (it bounds each read
    # only). 0 cannot mean "off": an unbounded body is the slow-client hole this closes.
    seconds = r.number(t, "body_timeout", "server.body_timeout", float(read_timeout))
    if seconds <= 0:
        raise r.error("must be a positive number of seconds", "server.body_timeout")
    return seconds


def _cpu_affinity(r: Reader, t: dict[str, Any]) -> str | tuple[int, ...]:
    # TOML has no union types: a string picks a mode, an array lists CPU numbers.
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


def rate_limit_settings(r: Reader, data: dict[str, Any]) -> RateLimitSettings:
    """``[rate_limit]``: events per integration key per minute (0 when absent: off)."""
    t = r.table(data, "rate_limit")
    r.only(t, {"events_per_minute"}, "rate_limit.")
    per_minute = r.integer(t, "events_per_minute", "rate_limit.events_per_minute", default=0)
    return RateLimitSettings(events_per_minute=per_minute or 0)


def smtp_settings(r: Reader, data: dict[str, Any], base: Path) -> SmtpSettings | None:
    """``[smtp]``, or None without the section (no SMTP listener); TLS files from ``base``."""
    if "smtp" not in data:
        return None
    t = r.table(data, "smtp")
    r.only(t, {"listen", "domain", "max_message_size", "certfile", "keyfile"}, "smtp.")
    listen = r.string(t, "listen", "smtp.listen", default="127.0.0.1:2525") or ""
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise r.error(str(exc), "smtp.listen") from exc
    certfile, keyfile = tls_files(r, t, "smtp", base)
    return SmtpSettings(
        host=host,
        port=port,
        domain=(r.string(t, "domain", "smtp.domain", default="localhost") or "").lower(),
        max_message_size=r.integer(
            t, "max_message_size", "smtp.max_message_size", default=10 * 1024 * 1024, minimum=1024
        )
        or 0,
        certfile=certfile,
        keyfile=keyfile,
    )


def storage_settings(r: Reader, data: dict[str, Any], base: Path) -> StorageSettings:
    """``[storage]``; a relative path is taken from ``base`` (the config file's folder)."""
    storage = r.table(data, "storage")
    r.only(
        storage,
        {
            "path",
            "synchronous",
            "retention_days",
            "change_event_retention_days",
            "url",
            "password_file",
        },
        "storage.",
    )
    path = Path(r.string(storage, "path", "storage.path", default="alert-gateway.db") or "")
    synchronous = (
        r.string(storage, "synchronous", "storage.synchronous", default="FULL") or "FULL"
    ).upper()
    if synchronous not in SYNCHRONOUS:
        raise r.error(f"must be one of {', '.join(SYNCHRONOUS)}", "storage.synchronous")
    url = r.string(storage, "url", "storage.url")
    problem = None if url is None else postgres_url_problem(url, "storage.password_file")
    if problem:
        raise r.error(problem, "storage.url")
    password_file = _password_file(r, storage, base)
    if password_file is not None and url is None:
        raise r.error("needs storage.url (it is the PostgreSQL password)", "storage.password_file")
    return StorageSettings(
        path=path if path.is_absolute() else base / path,
        synchronous=synchronous,
        url=url,
        password_file=password_file,
        retention_days=_days(r, storage, "retention_days", 365),
        change_event_retention_days=_days(r, storage, "change_event_retention_days", 90),
    )


def postgres_url_problem(url: str, password_file: str) -> str | None:
    """Why ``url`` cannot name the PostgreSQL store (``None``: it can). ``password_file``
    names where the password goes instead (a key, or the CLI's option)."""
    if not url.startswith(("postgresql://", "postgres://")):
        return "must be a postgresql://user@host/database URL"
    if re.match(r"^[a-z]+://[^/@]*:[^/@]*@", url):
        # A configuration file (or a command line, which ps shows) is read by many; the
        # password goes in its own file.
        return f"must not hold a password: use {password_file} or PGPASSWORD/.pgpass"
    return None


def _password_file(r: Reader, storage: dict[str, Any], base: Path) -> Path | None:
    name = r.string(storage, "password_file", "storage.password_file")
    if name is None:
        return None
    path = Path(name) if Path(name).is_absolute() else base / name
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise r.error(f"cannot read {path}: {exc.strerror}", "storage.password_file") from exc
    if not lines or not lines[0]:
        raise r.error(f"{path} is empty", "storage.password_file")
    return path


def _days(r: Reader, storage: dict[str, Any], name: str, default: int) -> int:
    # 0 is "keep forever"; a negative or fractional number of days is a mistake, not a wish.
    days = r.integer(storage, name, f"storage.{name}", default=default, minimum=0)
    return default if days is None else days


def logging_table(r: Reader, data: dict[str, Any]) -> dict[str, Any]:
    """The ``[logging]`` table with its keys checked (values are read by
    :func:`logging_settings`, after the services, so errors keep their historical order)."""
    table = r.table(data, "logging")
    r.only(table, {"level", "format"}, "logging.")
    return table


def logging_settings(r: Reader, table: dict[str, Any]) -> LoggingSettings:
    """``[logging]``'s values from the table :func:`logging_table` returned."""
    return LoggingSettings(
        level=r.string(table, "level", "logging.level", default="info", choices=LOG_LEVELS)
        or "info",
        format=r.string(table, "format", "logging.format", default="auto", choices=LOG_FORMATS)
        or "auto",
    )


def plugins_table(r: Reader, data: dict[str, Any]) -> dict[str, Any]:
    """The ``[plugins]`` table with its keys checked (values read by :func:`plugin_settings`)."""
    table = r.table(data, "plugins")
    r.only(table, {"block", "require"}, "plugins.")
    return table


def plugin_settings(r: Reader, table: dict[str, Any]) -> PluginSettings:
    """``[plugins]``'s values from the table :func:`plugins_table` returned."""
    return PluginSettings(
        block=r.strings(table, "block", "plugins.block"),
        require=r.strings(table, "require", "plugins.require"),
    )
