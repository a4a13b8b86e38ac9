"""Email integrations: the built-in SMTP listener.

``[smtp]`` in the configuration starts it (see ``docs/email.md``). The
pieces: :mod:`~gateway.email.listener` speaks SMTP on its own thread,
:mod:`~gateway.email.bridge` carries its questions to Trio,
:mod:`~gateway.email.delivery` answers them with the store and the ingest
core. What a mail means is the email vendor plugin's (``plugins/email.py``).
"""

from __future__ import annotations

import socket
import ssl

import structlog
import trio

from gateway.config import SmtpSettings
from gateway.context import GatewayContext
from gateway.email.bridge import Bridge
from gateway.email.delivery import Delivery, Mail, address_candidates
from gateway.email.listener import Listener
from gateway.errors import ConfigError

__all__ = ["Delivery", "Mail", "address_candidates", "serve_smtp"]

log = structlog.get_logger("gateway.email")


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext | None:
    if settings.certfile is None or settings.keyfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(settings.certfile), str(settings.keyfile))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the certificate: {exc}", key="smtp.certfile") from exc
    return context


def _bind(settings: SmtpSettings) -> list[socket.socket]:
    """Bind the listening sockets here, so a taken port fails the daemon's start-up."""
    infos = socket.getaddrinfo(
        settings.host or None, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in infos[:1]:
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ConfigError(f"cannot listen on {settings.listen}: {exc}", key="smtp.listen") from exc
    return sockets


def _name(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve_smtp(
    context: GatewayContext,
    settings: SmtpSettings,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve SMTP until ``shutdown`` is set; start ``task_status`` with the bound addresses.

    On shutdown, sessions in the middle of a transaction finish (their
    messages are committed and answered) within the server's
    ``shutdown_timeout``; new transactions get 451 and idle sessions 421.
    """
    tls = _tls_context(settings)
    sockets = _bind(settings)
    binds = [_name(sock) for sock in sockets]
    delivery = Delivery(context, settings)
    bridge = Bridge()
    listener = Listener(
        delivery,
        bridge,
        context.metrics,
        sockets=sockets,
        hostname=settings.domain,
        max_message_size=settings.max_message_size,
        tls_context=tls,
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bridge.run_jobs)
        try:
            await trio.to_thread.run_sync(listener.start)
            task_status.started(binds)
            log.info(
                "smtp.listening", listen=binds, domain=settings.domain, starttls=tls is not None
            )
            await shutdown.wait()
        finally:
            # Shielded: the daemon cancels its nursery once HTTP has drained, but mail in
            # flight must still be committed and answered before the store closes.
            with trio.CancelScope(shield=True):
                timeout = context.settings.server.shutdown_timeout
                await trio.to_thread.run_sync(listener.stop, timeout)
                bridge.close()
                for sock in sockets:
                    sock.close()
