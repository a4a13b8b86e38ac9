"""The daemon: one Trio nursery owning the store, the HTTP listener and signals."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
import trio
from hypercorn.config import Config as HypercornConfig

from gateway import logs
from gateway.clock import Clock
from gateway.config import Settings, load_settings
from gateway.context import GatewayContext
from gateway.core import (
    CreatedIntegration,
    Ingest,
    escalation_backfill,
    incident_timers,
    notifications,
    provision,
    sessions,
    webhook_events,
)
from gateway.core.nodes import claim_node
from gateway.core.pressure import IngestPressure
from gateway.core.timer_scheduler import Scheduler, SchedulerConfig, serve_timers
from gateway.errors import ConfigError
from gateway.http.app import create_app
from gateway.http.server import serve
from gateway.logs import redact
from gateway.metrics import Metrics
from gateway.outbound.addresses import AddressPolicy
from gateway.outbound.builtin import builtin_kinds
from gateway.outbound.engine import Engine, EngineConfig, serve_outbox
from gateway.plugins import PluginHost, load_plugins
from gateway.store import Store
from gateway.store.retention import Policy, prune_periodically
from gateway.systemd import Notifier

log = structlog.get_logger("gateway.daemon")


@dataclass
class Running:
    """A started daemon: where it listens, and the handle to stop it."""

    binds: list[str]
    context: GatewayContext
    created: list[CreatedIntegration]
    smtp_binds: list[str] = field(default_factory=list)
    #: The outbound deliverers (``wake()`` them after moving a fake clock in tests).
    outbox: Engine | None = None
    #: The timer scheduler (``wake()`` it after moving a fake clock in tests).
    timers: Scheduler | None = None
    _shutdown: trio.Event = field(default_factory=trio.Event)

    @property
    def base_url(self) -> str:
        """The first listening URL, e.g. ``http://127.0.0.1:8080``."""
        return self.binds[0]

    def stop(self) -> None:
        """Begin a graceful shutdown."""
        self._shutdown.set()


def hypercorn_config(settings: Settings) -> HypercornConfig:
    """Hypercorn settings from ours: bind, TLS, timeouts, no access log.

    ``read_timeout`` bounds each read only (a byte every few seconds resets it); the whole
    body's deadline (``body_timeout``) is enforced where the body is read (http/events.py),
    and ``max_connections`` by the accept loop (http/server.py): Hypercorn has neither.
    """
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


RESTART_ONLY = ("server", "storage", "smtp", "plugins", "outbound", "forwarding")


async def _watch_signals(running: Running, notifier: Notifier) -> None:
    signals_wanted = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    with trio.open_signal_receiver(*signals_wanted) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            log.info("daemon.signal", signal=name)
            if signum == signal.SIGHUP:
                await reload(running, notifier)
                continue
            running.stop()
            return


async def _watchdog(notifier: Notifier, interval: float) -> None:
    # Pinged from the event loop itself, so a wedged loop stops the pings and
    # systemd restarts the service.
    while True:
        notifier.watchdog()
        await trio.sleep(interval)


def _status(running: Running) -> str:
    settings = running.context.settings
    listeners = ", ".join(running.binds + running.smtp_binds)
    return f"serving {listeners}; {len(settings.services)} configured services"


