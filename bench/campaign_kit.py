"""The hostile-input campaign's plumbing: its target, tallies, raw HTTP and a fetch recorder.

``bench/hostile-campaign`` drives the attacks in :mod:`bench.attacks_http` and
:mod:`bench.attacks_wire` with these pieces.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections import Counter
from dataclasses import dataclass, field

import httpx
import trio

#: A timed-out or refused read gives no status.
NO_ANSWER = None

_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")


@dataclass
class Tally:
    """What one attack sent and got back, and what it expected."""

    name: str
    expected: str
    #: 5xx answers are this attack's expected outcome (the connection cap's 503, an
    #: unreachable SNS certificate's 503, a refused mail's 554).
    expects_5xx: bool = False
    sent: int = 0
    #: When the attack started and ended (time.monotonic(), the probe's clock too).
    window: tuple[float, float] = (0.0, 0.0)
    classes: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)

    def answer(self, status: int | None) -> None:
        """Count one answer by its class (``none``: the connection ended without one)."""
        self.classes["none" if status is None else f"{status // 100}xx"] += 1

    def fail(self, problem: str) -> None:
        """Record a broken expectation (repeats are counted, not listed twice)."""
        self.problems[problem] += 1

    @property
    def answered(self) -> int:
        """Requests that got an answer."""
        return sum(n for cls, n in self.classes.items() if cls != "none")

    @property
    def unexpected_5xx(self) -> int:
        """5xx answers this attack did not expect."""
        return 0 if self.expects_5xx else self.classes["5xx"]

    @property
    def held(self) -> bool:
        """Whether every expectation held."""
        return not self.problems and not self.unexpected_5xx


@dataclass
class Keys:
    """Every integration key of the campaign's configuration."""

    probe: list[str]
    rate_url: str  # in the URL of the rate-limit attack
    rate_body: str  # named in its bodies
    sns: str
    mail: str
    vendors: dict[str, str]  # vendor or type -> key, for the bad-body attack

    def all(self) -> list[str]:
        """Every key, for the log search."""
        return [
            *self.probe,
            self.rate_url,
            self.rate_body,
            self.sns,
            self.mail,
            *self.vendors.values(),
        ]


@dataclass
class Target:
    """The running daemon and the settings the attacks hold it to."""

    host: str
    port: int
    smtp_port: int
    keys: Keys
    rest_token: str
    ui_token: str
    public_url: str
    body_timeout: float
    keep_alive_timeout: float
    max_connections: int
    max_body_size: int
    rate_limit: int
    quick: bool
    fetches: FetchRecorder
    #: Set when the timed HTTP attacks have ended: the looping ones (mail) stop then.
    others_done: trio.Event = field(default_factory=trio.Event)
    #: Set when the forged SNS flood has ended: the control's fetch is counted after it.
    sns_forged_done: trio.Event = field(default_factory=trio.Event)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        """An HTTP client for the daemon (no proxy: the environment's is the daemon's)."""
        return httpx.AsyncClient(base_url=self.base, timeout=60, trust_env=False, **kwargs)  # type: ignore[arg-type]


def v2_body(routing_key: str, dedup_key: str) -> dict[str, object]:
    """An Events API v2 trigger."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": "hostile campaign", "source": "bench", "severity": "info"},
    }


def v2_bytes(routing_key: str, dedup_key: str) -> bytes:
    """:func:`v2_body` as the JSON bytes a sender posts."""
    return json.dumps(v2_body(routing_key, dedup_key)).encode()


async def read_status(stream: trio.SocketStream) -> tuple[int | None, bool]:
    """Read an answer's status line: (status or ``None``, whether the peer closed)."""
    buffer = b""
    while b"\r\n" not in buffer:
        try:
            chunk = await stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return NO_ANSWER, True
        if not chunk:
            return NO_ANSWER, True
        buffer += chunk
    match = _STATUS.match(buffer)
    return (int(match.group(1)) if match else NO_ANSWER), False


async def closed_soon(stream: trio.SocketStream, seconds: float) -> bool:
    """Whether the peer closes the connection within ``seconds`` (what it sends is dropped)."""
    with trio.move_on_after(seconds):
        while True:
            try:
                if not await stream.receive_some(65536):
                    return True
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return True
    return False


def head(path: str, length: int, *, content_type: str = "application/json") -> bytes:
    """A POST request head announcing a ``length``-byte body."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


class FetchRecorder:
    """An HTTP proxy that fetches nothing: it records each ``CONNECT`` and refuses it.

    The daemon runs with ``HTTPS_PROXY`` pointing here, so every certificate fetch it
    attempts (httpx honours the variable) shows up as one request line, and fails.
    """

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        """The proxy's URL, for ``HTTPS_PROXY``."""
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    async def serve(self) -> None:
        """Answer proxy clients until cancelled (connections wait in the backlog till then)."""
        listener = trio.SocketListener(trio.socket.from_stdlib_socket(self.socket))
        await trio.serve_listeners(self._one, [listener])

    async def _one(self, stream: trio.SocketStream) -> None:
        buffer = b""
        with trio.move_on_after(10):
            while b"\r\n\r\n" not in buffer:
                try:
                    chunk = await stream.receive_some(4096)
                except trio.BrokenResourceError:
                    break
                if not chunk:
                    break
                buffer += chunk
        if buffer:
            self.requests.append(buffer.split(b"\r\n", 1)[0].decode(errors="replace"))
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        await stream.aclose()
