"""Durable before acknowledged: SIGKILL, SIGTERM, concurrency and a store that cannot commit."""

from __future__ import annotations

import json
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import trio

from tests.scaffold import Daemon, config, gateway_running, key, v2, v2_service

KEY = key("durable")
CONFIG = config(v2_service("Durable", KEY))


@pytest.fixture
def daemon(spawn: Callable[..., Daemon]) -> Daemon:
    return spawn(CONFIG, start=False)


def _blast(base_url: str, prefix: str, acked: list[str], stop: threading.Event) -> None:
    """Send triggers with unique dedup keys until stopped; record each 202."""
    with httpx.Client(base_url=base_url, timeout=5.0) as client:
        i = 0
        while not stop.is_set():
            dedup = f"{prefix}-{i}"
            i += 1
            try:
                r = client.post("/v2/enqueue", json=v2(KEY, dedup_key=dedup))
            except httpx.HTTPError:
                return  # the daemon died under us: this request was never acknowledged
            if r.status_code == 202:
                acked.append(dedup)


@pytest.mark.slow  # three SIGKILLed daemons
def test_sigkill_loses_no_acknowledged_event(daemon: Daemon) -> None:
    rng = random.Random(20261122)
    all_acked: list[str] = []
    for round_no in range(3):
        daemon.start()
        acked: list[str] = []
        stop = threading.Event()
        workers = [
            threading.Thread(target=_blast, args=(daemon.base_url, f"r{round_no}w{w}", acked, stop))
            for w in range(6)
        ]
        for t in workers:
            t.start()
        # Wait for the load to be acknowledged (a loaded machine starts slowly), then kill
        # at a random point of it: a fixed sleep alone killed some rounds before any ack.
        deadline = time.monotonic() + 30
        while not acked and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.1, 0.6))
        daemon.kill()  # SIGKILL while requests are in flight
        stop.set()
        for t in workers:
            t.join()
        assert acked, "no event was acknowledged before the kill"
        all_acked.extend(acked)

    daemon.start()
    stored = {
        k: n for k, n in daemon.query("SELECT alert_key, count(*) FROM alerts GROUP BY alert_key")
    }
    missing = [k for k in all_acked if k not in stored]
    assert missing == []
    assert all(n == 1 for n in stored.values())  # nothing duplicated
    assert daemon.scalar("SELECT count(*) FROM incidents") == len(stored)
    assert daemon.query("PRAGMA integrity_check") == [("ok",)]
    # A sender retrying an acknowledged trigger after the crash opens nothing new.
    with daemon.client() as client:
        assert client.post("/v2/enqueue", json=v2(KEY, dedup_key=all_acked[0])).status_code == 202
    assert daemon.scalar("SELECT count(*) FROM alerts WHERE alert_key = ?", all_acked[0]) == 1
    assert daemon.stop() == 0


def _hold_a_request(daemon: Daemon, body: bytes) -> socket.socket:
    """Send a request's head and wait until the daemon has parsed it; the body stays back.

    ``Expect: 100-continue`` makes the server say when it has read the head and opened the
    request (Hypercorn answers ``100 Continue`` then): from that moment the request is in
    flight, and stays so until the test sends ``body``.
    """
    host, port = daemon.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        b"POST /v2/enqueue HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    interim = b""
    while b"\r\n\r\n" not in interim:
        chunk = sock.recv(4096)
        assert chunk, f"closed before 100 Continue: {interim!r}"
        interim += chunk
    assert interim.startswith(b"HTTP/1.1 100 "), interim
    return sock


