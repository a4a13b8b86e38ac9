"""Key-in-URL paths reuse their integration lookup briefly, and never act on a stale one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.store import Reader, Tx
from tests.scaffold import TestGateway, config, gateway_running, key, v2, v2_service

KEY = key("cached")
OTHER = key("created-later")
UNKNOWN = key("nobody-owns-it")
CONFIG = config(v2_service("Cache", KEY))


async def _post(gw: TestGateway, integration_key: str, dedup: str) -> tuple[int, Any]:
    response = await gw.client.post(
        gw.integration_url(integration_key), json=v2(integration_key, dedup_key=dedup)
    )
    return response.status_code, response.json()


async def test_repeated_requests_look_their_key_up_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        reads = 0
        real_read = gw.store.read

        async def counting(fn: Any) -> Any:
            nonlocal reads
            reads += 1
            return await real_read(fn)

        monkeypatch.setattr(gw.store, "read", counting)
        for i in range(5):
            assert (await _post(gw, KEY, f"d{i}"))[0] == 202
        assert reads == 1  # one worker-thread hop for five requests


async def test_a_deleted_integration_is_refused_as_an_unknown_key(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        assert (await _post(gw, KEY, "before"))[0] == 202  # its lookup is now cached
        integration = await gw.store.read(lambda r: r.integration_by_key(KEY))
        assert integration is not None

        def delete(tx: Tx) -> None:
            tx.update_integration(integration.id, integration_key=None, deleted_at=tx.now)

        await gw.store.write(delete)
        entries = await gw.count("log_entries")
        assert await _post(gw, KEY, "after") == await _post(gw, UNKNOWN, "after")
        assert await gw.count("log_entries") == entries


async def test_an_unknown_key_works_as_soon_as_its_integration_exists(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        assert (await _post(gw, OTHER, "early"))[0] == 400

        def create(tx: Tx) -> None:
            service = Reader.service_by_name(tx, "Cache")
            assert service is not None
            tx.insert_integration(
                service_id=service.id,
                name="later",
                type="events_api_v2_inbound_integration",
                vendor_id=None,
                integration_key=OTHER,
            )

        await gw.store.write(create)
        assert (await _post(gw, OTHER, "now"))[0] == 202
