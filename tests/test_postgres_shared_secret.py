"""The web UI's signing key on PostgreSQL: one per database, whoever asks first."""

from __future__ import annotations

import trio

from gateway.clock import FakeClock
from gateway.core import sessions
from gateway.store import Store
from tests.conftest import StoreTarget


async def test_nodes_starting_at_once_get_one_signing_key(postgres: StoreTarget) -> None:
    stores = [
        await Store.open(postgres.path, clock=FakeClock(), url=postgres.url) for _ in range(4)
    ]
    keys: list[bytes] = []
    try:

        async def ask(store: Store) -> None:
            keys.append(await store.write(sessions.signing_key))

        async with trio.open_nursery() as nursery:
            for store in stores:
                nursery.start_soon(ask, store)
        again = await stores[0].write(sessions.signing_key)
        count = await stores[0].read(
            lambda r: r._db.fetch_value("SELECT count(*) FROM shared_secrets")
        )
    finally:
        for store in stores:
            await store.close()
    assert len(set(keys)) == 1 and len(keys[0]) == 64 and again == keys[0]
    assert count == 1