@pytest.mark.slow  # a real daemon process
def test_sigterm_drains_in_flight_requests_and_exits_zero(spawn: Callable[..., Daemon]) -> None:
    # Generous timeouts: the held request must outlive the signal by design, not by luck.
    daemon = spawn(
        config(
            v2_service("Durable", KEY),
            server={"shutdown_timeout": 30, "read_timeout": 30, "body_timeout": 30},
        )
    )
    body = json.dumps(v2(KEY, dedup_key="held")).encode()
    held = _hold_a_request(daemon, body)
    acked: list[str] = []
    statuses: list[int] = []

    def one(i: int) -> None:
        try:
            with httpx.Client(base_url=daemon.base_url, timeout=10.0) as client:
                r = client.post("/v2/enqueue", json=v2(KEY, dedup_key=f"term-{i}"))
        except httpx.HTTPError:
            return
        statuses.append(r.status_code)
        if r.status_code == 202:
            acked.append(f"term-{i}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    with held:
        for t in threads:
            t.start()
        time.sleep(0.05)
        daemon.signal(signal.SIGTERM)
        daemon.wait_for_log("daemon.draining")
        assert daemon.proc is not None and daemon.proc.poll() is None  # waiting for "held"
        held.sendall(body)
        answer = b""
        while chunk := held.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 202 "), answer  # finished after the signal, not cut
    assert daemon.proc.wait(timeout=30) == 0
    for t in threads:
        t.join()
    assert all(s == 202 for s in statuses)  # never a 5xx while draining
    stored = {row[0] for row in daemon.query("SELECT alert_key FROM alerts")}
    assert {"held", *acked} <= stored
    log_events = [line.get("event") for line in daemon.log_lines()]
    shutdown = log_events[log_events.index("daemon.signal") :]
    marks = [e for e in shutdown if e and e.startswith("daemon.")]
    assert marks == ["daemon.signal", "daemon.draining", "daemon.stopped"]


@pytest.mark.slow  # a real daemon process
async def test_200_concurrent_triggers_over_20_keys_make_20_alerts(daemon: Daemon) -> None:
    daemon.start()
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=daemon.base_url, timeout=30.0, limits=limits) as client:

        async def one(i: int) -> None:
            r = await client.post("/v2/enqueue", json=v2(KEY, dedup_key=f"storm-{i % 20}"))
            statuses.append(r.status_code)

        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(one, i)
    assert statuses == [202] * 200
    assert daemon.scalar("SELECT count(*) FROM alerts WHERE status = 'triggered'") == 20
    assert daemon.scalar("SELECT count(*) FROM incidents") == 20
    assert daemon.scalar("SELECT count(*) FROM log_entries WHERE type = 'trigger_log_entry'") == 200


@pytest.mark.sqlite_only("SQLite's max_page_count stands in for a full disk")
async def test_store_that_cannot_commit_answers_503_and_recovers(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        await gw.store.write(
            lambda tx: tx.conn.execute(
                "PRAGMA max_page_count = " + str(tx.conn.execute("PRAGMA page_count").fetchone()[0])
            ).fetchone()
        )
        refused = None
        accepted_before = 0
        for i in range(300):
            body = v2(KEY, dedup_key=f"full-{i}", custom_details={"pad": "x" * 2000})
            r = await gw.client.post("/v2/enqueue", json=body)
            if r.status_code != 202:
                refused = (i, r)
                break
            accepted_before += 1
        assert refused is not None
        i, r = refused
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable"
        alerts = await gw.count("alerts")
        assert alerts == accepted_before  # the refused event left nothing behind
        await gw.store.write(
            lambda tx: tx.conn.execute("PRAGMA max_page_count = 1000000").fetchone()
        )
        r = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key=f"full-{i}"))
        assert r.status_code == 202
        assert await gw.count("alerts") == alerts + 1


@pytest.mark.slow  # a daemon process, SIGTERM
def test_sigterm_leaves_no_wal_behind(daemon: Daemon) -> None:
    # Issue 14 item 17: a 5.5 MB WAL stayed beside the database after SIGTERM. The writer
    # now checkpoints (TRUNCATE) after its last job and closes after the read connections,
    # so SQLite removes the WAL; 0 bytes is the next best (another process had it open).
    daemon.start()
    with daemon.client() as http:
        for i in range(200):
            assert http.post("/v2/enqueue", json=v2(KEY, dedup_key=f"wal-{i}")).status_code == 202
        # Reads too: the read connections were the ones left open when the writer closed.
        assert http.get("/metrics").status_code == 200
    wal = daemon.db_path.with_name(daemon.db_path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the load did go through the WAL
    assert daemon.stop() == 0
    assert not wal.exists() or wal.stat().st_size == 0, wal.stat().st_size
    assert daemon.scalar("SELECT count(*) FROM alerts") == 200
    closed = daemon.wait_for_log("store.closed")[0]
    assert closed["wal_checkpoint"] == "complete"
