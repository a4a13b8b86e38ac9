"""A real SMTP receiver on 127.0.0.1 (aiosmtpd in its own thread) for notification tests.

``replies`` decides the answer to each RCPT (``None``: accept); ``tls`` serves TLS from the
first byte, ``starttls`` offers (and requires) STARTTLS; ``logins`` turns on AUTH and
records what was tried. Every message taken is kept as bytes.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import trio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class SmtpReceiver:
    """What the receiver got and how it answers (both changeable while it runs)."""

    port: int
    replies: list[str | None] = field(default_factory=list)
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    #: The client's address for each message taken: one per SMTP session.
    peers: list[Any] = field(default_factory=list)
    rcpts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def emails(self) -> list[EmailMessage]:
        """The messages taken, parsed."""
        with self.lock:
            raw = [m[2] for m in self.messages]
        return [message_from_bytes(r, policy=policy.default) for r in raw]  # type: ignore[misc]

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait (in Trio) until ``count`` messages were taken."""
        with trio.fail_after(timeout):
            while True:
                with self.lock:
                    if len(self.messages) >= count:
                        break
                await trio.sleep(0.01)
        return self.emails()

    async def wait_rcpts(self, count: int, *, timeout: float = 10.0) -> None:
        """Wait until ``count`` RCPT commands were answered (taken or refused)."""
        with trio.fail_after(timeout):
            while self.rcpts < count:
                await trio.sleep(0.01)


class _Handler:
    def __init__(self, box: SmtpReceiver) -> None:
        self.box = box

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.box.lock:
            reply = self.box.replies.pop(0) if self.box.replies else None
            self.box.rcpts += 1
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.box.lock:
            self.box.messages.append(
                (envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
            )
            self.box.peers.append(session.peer)
        return "250 Message accepted"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_receiver(
    *,
    tls: ssl.SSLContext | None = None,
    starttls: ssl.SSLContext | None = None,
    password: str | None = None,
    port: int | None = None,
) -> Iterator[SmtpReceiver]:
    """Run a receiver for the block; with ``password``, AUTH is required (any user name).
    ``port``: listen there (a relay that restarts), else on a free port."""
    box = SmtpReceiver(port=port or free_port())

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        assert isinstance(auth, LoginPassword)
        with box.lock:
            box.logins.append((auth.login.decode(), auth.password.decode()))
        return AuthResult(success=auth.password.decode() == password, handled=False)

    kwargs: dict[str, Any] = {}
    if starttls is not None:
        kwargs.update(tls_context=starttls, require_starttls=True)
    if password is not None:
        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=tls is None)
    controller = Controller(
        _Handler(box),
        hostname="127.0.0.1",
        port=box.port,
        ssl_context=tls,
        server_hostname="127.0.0.1",
        **kwargs,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
        time.sleep(0)
