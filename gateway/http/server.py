"""The HTTP listener: Hypercorn's trio worker with a cap on open connections.

Why not ``hypercorn.trio.serve`` as it is: Hypercorn has no connection limit (``backlog``
only sizes the kernel's queue of connections not yet accepted; its trio worker then
accepts every connection and keeps it until a timeout ends it), and no hook around its
accept loop. Every open connection costs a file descriptor, a task and buffers, so a few
hundred slow clients could exhaust the process. This module runs Hypercorn's own pieces
(its ``Lifespan``, ``WorkerContext`` and one ``TCPServer`` per connection: every HTTP/1.1,
HTTP/2 and TLS detail stays Hypercorn's) behind an accept loop of ours, which counts the
open connections and answers those over ``max_connections`` with a 503 before reading a
byte of them. Shutdown is Hypercorn's: stop accepting, tell idle connections to close,
give in-flight requests ``graceful_timeout``.
"""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import structlog
import trio
from hypercorn.config import Config
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState, LifespanState
from hypercorn.utils import repr_socket_addr, wrap_app

from gateway.metrics import Metrics

__all__ = ["ConnectionGate", "serve"]

log = structlog.get_logger("gateway.http")

# Descriptors the daemon needs besides its connections: the database and its WAL, the
# listeners, SMTP, logs, the writer's wake-up pipe, with room to spare.
FD_HEADROOM = 64
#: A refused connection's log line is written at most this often (an attack is many).
REFUSAL_LOG_INTERVAL = 10.0
_REFUSAL_BODY = (
    b'{"status":"unavailable","message":"Too many open connections; retry later",'
    b'"errors":["The gateway is serving its max_connections"]}'
)
#: Sent whole, before reading the request: HTTP/1.1 lets a server answer early.
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_REFUSAL_BODY)).encode() + b"\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n\r\n" + _REFUSAL_BODY
)


class _TCPServer(TCPServer):
    """Hypercorn's connection handler, closing as soon as the peer has gone.

    Its trio worker keeps a connection's keep-alive idle timer running after the read
    loop has ended (the peer closed, reset, or went silent past ``read_timeout``), so the
    socket stays open in CLOSE_WAIT, holding a file descriptor and a slot of the cap,
    until ``keep_alive_timeout``; nothing can arrive on it any more. (Its asyncio worker
    closes at once.)
    """

    async def _read_data(self) -> None:
        await super()._read_data()
        await self.idle_task.stop()


class ConnectionGate:
    """Counts open connections against a limit; the metrics mirror the count."""

    def __init__(self, limit: int, metrics: Metrics) -> None:
        self.limit = limit
        self.open = 0
        self.refused = 0
        self.metrics = metrics
        self._logged_refusals = 0
        self._last_log = -REFUSAL_LOG_INTERVAL
        metrics.http_connections_limit.set(limit)

    def enter(self) -> bool:
        """Take a slot for a new connection; False (counted, logged) when all are taken."""
        if self.open >= self.limit:
            self.refused += 1
            self.metrics.http_connections_refused.inc()
            now = trio.current_time()
            if now - self._last_log >= REFUSAL_LOG_INTERVAL:
                # Once per interval, with the count since the last line: a flood of
                # connections must not become a flood of log lines.
                log.warning(
                    "http.connections_refused",
                    refused=self.refused - self._logged_refusals,
                    open=self.open,
                    max_connections=self.limit,
                )
                self._last_log = now
                self._logged_refusals = self.refused
            return False
        self.open += 1
        self.metrics.http_connections.inc()
        return True

    def leave(self) -> None:
        """Give back the slot of a connection that closed."""
        self.open -= 1
        self.metrics.http_connections.dec()


