"""Helpers for testing plugins (and the gateway itself) against a real, in-process gateway.

Typical use in a pytest-trio test::

    from gateway.testing import gateway_running

    async def test_my_vendor(tmp_path):
        config = '''
        [[services]]
        name = "Web"
          [[services.integrations]]
          name = "mine"
          vendor = "myvendor"
          integration_key = "0123456789abcdef0123456789abcdef"
        '''
        async with gateway_running(tmp_path, config) as gw:
            r = await gw.client.post(gw.integration_url("0123456789abcdef0123456789abcdef"),
                                     content=b"...")
            assert r.status_code == 202
            incidents = await gw.incidents()

The gateway listens on 127.0.0.1 on a free port with a real SQLite file under
``tmp_path``; requests travel over real HTTP.

For a vendor's ``parse`` alone, without a gateway: :func:`inbound_request` (or
:func:`mail_request` for the SMTP form) builds the request the core would hand
it, and :func:`parse_events` parses it exactly as the core does (parse, then
PD-CEF validation)::

    events = await parse_events(VENDOR, inbound_request({"id": "a"}, integration_key=KEY))

:class:`ChangeRecorder` is a plugin that records ``incident_changed`` calls::

    changes = ChangeRecorder()
    async with gateway_running(tmp_path, config, plugins=[("changes", changes)]) as gw:
        ...
        await changes.wait_for(2)
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
import trio

from gateway.clock import Clock
from gateway.config import Settings, parse_settings
from gateway.daemon import Running, run
from gateway.domain import Alert, Incident, LogEntry
from gateway.pluginkit import (
    SMTP_METHOD,
    Event,
    InboundRequest,
    IncidentChange,
    InvalidEvent,
    Vendor,
    hookimpl,
    validate,
)
from gateway.store import Reader, Store
from gateway.store.offline import use_backend
from gateway.store.scratch import schema_for

#: The environment variable naming a PostgreSQL database (``postgresql://…``) that
#: :func:`gateway_running` runs its gateways on instead of a SQLite file.
TEST_DATABASE_URL = "ALERT_GATEWAY_TEST_DATABASE_URL"

__all__ = [
    "ChangeRecorder",
    "TestGateway",
    "gateway_running",
    "inbound_request",
    "mail_request",
    "parse_events",
]


@dataclass
class TestGateway:
    """A running in-process gateway and an HTTP client pointed at it."""

    __test__ = False  # not a pytest test class

    running: Running
    client: httpx.AsyncClient

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.running.base_url

    @property
    def store(self) -> Store:
        """The gateway's store (for reads in assertions)."""
        return self.running.context.store

    def integration_url(self, integration_key: str) -> str:
        """PagerDuty's generic vendor inbound URL for a key."""
        return f"/integration/{integration_key}/enqueue"

    async def incidents(self) -> list[Incident]:
        """Every incident, newest first."""
        return await self.store.read(lambda r: r.incidents(limit=10_000))

    async def alerts(self, incident_id: str) -> list[Alert]:
        """An incident's alerts."""
        return await self.store.read(lambda r: r.alerts(incident_id))

    async def log_entries(self, incident_id: str) -> list[LogEntry]:
        """An incident's timeline."""
        return await self.store.read(lambda r: r.log_entries(incident_id=incident_id))

    async def count(self, table: str) -> int:
        """Rows in one of the store's tables."""
        return await self.store.read(lambda r: Reader.count(r, table))


@asynccontextmanager
async def gateway_running(
    tmp_path: Path,
    config: str | Settings = "",
    *,
    clock: Clock | None = None,
    plugins: Iterable[tuple[str, object]] = (),
) -> AsyncIterator[TestGateway]:
    """Run a gateway in the current Trio run for the duration of the block.

    ``config`` is TOML text (its ``[server] listen`` and ``[storage] path``
    are replaced with a free port and a file under ``tmp_path``) or ready
    :class:`Settings`. ``plugins`` registers extra in-process plugins as
    ``(name, module_or_object)`` pairs, next to the installed ones.
    """
    settings = (
        parse_settings(config, source=tmp_path / "config.toml")
        if isinstance(config, str)
        else config
    )
    from dataclasses import replace

    # With ALERT_GATEWAY_TEST_DATABASE_URL set, the gateway runs on PostgreSQL in a schema
    # of its own, so the same tests prove both backends. One schema per ``tmp_path``: a
    # test that restarts the gateway finds its data again, as with the file. The schemas
    # are dropped when the process exits.
    base_url = os.environ.get(TEST_DATABASE_URL)
    url = settings.storage.url
    if base_url:
        url = schema_for(base_url, tmp_path)
    global gateways_started  # noqa: PLW0603 (a plain counter, read between tests)
    gateways_started += 1
    settings = replace(
        settings,
        server=replace(settings.server, host="127.0.0.1", port=0),
        storage=replace(settings.storage, path=tmp_path / "gateway.db", url=url),
    )
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(_run_quietly, settings, clock, tuple(plugins))
        if url:
            # A test writing "from another process" (offline.write_sync on the store's
            # path) reaches the same PostgreSQL database, as the CLI would.
            use_backend(running.context.store.backend)
        client_kwargs: dict[str, Any] = {"base_url": running.base_url, "timeout": 10.0}
        async with httpx.AsyncClient(**client_kwargs) as client:
            try:
                yield TestGateway(running, client)
            finally:
                running.stop()


#: How many gateways :func:`gateway_running` has started in this process. The test suite
#: compares it before and after each test to learn which tests store through an in-process
#: gateway: those are the ones it runs again on PostgreSQL (docs/development.md).
gateways_started = 0


