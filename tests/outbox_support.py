"""What the outbox tests share: a real HTTP receiver on 127.0.0.1 and a test delivery kind.

The receiver is a threaded ``http.server`` so the same one serves in-process Trio tests and
tests of daemon subprocesses. Its ``script`` decides each answer; every request is kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trio

from gateway.core import outbox
from gateway.core.outbox_policy import Outcome, RetryPolicy
from gateway.outbound.kinds import SendEnv, classify_status
from gateway.store import Tx


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


#: ``script(request) -> (status, headers, seconds to wait before answering)``.
Script = Callable[[Received], tuple[int, dict[str, str], float]]


def ok(_: Received) -> tuple[int, dict[str, str], float]:
    """Answer 200 at once."""
    return 200, {}, 0.0


@dataclass
class Receiver:
    """A live HTTP receiver: its URL, what it got, and how it answers (changeable)."""

    url: str
    script: Script
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[bytes]:
        """Bodies in arrival order."""
        with self.lock:
            return [r.body for r in self.received]

    def count(self) -> int:
        """Requests so far."""
        with self.lock:
            return len(self.received)

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Received]:
        """Wait (in Trio) until ``count`` requests arrived; return them all."""
        with trio.fail_after(timeout):
            while self.count() < count:
                await trio.sleep(0.01)
        with self.lock:
            return list(self.received)

    def wait_sync(self, predicate: Callable[[list[Received]], bool], timeout: float) -> bool:
        """Wait (blocking) until ``predicate(received)`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.received)):
                    return True
            time.sleep(0.05)
        return False


@contextmanager
def receiver(script: Script = ok) -> Iterator[Receiver]:
    """Run a receiver on 127.0.0.1 (a free port) for the block."""
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as deliverers use it

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:
                # The sender hung up mid-body (a node SIGKILLed mid-delivery): no request
                # arrived, as for any HTTP server; neither a delivery nor a bad signature.
                self.close_connection = True
                return
            request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            live = box["r"]
            with live.lock:
                live.received.append(request)
            status, headers, delay = live.script(request)
            if delay:
                time.sleep(delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PostKind:
    """A test delivery kind: POST the body to the destination URL, classify the status."""

    name: str = "test"
    policy: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(
            max_attempts=5, max_age_seconds=None, first_delay=10, max_delay=80, timeout=5, jitter=0
        )
    )
    max_pending: int = 0
    drop_on_overflow: bool = False
    settled_calls: list[tuple[str, Outcome]] = field(default_factory=list)

    async def send(self, message: outbox.Message, env: SendEnv) -> tuple[Outcome, int | None]:
        """One POST; the message id travels as ``X-Message-Id`` (stable across retries)."""
        headers = {**message.headers, "x-message-id": message.id}
        response = await env.client.post(message.destination, content=message.body,
                                         headers=headers)  # fmt: skip
        return classify_status(response), response.status_code

    def settled(self, tx: Tx, message: outbox.Message, outcome: Outcome) -> None:
        """Remember the final outcome (called in the recording transaction)."""
        self.settled_calls.append((message.id, outcome))


def put(kind: str, destination: str, order_key: str, body: bytes) -> Callable[[Tx], str | None]:
    """A write job enqueueing one message."""
    return lambda tx: outbox.enqueue(
        tx, kind=kind, destination=destination, order_key=order_key, body=body
    )
