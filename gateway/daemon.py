"""The daemon: one Trio nursery owning the store, the HTTP listener and signals."""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from gateway.clock import Clock
from gateway.config import Settings
from gateway.core import CreatedIntegration, Ingest, provision
from gateway.http.app import GatewayContext, create_app
from gateway.plugins import PluginHost, load_plugins
from gateway.store import Store

log = structlog.get_logger("gateway.daemon")


@dataclass
class Running:
    """A started daemon: where it listens, and the handle to stop it."""

    binds: list[str]
    context: GatewayContext
    created: list[CreatedIntegration]
    smtp_binds: list[str] = field(default_factory=list)
    _shutdown: trio.Event = field(default_factory=trio.Event)

    @property
    def base_url(self) -> str:
        """The first listening URL, e.g. ``http://127.0.0.1:8080``."""
        return self.binds[0]

    def stop(self) -> None:
        """Begin a graceful shutdown."""
        self._shutdown.set()


def hypercorn_config(settings: Settings) -> HypercornConfig:
    """Hypercorn settings from ours: bind, TLS, timeouts, no access log."""
    server = settings.server
    config = HypercornConfig()
    config.bind = [server.listen]
    config.graceful_timeout = server.shutdown_timeout
    config.keep_alive_timeout = server.keep_alive_timeout
    config.read_timeout = server.read_timeout
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    if server.certfile and server.keyfile:
        config.certfile = str(server.certfile)
        config.keyfile = str(server.keyfile)
    return config


async def _watch_signals(shutdown: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("daemon.signal", signal=signal.Signals(signum).name)
            shutdown.set()
            return


async def run(
    settings: Settings,
    *,
    clock: Clock | None = None,
    plugins: PluginHost | None = None,
    extra_plugins: Iterable[tuple[str, object]] = (),
    handle_signals: bool = True,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the gateway until SIGTERM/SIGINT (or :meth:`Running.stop`).

    Start-up order: plugins, store (migrated), provisioning, HTTP. The
    ``task_status`` is started (with a :class:`Running`) once every listener
    is bound. Shutdown: stop accepting, let in-flight requests finish within
    ``shutdown_timeout``, flush the writer, close the database.
    """
    if plugins is None:
        plugins = load_plugins(
            block=settings.plugins.block, require=settings.plugins.require, extra=extra_plugins
        )
    store = await Store.open(
        settings.storage.path, synchronous=settings.storage.synchronous, clock=clock
    )
    try:
        created = await store.write(lambda tx: provision(tx, settings, plugins))
        context = GatewayContext(
            settings=settings, store=store, plugins=plugins, ingest=Ingest(store, plugins)
        )
        # Hypercorn's ASGI types are stricter than the plain mappings our app uses.
        asgi_app: Any = create_app(context)
        running = Running(binds=[], context=context, created=created)
        shutdown = running._shutdown
        http_done = trio.Event()

        async def serve_http(task_status: trio.TaskStatus[list[str]]) -> None:
            try:
                await serve(
                    asgi_app,
                    hypercorn_config(settings),
                    shutdown_trigger=shutdown.wait,
                    task_status=task_status,
                )
            finally:
                http_done.set()

        async with trio.open_nursery() as nursery:
            if handle_signals:
                nursery.start_soon(_watch_signals, shutdown)
            running.binds = await nursery.start(serve_http)
            if settings.smtp is not None:
                from gateway.email import serve_smtp

                running.smtp_binds = await nursery.start(
                    serve_smtp, context, settings.smtp, shutdown
                )
            log.info(
                "daemon.ready",
                listen=running.binds,
                services=len(settings.services),
                vendors=len(plugins.vendors),
            )
            task_status.started(running)
            await http_done.wait()
            nursery.cancel_scope.cancel()
        log.info("daemon.draining")
    finally:
        with trio.CancelScope(shield=True):
            await store.close()
    log.info("daemon.stopped")
