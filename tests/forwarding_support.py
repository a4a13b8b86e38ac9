"""A fake upstream Events API v2 on 127.0.0.1 for the forwarding tests, and their helpers.

The upstream is a threaded ``http.server`` (so in-process Trio gateways and daemon
subprocesses can both post to it). Its ``script`` decides each answer from the request
(202, 429, 5xx, 400 with PagerDuty's error body…); every request is kept with its arrival
time. It also serves as an HTTP proxy: a request line with an absolute URI is recorded
as such (``Request.target``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trio

from gateway.clock import FakeClock
from gateway.testing import TestGateway


@dataclass(frozen=True)
class Request:
    """One request the upstream got: request-target, path, JSON body, arrival time."""

    target: str
    path: str
    body: dict[str, Any]
    at: float


#: ``script(request, n)`` → ``(status, body)``; ``n`` counts earlier requests with its dedup key.
Script = Callable[[Request, int], tuple[int, Any]]

ACCEPTED = {"status": "success", "message": "Event processed"}


def accept(_: Request, __: int) -> tuple[int, Any]:
    """Answer 202 as PagerDuty does."""
    return 202, ACCEPTED


@dataclass
class Upstream:
    """A live fake Events API: its base URL, what it got, and how it answers."""

    url: str
    script: Script
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def got(self) -> list[Request]:
        """Requests so far, in arrival order."""
        with self.lock:
            return list(self.requests)

    def bodies(self) -> list[dict[str, Any]]:
        """Bodies so far, in arrival order."""
        return [r.body for r in self.got()]

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Request]:
        """Wait (in Trio) until ``count`` requests arrived; return them all."""
        with trio.fail_after(timeout):
            while len(self.got()) < count:
                await trio.sleep(0.01)
        return self.got()

    def wait_sync(self, count: int, timeout: float = 20.0) -> list[Request]:
        """Wait (blocking) until ``count`` requests arrived."""
        deadline = time.monotonic() + timeout
        while len(self.got()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.got()


@contextmanager
def upstream(script: Script = accept) -> Iterator[Upstream]:
    """Run a fake Events API on 127.0.0.1 (a free port) for the block."""
    box: dict[str, Upstream] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(length)
            live = box["u"]
            path = self.path.split("://", 1)[-1]
            path = "/" + path.split("/", 1)[1] if "://" in self.path else self.path
            request = Request(self.path, path, json.loads(raw), time.monotonic())
            with live.lock:
                earlier = sum(
                    1
                    for r in live.requests
                    if r.body.get("dedup_key") == request.body.get("dedup_key")
                )
                live.requests.append(request)
            status, body = live.script(request, earlier)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box["u"] = Upstream(f"http://127.0.0.1:{server.server_address[1]}", script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["u"]
    finally:
        server.shutdown()
        server.server_close()


def forward_to(url: str, routing_key: str) -> list[dict[str, str]]:
    """A ``forward_to`` value for the scaffold's service fields."""
    return [{"url": url, "routing_key": routing_key}]


async def messages(gw: TestGateway) -> list[Any]:
    """Every outbox message of the gateway, oldest first."""
    return await gw.store.read(lambda r: r.outbox_entries())


async def pump(
    gw: TestGateway,
    clock: FakeClock,
    done: Callable[[], bool | Awaitable[bool]],
    *,
    step: float = 1.0,
    timeout: float = 15.0,
) -> None:
    """Move the fake clock ``step`` seconds at a time, waking the deliverers, until ``done()``."""
    engine = gw.running.outbox
    assert engine is not None
    with trio.fail_after(timeout):
        while True:
            verdict = done()
            if verdict if isinstance(verdict, bool) else await verdict:
                return
            clock.advance(step)
            engine.wake()
            await trio.sleep(0.03)


async def any_in(gw: TestGateway, state: str) -> bool:
    """Whether some message is in ``state``."""
    return any(m.state == state for m in await messages(gw))


async def settled(gw: TestGateway, state: str, count: int, *, timeout: float = 10.0) -> list[Any]:
    """Wait until ``count`` messages are in ``state``; return them."""
    with trio.fail_after(timeout):
        while True:
            found = [m for m in await messages(gw) if m.state == state]
            if len(found) >= count:
                return found
            await trio.sleep(0.02)