def ensure_fd_limit(max_connections: int) -> None:
    """Raise the soft open-file limit to cover ``max_connections``, or warn if it cannot.

    A cap above the limit would not protect anything: accept would fail with EMFILE
    first (systemd's default soft limit is 1024, the default cap 1000 plus headroom).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + FD_HEADROOM
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    if hard == resource.RLIM_INFINITY or hard >= wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        log.info("server.fd_limit_raised", soft=wanted, previous=soft)
        return
    log.warning(
        "server.fd_limit_low",
        max_connections=max_connections,
        nofile=hard,
        hint="raise LimitNOFILE= or lower [server] max_connections",
    )


async def _refuse(stream: trio.abc.Stream) -> None:
    """Answer 503 and close, reading nothing; a TLS connection is only closed."""
    # A TLS stream has not shaken hands: a handshake would cost more than the answer.
    if isinstance(stream, trio.SSLStream):
        await trio.aclose_forcefully(stream.transport_stream)
        return
    # A peer that does not take 300 bytes within a second gets no more of our time; one
    # already gone is no error.
    with trio.move_on_after(1), contextlib.suppress(trio.BrokenResourceError, OSError):
        await stream.send_all(REFUSAL)
    await trio.aclose_forcefully(stream)


def _listeners(config: Config) -> tuple[list[trio.abc.Listener[Any]], list[str]]:
    """Bind (or adopt ``fd://``) the configured sockets, as Hypercorn's worker does."""
    sockets = config.create_sockets()
    ssl_context = config.create_ssl_context()
    listeners: list[trio.abc.Listener[Any]] = []
    binds: list[str] = []
    for sock in sockets.secure_sockets:
        sock.listen(config.backlog)
        plain = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
        assert ssl_context is not None  # secure sockets exist only with certificates
        listeners.append(trio.SSLListener(plain, ssl_context, https_compatible=True))
        binds.append(f"https://{repr_socket_addr(sock.family, sock.getsockname())}")
    for sock in sockets.insecure_sockets:
        sock.listen(config.backlog)
        listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
        binds.append(f"http://{repr_socket_addr(sock.family, sock.getsockname())}")
    return listeners, binds


async def serve(
    app: Any,
    config: Config,
    *,
    max_connections: int,
    metrics: Metrics,
    shutdown_trigger: Callable[[], Awaitable[object]],
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the ASGI ``app`` until ``shutdown_trigger`` returns, then drain.

    ``task_status`` is started with the bound URLs. At most ``max_connections`` are
    open at once; one more is answered 503 (``Retry-After: 1``) and closed unread.
    """
    ensure_fd_limit(max_connections)
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    state: LifespanState = {}
    lifespan = Lifespan(wrapped, config, state)
    context = WorkerContext(None)
    gate = ConnectionGate(max_connections, metrics)

    async def connection(stream: trio.abc.Stream) -> None:
        if not gate.enter():
            await _refuse(stream)
            return
        try:
            # Hypercorn annotates the stream as TLS, but takes a plain one as its worker does.
            plain: Any = stream
            await _TCPServer(wrapped, config, context, ConnectionState(state.copy()), plain)
        except Exception:
            # One connection's failure ends that connection only. In Hypercorn's worker it
            # ended the server: its HTTP/2 code raises KeyError when a client sends DATA
            # for a stream already answered (a 413 or 408 before the body's end).
            log.warning("http.connection_failed", exc_info=True)
            await trio.aclose_forcefully(stream)
        finally:
            gate.leave()

    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        async with trio.open_nursery() as connections:
            listeners, binds = _listeners(config)
            try:
                async with trio.open_nursery() as accepting:
                    accepting.start_soon(
                        partial(
                            trio.serve_listeners, connection, listeners, handler_nursery=connections
                        )
                    )
                    task_status.started(binds)
                    await shutdown_trigger()
                    accepting.cancel_scope.cancel()
            finally:
                # Stop accepting (the kernel refuses new connections from here on), let
                # idle keep-alive connections close at once, and give the requests in
                # flight graceful_timeout before they are cancelled.
                for listener in listeners:
                    await trio.aclose_forcefully(listener)
                await context.terminated.set()
                connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()
