"""A daemon on PostgreSQL loses its database under load and recovers by itself (issue 18).

The server is shared, so it is never stopped: the test gives the daemon a database of its
own and cuts it off from there. First its connections are killed over and over
(``pg_terminate_backend`` every 100 ms for two seconds: each reconnect lives a moment),
then the database refuses connections altogether (``ALLOW_CONNECTIONS false``, its
backends killed) for three seconds, then it is let back. Throughout, senders post
Events API v2 triggers and ``/readyz`` is polled. Then:

- every answer is 202 or 503 (no 500, no hang), and some were 503;
- no trigger is answered 2xx while the database is out, and every one answered 2xx is
  stored, exactly once;
- ``/readyz`` says 503 while the database is out and 200 again after, and events are
  accepted again, with no restart (the same process, which then exits 0 on SIGTERM).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from functools import partial

import httpx
import psycopg
import pytest
import trio

from tests import pgserver
from tests.ha_support import Sent, own_database, send_load, stored_seqs
from tests.scaffold import Daemon, config, key, v2_service

pytestmark = pytest.mark.slow  # a real daemon process

KEY = key("ha-db-outage")
DEDUP_KEYS = [f"outage-{n}" for n in range(20)]
FLAP_AT, FLAP_FOR = 1.5, 2.0
OUT_AT, OUT_FOR = 4.0, 3.0
LOAD_SECONDS = 11.0


def _kill_backends(control: psycopg.Connection[tuple[object, ...]], database: str) -> int:
    found = control.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        (database,),
    ).fetchone()
    return int(found[0]) if found else 0


def test_lost_database_answers_503_then_recovers_without_restart(
    spawn: Callable[..., Daemon],
) -> None:
    with own_database() as (database, url):
        text = config(v2_service("Web", KEY), storage=None)
        daemon = spawn(text + f'\n[storage]\npath = "gw.db"\nurl = "{url}"\n', start=False)
        daemon.start(timeout=60)  # an interpreter's start takes ~20 s on a busy machine
        pid = daemon.proc.pid if daemon.proc else None
        sent = Sent()
        ready: list[tuple[float, int]] = []
        marks: dict[str, float] = {}
        killed: list[int] = []

        async def outage(control: psycopg.Connection[tuple[object, ...]]) -> None:
            await trio.sleep(FLAP_AT)
            marks["flap"] = time.monotonic()
            end = trio.current_time() + FLAP_FOR
            while trio.current_time() < end:
                killed.append(_kill_backends(control, database))
                await trio.sleep(0.1)
            await trio.sleep(OUT_AT - FLAP_AT - FLAP_FOR)
            control.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
            marks["out"] = time.monotonic()
            end = trio.current_time() + OUT_FOR
            while trio.current_time() < end:
                killed.append(_kill_backends(control, database))
                await trio.sleep(0.2)
            control.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
            marks["back"] = time.monotonic()

        async def poll_ready() -> None:
            async with httpx.AsyncClient(base_url=daemon.base_url, timeout=5.0) as client:
                end = trio.current_time() + LOAD_SECONDS
                while trio.current_time() < end:
                    answer = await client.get("/readyz")
                    ready.append((time.monotonic(), answer.status_code))
                    await trio.sleep(0.1)

        async def run() -> None:
            with psycopg.connect(pgserver.SERVER, autocommit=True) as control:
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(outage, control)
                        nursery.start_soon(poll_ready)
                        nursery.start_soon(
                            partial(
                                send_load,
                                lambda: [("gw", daemon.base_url)],
                                KEY,
                                DEDUP_KEYS,
                                sent,
                                senders=4,
                                seconds=LOAD_SECONDS,
                            )
                        )
                finally:
                    control.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")

        trio.run(run)
        assert daemon.proc is not None and daemon.proc.poll() is None  # never exited
        assert daemon.proc.pid == pid
        assert sum(killed) > 2, killed  # the cuts hit the daemon's connections
        assert daemon.stop() == 0
        failed_commits = [
            line for line in daemon.log_lines() if line.get("event") == "store.commit_failed"
        ]
        stored = Counter(stored_seqs(url))

    statuses = Counter(sent.answers.values())
    assert set(statuses) <= {202, 503}, statuses
    assert statuses[503] > 0 and failed_commits
    out, back = marks["out"], marks["back"]
    # Out: after the first 503 from /readyz, until the database is let back.
    first_unready = next(t for t, status in ready if status == 503 and t >= out)
    assert first_unready - out < 2.0
    during = [s for t, _, s in sent.timeline if first_unready + 0.2 <= t < back]
    assert during and all(status == 503 for status in during), Counter(during)
    assert all(status == 503 for t, status in ready if first_unready <= t < back)
    # Back: ready again, and events accepted again, by the same process.
    recovered = next((t for t, status in ready if t >= back and status == 200), None)
    assert recovered is not None and recovered - back < 5.0, ready[-5:]
    after = [s for t, _, s in sent.timeline if t > recovered]
    assert after.count(202) > 10 and 503 not in after[len(after) // 2 :]
    # Never 2xx for an event that was not saved; nothing stored twice.
    acked = sent.acked()
    assert acked - set(stored) == set(), f"{len(acked - set(stored))} acknowledged, not stored"
    assert [seq for seq, n in stored.items() if n > 1] == []
