"""sd_notify without a dependency: READY, STATUS, WATCHDOG, RELOADING, STOPPING.

systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract
namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``.
Outside systemd every call is a no-op.
"""

from __future__ import annotations

import os
import socket
import time

import structlog

log = structlog.get_logger("gateway.systemd")


class Notifier:
    """Sends state changes to systemd's notification socket."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET") or None
        watchdog_usec = env.get("WATCHDOG_USEC")
        watchdog_pid = env.get("WATCHDOG_PID")
        self.watchdog_seconds: float | None = None
        if watchdog_usec and (not watchdog_pid or int(watchdog_pid) == os.getpid()):
            self.watchdog_seconds = int(watchdog_usec) / 1_000_000

    @property
    def enabled(self) -> bool:
        """Whether a notification socket was given."""
        return self.address is not None

    def notify(self, *lines: str) -> None:
        """Send one datagram of ``KEY=value`` lines; failures are logged, never raised."""
        if self.address is None:
            return
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(target)
                sock.sendall("\n".join(lines).encode())
        except OSError as exc:
            log.warning("systemd.notify_failed", error=str(exc))

    def ready(self, status: str) -> None:
        """READY=1 with a one-line status."""
        self.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def reloading(self) -> None:
        """RELOADING=1 (with the monotonic timestamp Type=notify-reload wants)."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def status(self, status: str) -> None:
        """STATUS= only."""
        self.notify(f"STATUS={status}")

    def watchdog(self) -> None:
        """WATCHDOG=1: the event loop is alive."""
        self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        """STOPPING=1."""
        self.notify("STOPPING=1", "STATUS=stopping")
