"""Slow and broken clients cannot starve the others."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.scaffold import Daemon, config, key, v2, v2_service

pytestmark = pytest.mark.slow  # 500 sockets against a real daemon process

KEY = key("slowloris")


def test_500_trickling_connections_do_not_stop_other_clients(
    spawn: Callable[..., Daemon],
) -> None:
    daemon = spawn(config(v2_service("Slow", KEY), server={"read_timeout": 2}))
    host, port = daemon.base_url.removeprefix("http://").split(":")
    request = b"POST /v2/enqueue HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n"
    sockets: list[socket.socket] = []
    stop = threading.Event()

    def trickle() -> None:
        for i in range(len(request)):
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.send(request[i : i + 1])
            if stop.wait(0.2):
                return

    try:
        for _ in range(500):
            sockets.append(socket.create_connection((host, int(port))))
        trickler = threading.Thread(target=trickle)
        trickler.start()
        time.sleep(0.5)
        timings = []
        with httpx.Client(base_url=daemon.base_url, timeout=10) as client:
            for i in range(20):
                started = time.perf_counter()
                r = client.post("/v2/enqueue", json=v2(KEY, dedup_key=f"fast-{i}"))
                timings.append(time.perf_counter() - started)
                assert r.status_code == 202
        assert max(timings) < 2.0, timings
        stop.set()
        trickler.join()
        # Once they stop sending, read_timeout ends them (Hypercorn may answer 408 first).
        deadline = time.monotonic() + 8
        open_sockets = list(sockets)
        while open_sockets and time.monotonic() < deadline:
            still = []
            for sock in open_sockets:
                sock.settimeout(0.01)
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    still.append(sock)
                    continue
                except OSError:
                    continue
                if data and b"408" not in data and not data.startswith(b"HTTP/1.1 4"):
                    raise AssertionError(data)
            open_sockets = still
        assert len(open_sockets) <= 25, f"{len(open_sockets)} stalled connections still open"
        assert daemon.scalar("SELECT count(*) FROM alerts") == 20
        assert daemon.stop() == 0
    finally:
        stop.set()
        for sock in sockets:
            sock.close()
