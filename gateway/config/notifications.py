"""``[notifications]`` and its ``[notifications.smtp]`` table: the relay email notifications
leave through.

Every value is checked here, with its key and line, so a typo or an unreadable password
file stops ``check-config`` and start-up instead of the first page at 3 a.m. The password
is read once, here; only its file's path is ever named in an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.config.reader import Reader
from gateway.config.settings import NotificationSettings, NotifySmtpSettings

_SMTP_KEYS = {"host", "port", "from", "starttls", "tls", "username", "password_file", "timeout"}
#: Seconds one delivery may take when ``timeout`` is not set: a relay that greets slowly
#: (greylisting, a DNS check of ours) still gets through; a dead one is retried later.
DEFAULT_TIMEOUT = 30.0


def notification_settings(r: Reader, data: dict[str, Any], base: Path) -> NotificationSettings:
    """``[notifications]``: only ``smtp`` for now (contact types come from plugins)."""
    t = r.table(data, "notifications")
    r.only(t, {"smtp"}, "notifications.")
    if "smtp" not in t:
        return NotificationSettings()
    return NotificationSettings(smtp=_smtp(r, r.table(t, "smtp", "notifications."), base))


def _smtp(r: Reader, t: dict[str, Any], base: Path) -> NotifySmtpSettings:
    key = "notifications.smtp."
    r.only(t, _SMTP_KEYS, key)
    host = r.string(t, "host", key + "host", required=True) or ""
    port = r.integer(t, "port", key + "port", minimum=1)
    if port is None:
        raise r.error("is required", key + "port")
    if port > 65535:
        raise r.error("must be at most 65535", key + "port")
    sender = r.string(t, "from", key + "from", required=True) or ""
    if "@" not in sender or any(c in sender for c in "\r\n"):
        raise r.error("must be an email address such as alerts@example.com", key + "from")
    starttls = _flag(r, t, "starttls")
    tls = _flag(r, t, "tls")
    if starttls and tls:
        # Two different protocols: TLS from the first byte (port 465) or an upgrade of a
        # plain session (port 587). A relay speaks one of them on a port.
        raise r.error("starttls and tls cannot both be true: choose one", key + "tls")
    username = r.string(t, "username", key + "username")
    password_file = r.string(t, "password_file", key + "password_file")
    password = None
    path = None
    if password_file is not None:
        if username is None:
            raise r.error("needs username too", key + "password_file")
        path = Path(password_file)
        path = path if path.is_absolute() else base / path
        password = _read_password(r, path, key + "password_file")
    timeout = r.number(t, "timeout", key + "timeout", DEFAULT_TIMEOUT)
    if timeout <= 0:
        raise r.error("must be more than 0 seconds", key + "timeout")
    return NotifySmtpSettings(
        host=host,
        port=port,
        sender=sender,
        starttls=starttls,
        tls=tls,
        username=username,
        password=password,
        password_file=path,
        timeout=timeout,
    )


def _flag(r: Reader, t: dict[str, Any], name: str) -> bool:
    value = t.get(name, False)
    if not isinstance(value, bool):
        raise r.error("must be true or false", f"notifications.smtp.{name}")
    return value


def _read_password(r: Reader, path: Path, key: str) -> str:
    """The file's first line (a trailing newline is not part of a password)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise r.error(f"cannot read {path}: {reason}", key) from None
    password = text.splitlines()[0] if text.strip() else ""
    if not password:
        raise r.error(f"{path} is empty", key)
    return password