async def reload(running: Running, notifier: Notifier | None = None) -> bool:
    """Re-read the configuration file and apply what can change while running.

    Services, integrations and maintenance windows are provisioned again, the
    log level and rate limit take effect at once; listeners, storage, SMTP
    and plugin loading need a restart (a warning names them). An invalid file
    changes nothing. Connections are not touched. Returns whether it applied.
    """
    context = running.context
    old = context.settings
    if notifier:
        notifier.reloading()
    try:
        if old.source is None:
            raise ConfigError("the configuration was not loaded from a file")
        new = load_settings(old.source)
        created = await context.store.write(lambda tx: provision(tx, new, context.plugins))
    except ConfigError as exc:
        log.error("config.reload_failed", error=str(exc), key=exc.key, line=exc.line)
        if notifier:
            notifier.ready(f"reload failed, old configuration kept: {exc}")
        return False
    stale = [name for name in RESTART_ONLY if getattr(new, name) != getattr(old, name)]
    if stale:
        log.warning("config.reload_needs_restart", sections=stale)
    context.apply_settings(new)
    webhook_events.set_public_url(new.server.public_url, new.server.listen)
    context.ingest.forget_keys()  # provisioning may have moved or removed integrations
    logs.configure(level=new.logging.level, fmt=new.logging.format)
    for item in created:
        log.info(
            "integration.created",
            service=item.service,
            integration=item.name,
            integration_key=redact(item.integration_key),
        )
    running.created.extend(created)
    log.info("config.reloaded", services=len(new.services))
    if notifier:
        notifier.ready(_status(running))
    return True