async def _run_quietly(
    settings: Settings,
    clock: Clock | None,
    plugins: tuple[tuple[str, object], ...],
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    await run(
        settings, clock=clock, extra_plugins=plugins, handle_signals=False, task_status=task_status
    )


# -- plugin authors' helpers: a request, a parse, a recorder --------------------------------------


def inbound_request(
    body: bytes | str | Any = b"",
    *,
    integration_key: str | None = None,
    path: str | None = None,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    form: Mapping[str, str] | None = None,
    content_type: str | None = None,
) -> InboundRequest:
    """The :class:`InboundRequest` the HTTP layer would build, for a vendor's ``parse``.

    ``body`` is sent as is when it is ``bytes``, UTF-8 encoded when it is a
    ``str``, and JSON-encoded otherwise (a dict, a list…); ``form`` instead
    URL-encodes a form (as Nagios posts). The content type follows from that
    (``application/json``, ``text/plain; charset=utf-8``,
    ``application/x-www-form-urlencoded``, ``application/octet-stream``) unless
    ``content_type`` or a ``content-type`` header says otherwise. Header names
    are lowercased, as the gateway's are. ``path`` defaults to
    ``/integration/{integration_key}/enqueue`` when a key is given (the key
    then travelled in the URL), else ``/``. ``settings`` are the integration's
    per-vendor settings, as the core passes them for a key-routed request.
    """
    if form is not None:
        raw, default_type = urlencode(dict(form)).encode(), "application/x-www-form-urlencoded"
    elif isinstance(body, bytes):
        raw, default_type = body, "application/octet-stream"
    elif isinstance(body, str):
        raw, default_type = body.encode(), "text/plain; charset=utf-8"
    else:
        raw, default_type = json.dumps(body).encode(), "application/json"
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    lowered.setdefault("content-type", content_type or default_type)
    if path is None:
        path = f"/integration/{integration_key}/enqueue" if integration_key else "/"
    return InboundRequest(
        method=method,
        path=path,
        headers=lowered,
        body=raw,
        query=dict(query or {}),
        integration_key=integration_key,
        settings=dict(settings or {}),
    )


def mail_request(
    message: bytes | str | EmailMessage,
    *,
    integration_key: str,
    settings: Mapping[str, Any] | None = None,
    mail_from: str = "monitor@example.com",
    rcpt_to: str = "alerts@example.com",
    peer: str = "127.0.0.1",
) -> InboundRequest:
    """The :class:`InboundRequest` the SMTP listener hands a vendor for one recipient.

    ``method`` is :data:`~gateway.pluginkit.SMTP_METHOD`, ``body`` the raw
    message (an :class:`~email.message.EmailMessage` is serialised, a ``str``
    UTF-8 encoded), and the envelope travels in the ``x-smtp-mail-from``,
    ``x-smtp-rcpt-to`` and ``x-smtp-peer`` headers. ``settings`` are the
    recipient integration's rules.
    """
    if isinstance(message, EmailMessage):
        raw = message.as_bytes()
    elif isinstance(message, str):
        raw = message.encode()
    else:
        raw = message
    return InboundRequest(
        method=SMTP_METHOD,
        path="smtp",
        headers={
            "content-type": "message/rfc822",
            "x-smtp-mail-from": mail_from,
            "x-smtp-rcpt-to": rcpt_to,
            "x-smtp-peer": peer,
        },
        body=raw,
        integration_key=integration_key,
        settings=dict(settings or {}),
    )


async def parse_events(vendor: Vendor, request: InboundRequest) -> list[Event]:
    """Parse ``request`` through ``vendor`` as the core does, without a gateway.

    Awaits ``vendor.parse``; ``InvalidEvent``, ``UnrecognizedEvent`` and
    ``RetryLater`` propagate unchanged, as the core answers them (``400``,
    ``400``, ``503``). A result that is not a list of :class:`Event` raises
    ``TypeError`` (the core answers ``500`` naming the plugin); any other
    exception propagates as raised, so a test shows the plugin's traceback.
    When the request carries an integration key, the key wins over the
    events' ``routing_key`` (the core routes by the URL's key, whatever the
    body says). Each event is then validated against PD-CEF, and the first
    invalid one raises :class:`InvalidEvent` with PagerDuty's error strings,
    as the core answers it. The ``enrich_event``/``filter_event`` hooks of
    other plugins do not run here.
    """
    events = await vendor.parse(request)
    if not isinstance(events, list) or not all(isinstance(e, Event) for e in events):
        raise TypeError(f"{vendor.id}: parse must return list[Event], got {type(events).__name__}")
    key = request.integration_key
    if key is not None:
        events = [
            e if e.routing_key == key else msgspec.structs.replace(e, routing_key=key)
            for e in events
        ]
    for event in events:
        problems = validate(event)
        if problems:
            raise InvalidEvent(problems)
    return events


class ChangeRecorder:
    """A plugin that records every ``incident_changed`` call, for assertions.

    Register it next to the plugin under test with
    ``gateway_running(..., plugins=[("changes", recorder)])``; ``changes``
    holds each :class:`IncidentChange` in the order the hook saw them, and
    ``await recorder.wait_for(n)`` returns once ``n`` have arrived (the hook
    runs after commit, so a test may have its ``2xx`` a moment before).
    """

    def __init__(self) -> None:
        self.changes: list[IncidentChange] = []

    @hookimpl
    def incident_changed(self, change: IncidentChange) -> None:
        """Record ``change``."""
        self.changes.append(change)

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> list[IncidentChange]:
        """Wait until at least ``count`` changes are recorded; return them all.

        Raises :class:`trio.TooSlowError` after ``timeout`` seconds. It polls
        rather than waiting on an event: the hook may be called from any
        thread, and a short sleep is enough for a test.
        """
        with trio.fail_after(timeout):
            while len(self.changes) < count:
                await trio.sleep(0.005)
        return list(self.changes)
