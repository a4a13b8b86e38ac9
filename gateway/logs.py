"""structlog set-up: JSON lines for machines, readable output on a terminal.

Standard-library loggers (Hypercorn's) are routed through the same
processors, so every line of the daemon's output has one format.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure(*, level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog and stdlib logging for the daemon's process."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_paths,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        # Rich's tracebacks (the default when rich is installed) print every frame's local
        # variables, and a frame of the ingest path holds the integration key.
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    numeric = _LEVELS.get(level, logging.INFO)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info if as_json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached: SIGHUP may change the level, and cached loggers would keep the old one.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # A standard-library line (Quart's "Exception on request POST /path") names the
            # path in its message: keys in it are redacted as in a ``path`` field.
            foreign_pre_chain=[*shared, _redact_message],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # httpx logs every request at INFO; the deliverers log each attempt themselves
    # (``outbox.attempt``), and at delivery rate httpx's line (the caller lookup and the
    # formatting) cost ~2.5% of the daemon's CPU with two webhook subscriptions.
    logging.getLogger("httpx").setLevel(max(numeric, logging.WARNING))


def redact(secret: str | None) -> str:
    """Show at most the last four characters of a key or token, for logs."""
    if not secret:
        return ""
    return "…" + secret[-4:]


#: An integration key where a URL carries it: a whole path segment of 32 letters and digits.
_KEY_IN_PATH = re.compile(r"(?<=/)[A-Za-z0-9]{32}(?=[/?#\s]|$)")


def _redact_keys_in(text: str) -> str:
    return _KEY_IN_PATH.sub(lambda match: redact(match.group(0)), text)


def redact_paths(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Processor: a key in a logged ``path`` shows its last four characters only.

    The ingest path redacts the key it routed by itself; this also covers a key in a URL
    nothing routed (``//integration/KEY/enqueue``, a trailing segment) on any line that
    logs the path, such as a body timeout's.
    """
    path = event_dict.get("path")
    if isinstance(path, str) and "/" in path:
        event_dict["path"] = _redact_keys_in(path)
    return event_dict


def _redact_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    message = event_dict.get("event")
    if isinstance(message, str) and "/" in message:
        event_dict["event"] = _redact_keys_in(message)
    return event_dict
