"""Slow and broken clients cannot starve the others."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import httpx

from tests.support import Daemon, key, v2

KEY = key("slowloris")


def test_500_trickling_connections_do_not_stop_other_clients(tmp_path: Path) -> None:
    daemon = Daemon(
        tmp_path,
        f"""
[server]
read_timeout = 2

[storage]
path = "gw.db"

[[services]]
name = "Slow"
  [[services.integrations]]
  name = "v2"
  type = "events_api_v2"
  integration_key = "{KEY}"
""",
    )
    daemon.start()
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
        daemon.kill()