async def run(
    settings: Settings,
    *,
    clock: Clock | None = None,
    plugins: PluginHost | None = None,
    extra_plugins: Iterable[tuple[str, object]] = (),
    handle_signals: bool = True,
    notifier: Notifier | None = None,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the gateway until SIGTERM/SIGINT (or :meth:`Running.stop`); SIGHUP reloads.

    Start-up order: plugins, store (migrated), provisioning, HTTP, SMTP, then
    READY=1 to systemd. The ``task_status`` is started (with a
    :class:`Running`) once every listener is bound. Shutdown: STOPPING=1, stop
    accepting, let in-flight requests finish within ``shutdown_timeout``,
    flush the writer, close the database.
    """
    notifier = notifier or Notifier()
    if plugins is None:
        plugins = load_plugins(
            block=settings.plugins.block, require=settings.plugins.require, extra=extra_plugins
        )
    store = await Store.open(
        settings.storage.path,
        synchronous=settings.storage.synchronous,
        clock=clock,
        url=settings.storage.url,
        password=settings.storage.password(),
    )
    store.on_incident_changes = plugins.notify_incident_changes
    webhook_events.set_public_url(settings.server.public_url, settings.server.listen)
    try:
        created = await store.write(lambda tx: provision(tx, settings, plugins))
        # A database from before timers: its open incidents get their timeouts now.
        backfilled = await store.write(incident_timers.backfill)
        if backfilled:
            log.info("timers.backfilled", timers=backfilled)
        # Open incidents the escalation upgrade left unassigned follow their policy now,
        # after provisioning gave the file's policies their levels (a batch per job).
        while await store.write(escalation_backfill.backfill):
            pass
        metrics = Metrics()
        store.stats.observers.append(metrics.observe_batch)
        store.stats.failure_observers.append(metrics.commit_failures.inc)
        shared = store.backend.name == "postgresql"
        context = GatewayContext(
            settings=settings,
            store=store,
            plugins=plugins,
            ingest=Ingest(store, plugins, metrics),
            metrics=metrics,
            # Several nodes may serve a PostgreSQL database: one signing key for all.
            ui_secret=await store.write(sessions.signing_key) if shared else None,
        )
        context.apply_settings(settings)
        # One verdict of "ingest keeps the writer busy" for the event path, the deliverers
        # and the timer scheduler, so they yield together (core/pressure.py).
        busy = IngestPressure(store.stats).busy
        if settings.outbound.max_defer_seconds > 0 and clock is None:
            # While ingest keeps the writer busy, new incidents are paged from a timer
            # (core/escalation.py). Not with an injected clock: a test's timers fire only
            # when it says so, and such a test pages in the event's job unless it asks.
            context.ingest.page_later = busy
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
                    max_connections=settings.server.max_connections,
                    metrics=metrics,
                    shutdown_trigger=shutdown.wait,
                    task_status=task_status,
                )
            finally:
                http_done.set()
                shutdown.set()  # if the server stopped on its own, stop the rest too

        async with trio.open_nursery() as nursery:
            if handle_signals:
                nursery.start_soon(_watch_signals, running, notifier)
            running.binds = await nursery.start(serve_http)
            if settings.smtp is not None:
                from gateway.email import serve_smtp

                running.smtp_binds = await nursery.start(
                    serve_smtp, context, settings.smtp, shutdown
                )
            log.info(
                "daemon.ready",
                listen=running.binds,
                smtp=running.smtp_binds,
                services=len(settings.services),
                vendors=len(plugins.vendors),
            )
            notifier.ready(_status(running))
            if notifier.watchdog_seconds:
                nursery.start_soon(_watchdog, notifier, notifier.watchdog_seconds / 2)
            nursery.start_soon(
                prune_periodically, store, _retention(settings), metrics.observe_pruned
            )
            # One claim id for both the deliverers and the timers (core/nodes.py: unique per
            # process on a shared PostgreSQL database).
            node = claim_node(settings.outbound.node_id, shared=shared)
            log.info("daemon.node", node=node)
            running.outbox = await nursery.start(_serve_outbox, context, clock, node, busy)
            running.timers = await nursery.start(_serve_timers, context, clock, node, busy)
            task_status.started(running)
            await shutdown.wait()
            notifier.stopping()
            log.info("daemon.draining")
            await http_done.wait()
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await store.close()
    log.info("daemon.stopped")


async def _serve_outbox(
    context: GatewayContext,
    clock: Clock | None,
    node: str,
    busy: Callable[[], bool],
    task_status: trio.TaskStatus[Engine] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The deliverers, beside the HTTP server: built-in kinds and the plugins' kinds.

    A dead destination only keeps its own messages waiting: the deliverers never touch
    ``/readyz``, which asks the store alone.
    """
    settings = context.settings
    kinds = {kind.name: kind for kind in builtin_kinds(settings)}
    for name, kind in context.plugins.delivery_kinds.items():
        if name in kinds:
            raise ConfigError(f"delivery kind {name!r} is built in", key="plugins")
        kinds[name] = kind
    # A contact method type people may store but no loaded kind sends would page nobody.
    for contact_type in notifications.undelivered_types(context.plugins.contact_types, kinds):
        log.warning("notification.type_without_kind", contact_method_type=contact_type)
    outbound = settings.outbound
    await serve_outbox(
        context.store,
        kinds,
        config=EngineConfig(
            node_id=node,
            per_destination=outbound.per_destination,
            max_in_flight=outbound.max_in_flight,
            lease_seconds=outbound.lease_seconds,
            max_defer_seconds=outbound.max_defer_seconds,
        ),
        policy=AddressPolicy.parse(outbound.deny, outbound.allow),
        clock=clock,
        metrics=context.metrics,
        busy=busy,
        task_status=task_status,
    )


async def _serve_timers(
    context: GatewayContext,
    clock: Clock | None,
    node: str,
    busy: Callable[[], bool],
    task_status: trio.TaskStatus[Scheduler] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The timer scheduler, beside the deliverers, claiming under the same node id and lease.

    With an injected clock (tests) it fires only when told (``Running.timers.wake()``): a
    fake clock moves only when a test says so, and so do the timers, which keeps every
    test that jumps a day ahead free of auto-resolutions it did not ask for.
    """
    outbound = context.settings.outbound
    await serve_timers(
        context.store,
        config=SchedulerConfig(
            node_id=node,
            lease_seconds=outbound.lease_seconds,
            manual=clock is not None,
            max_defer_seconds=outbound.max_defer_seconds,
        ),
        clock=clock,
        metrics=context.metrics,
        busy=busy,
        task_status=task_status,
    )


def _retention(settings: Settings) -> Policy:
    """The retention policy ``[storage]`` configures (the store knows no settings)."""
    storage = settings.storage
    return Policy(
        storage.retention_days,
        storage.change_event_retention_days,
        settings.outbound.retention_days,
    )
