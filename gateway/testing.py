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
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from gateway.clock import Clock
from gateway.config import Settings, parse_settings
from gateway.daemon import Running, run
from gateway.domain import Alert, Incident, LogEntry
from gateway.store import Reader, Store

__all__ = ["TestGateway", "gateway_running"]


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

    settings = replace(
        settings,
        server=replace(settings.server, host="127.0.0.1", port=0),
        storage=replace(settings.storage, path=tmp_path / "gateway.db"),
    )
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(_run_quietly, settings, clock, tuple(plugins))
        client_kwargs: dict[str, Any] = {"base_url": running.base_url, "timeout": 10.0}
        async with httpx.AsyncClient(**client_kwargs) as client:
            try:
                yield TestGateway(running, client)
            finally:
                running.stop()


async def _run_quietly(
    settings: Settings,
    clock: Clock | None,
    plugins: tuple[tuple[str, object], ...],
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    await run(
        settings, clock=clock, extra_plugins=plugins, handle_signals=False, task_status=task_status
    )
