"""The SMTP listener: aiosmtpd on its own asyncio loop, in its own thread.

The thread speaks SMTP and nothing else. RCPT and DATA are answered by the
Trio side (:class:`~gateway.email.delivery.Delivery`) through the
:class:`~gateway.email.bridge.Bridge`, so ``250`` after DATA means the
message's events are committed.

Shutdown (:meth:`Listener.stop`): stop accepting connections, refuse new
transactions with 451, close sessions that are idle between transactions
with 421, let sessions in the middle of a transaction finish (up to a
deadline), then stop the loop. aiosmtpd's Controller is not used because
its ``stop`` cuts sessions off, a 250 included (stack-notes §4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.email.bridge import Bridge, BridgeClosed
from gateway.email.data_reader import ChunkedDataSMTP
from gateway.email.delivery import (
    SHUTTING_DOWN,
    STORE_UNAVAILABLE,
    TOO_BIG,
    Delivery,
    Mail,
)
from gateway.metrics import Metrics

log = structlog.get_logger("gateway.email")

#: More recipients than this in one transaction get 452 (the sender sends the rest later).
MAX_RECIPIENTS = 100
#: How long a session waits for the Trio side before answering 451.
ANSWER_TIMEOUT = 120.0
IDLE_TIMEOUT = 300.0
GOODBYE = b"421 4.3.2 Service shutting down\r\n"
# aiosmtpd's fixed replies for oversized mail, with RFC 3463 codes added.
_SIZE_REPLIES = {
    "552 Error: Too much mail data": TOO_BIG,
    "552 Error: message size exceeds fixed maximum message size": (
        "552 5.3.4 Message size exceeds fixed maximum message size"
    ),
}


class _Envelope(Envelope):
    """aiosmtpd's envelope, knowing whether a transaction (MAIL FROM) is open."""

    def __init__(self) -> None:
        super().__init__()
        self.open = False


class _Session(ChunkedDataSMTP):
    """One SMTP connection; tracked so that shutdown can wait for it."""

    # Mail from real tools breaks RFC 5321's 1,000-byte line limit (long HTML lines):
    # accept longer lines rather than refuse the page.
    line_length_limit = 64 * 1024

    def __init__(self, listener: Listener, **kwargs: Any) -> None:
        super().__init__(listener.handler, **kwargs)
        self.listener = listener

    def _create_envelope(self) -> Envelope:
        return _Envelope()

    @property
    def idle(self) -> bool:
        """No transaction is open: closing now loses nothing."""
        return not getattr(self.envelope, "open", False)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.listener.sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.listener.sessions.discard(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        if isinstance(status, str) and status in _SIZE_REPLIES:
            self.listener.metrics.smtp_messages.labels("rejected").inc()
            log.info("smtp.message_too_big", limit=self.data_size_limit)
            status = _SIZE_REPLIES[status]
        await super().push(status)

    def goodbye(self) -> None:
        """Tell an idle client the service is going away, and close (RFC 5321 §3.8)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            with contextlib.suppress(Exception):
                transport.write(GOODBYE)  # type: ignore[attr-defined]
            transport.close()


class _Handler:
    """aiosmtpd's handler hooks, answered by the Trio side."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener

    async def handle_MAIL(  # noqa: N802  # aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Open a transaction, unless the gateway is shutting down."""
        if self.listener.draining:
            return SHUTTING_DOWN
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        if isinstance(envelope, _Envelope):
            envelope.open = True
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Accept an integration's address (550 for anything else)."""
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        reply = await self.listener.ask(self.listener.delivery.check_recipient, address)
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return reply

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Deliver the message; the reply comes after the commit."""
        content = envelope.original_content or b""
        peer = session.peer
        mail = Mail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            content=content,
            peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "",
        )
        return await self.listener.ask(self.listener.delivery.deliver, mail, message=True)


class Listener:
    """aiosmtpd serving pre-bound sockets on an asyncio loop in a thread of its own."""

    def __init__(
        self,
        delivery: Delivery,
        bridge: Bridge,
        metrics: Metrics,
        *,
        sockets: list[socket.socket],
        hostname: str,
        max_message_size: int,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.delivery = delivery
        self.bridge = bridge
        self.metrics = metrics
        self.handler = _Handler(self)
        self.sockets = sockets
        self.hostname = hostname
        self.max_message_size = max_message_size
        self.tls_context = tls_context
        self.sessions: set[_Session] = set()
        self.draining = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        # aiosmtpd logs every connection at INFO through stdlib logging; our own
        # structured events say what matters.
        logging.getLogger("mail.log").setLevel(logging.WARNING)

    async def ask(self, fn: Any, *args: Any, message: bool = False) -> str:
        """(asyncio thread) a reply computed by the Trio side; 451 when it cannot answer.

        ``message`` says the call delivers a message, which the metrics count.
        """
        try:
            reply: str = await self.bridge.call(fn, *args, timeout=ANSWER_TIMEOUT)
        except (BridgeClosed, TimeoutError) as exc:
            log.warning("smtp.deferred", reason=str(exc) or "no answer in time")
            if message:
                self.metrics.smtp_messages.labels("deferred").inc()
            return SHUTTING_DOWN if self.draining else STORE_UNAVAILABLE
        return reply

    def _factory(self) -> _Session:
        assert self._loop is not None
        return _Session(
            self,
            data_size_limit=self.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self.hostname,
            ident="alert-gateway",
            tls_context=self.tls_context,
            timeout=IDLE_TIMEOUT,
            loop=self._loop,
        )

    def start(self) -> None:
        """Start the thread and wait until it serves (call from a worker thread)."""
        self._thread = threading.Thread(target=self._run, name="smtp", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # aiosmtpd and asyncio.gather look the loop up
        self._loop = loop
        try:
            for sock in self.sockets:
                server = loop.run_until_complete(loop.create_server(self._factory, sock=sock))
                self._servers.append(server)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self, timeout: float) -> None:
        """Drain and stop (call from a worker thread; the Trio side must keep running jobs)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be gone
            drained = asyncio.run_coroutine_threadsafe(self._drain(timeout), loop)
            drained.result(timeout + 5)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout + 5)

    async def _drain(self, timeout: float) -> None:
        self.draining = True
        for server in self._servers:
            server.close()  # no new connections; open ones go on
        deadline = time.monotonic() + timeout
        open_at_start = len(self.sessions)
        while self.sessions and time.monotonic() < deadline:
            for session in list(self.sessions):
                if session.idle:
                    session.goodbye()
            await asyncio.sleep(0.02)
        cut = len(self.sessions)
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        log.info("smtp.drained", sessions=open_at_start, cut_off=cut)
