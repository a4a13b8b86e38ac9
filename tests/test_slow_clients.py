"""Slow and broken clients cannot starve the others.

The 500-socket test runs a real daemon process (slow); the rest run an in-process gateway
with small timeouts and talk raw HTTP/1.1 over 127.0.0.1, so they take seconds.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import trio

from tests.scaffold import Daemon, TestGateway, config, gateway_running, key, v2, v2_service
from tests.tls import make_ca_and_server

KEY = key("slowloris")


@pytest.mark.slow  # 500 sockets against a real daemon process
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
        # A starved client would wait for the trickle to end (about 12 s: a header byte
        # every 0.2 s) and then read_timeout; a served one takes milliseconds. 5 s leaves a
        # loaded CI machine its margin and still tells the two apart.
        assert max(timings) < 5.0, timings
        stop.set()
        trickler.join()
        # Once they stop sending, read_timeout ends them (Hypercorn may answer 408 first).
        # The loop ends as soon as they are closed; the deadline only bounds a failure.
        deadline = time.monotonic() + 30
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


# -- the whole-body deadline and the connection cap (in process) ------------------------------

HEAD = (
    b"POST %s HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
)


def _address(gw: TestGateway) -> tuple[str, int]:
    host, port = gw.base_url.removeprefix("http://").split(":")
    return host, int(port)


def _sample(gw: TestGateway, name: str, **labels: str) -> float:
    value = gw.running.context.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def _read_until_closed(stream: trio.SocketStream) -> bytes:
    """Everything the server sends until it closes (a reset counts as closed)."""
    data = b""
    while True:
        try:
            chunk = await stream.receive_some(65536)
        except trio.BrokenResourceError:
            return data
        if not chunk:
            return data
        data += chunk


async def _trickle(
    gw: TestGateway, path: bytes, every: float, give_up: float
) -> tuple[float, bytes] | None:
    """Send a head, then one body byte every ``every`` s; (seconds to close, answer) or None."""
    stream = await trio.open_tcp_stream(*_address(gw))
    async with stream:
        await stream.send_all(HEAD % path)
        started = trio.current_time()

        async def drip() -> None:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                for _ in range(99):  # never the last byte: the body stays incomplete
                    await stream.send_all(b" ")
                    await trio.sleep(every)

        answer = None
        with trio.move_on_after(give_up):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(drip)
                data = await _read_until_closed(stream)
                answer = (trio.current_time() - started, data)
                nursery.cancel_scope.cancel()
        return answer


async def test_30_trickled_bodies_are_cut_at_the_deadline_while_others_are_served(
    tmp_path: Path,
) -> None:
    # The attack scaled down: a byte every 0.3 s never trips the per-read
    # read_timeout (1 s), which is all Hypercorn enforces. Unset, body_timeout takes
    # read_timeout's value, so each body must be whole within 1 s of its head.
    cfg = config(v2_service("Slow", KEY), server={"read_timeout": 1})
    async with gateway_running(tmp_path, cfg) as gw:
        results: list[tuple[float, bytes] | None] = []

        async def slow_client() -> None:
            results.append(await _trickle(gw, b"/v2/enqueue", every=0.3, give_up=20))

        already = _sample(gw, "alert_gateway_http_connections")
        async with trio.open_nursery() as nursery:
            for _ in range(30):
                nursery.start_soon(slow_client)
            with trio.fail_after(15):  # every slow client is connected and dripping
                while _sample(gw, "alert_gateway_http_connections") < already + 30:
                    await trio.sleep(0.01)
            answer = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="fast"))
            assert answer.status_code == 202  # served during the attack

        assert len(results) == 30
        assert all(result is not None for result in results), "a slow body was never cut"
        for result in results:
            assert result is not None
            seconds, data = result
            # The 1 s deadline, not the 30 s body (the margin is for a loaded machine).
            assert 0.9 < seconds < 15, seconds
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408")
            assert b"connection: close" in head.lower()
            assert json.loads(body)["status"] == "Request Timeout"
        assert _sample(gw, "alert_gateway_http_body_timeouts_total", route="ingest") == 30
        assert (
            _sample(
                gw,
                "alert_gateway_events_total",
                vendor="events_api_v2",
                action="unknown",
                outcome="body_timeout",
            )
            == 30
        )
        assert _sample(gw, "alert_gateway_events_total", **_ERRORS) == 0  # not an error
        assert await gw.count("alerts") == 1  # the fast client's event only
        # Every cut connection gave its slot back.
        with trio.fail_after(15):
            while _sample(gw, "alert_gateway_http_connections") > 1:  # the client's own
                await trio.sleep(0.05)


_ERRORS = {"vendor": "events_api_v2", "action": "unknown", "outcome": "error"}


@pytest.mark.parametrize("path", [b"/services", b"/ui/services/new"])
async def test_quart_routes_cut_a_trickled_body_with_408(tmp_path: Path, path: bytes) -> None:
    cfg = config(v2_service("Slow", KEY), server={"read_timeout": 5, "body_timeout": 0.5})
    async with gateway_running(tmp_path, cfg) as gw:
        result = await _trickle(gw, path, every=0.2, give_up=15)
        assert result is not None, "the trickled body was never cut"
        seconds, data = result
        assert 0.45 < seconds < 10, seconds  # the 0.5 s deadline, not the 20 s body
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408")
        assert b"connection: close" in head.lower()
        assert json.loads(body)["error"]["message"] == "Request Timeout"
        assert _sample(gw, "alert_gateway_http_body_timeouts_total", route="other") == 1


async def test_a_body_within_the_deadline_is_served_as_before(tmp_path: Path) -> None:
    # A slow but finishing sender (three pauses, 0.6 s in all) is well under body_timeout.
    cfg = config(v2_service("Slow", KEY), server={"body_timeout": 10})
    async with gateway_running(tmp_path, cfg) as gw:
        payload = json.dumps(v2(KEY, dedup_key="paced")).encode()
        stream = await trio.open_tcp_stream(*_address(gw))
        async with stream:
            await stream.send_all(
                b"POST /v2/enqueue HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n" % len(payload)
            )
            for part in (payload[:10], payload[10:20], payload[20:]):
                await trio.sleep(0.2)
                await stream.send_all(part)
            with trio.fail_after(15):
                data = await _read_until_closed(stream)
        assert data.startswith(b"HTTP/1.1 202")
        assert await gw.count("alerts") == 1


def _metric_line(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


async def _request(stream: trio.SocketStream, request: bytes) -> bytes:
    """Send one keep-alive request and read its whole (Content-Length) answer."""
    await stream.send_all(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive_some(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += await stream.receive_some(65536)
    return head + b"\r\n\r\n" + body


async def test_connections_over_max_connections_are_refused_at_once(tmp_path: Path) -> None:
    limit = 10
    cfg = config(
        v2_service("Capped", KEY),
        # Long idle and read timeouts: only the cap can be what refuses a connection here.
        server={"max_connections": limit, "keep_alive_timeout": 30, "read_timeout": 30},
    )
    async with gateway_running(tmp_path, cfg) as gw:
        held = [await trio.open_tcp_stream(*_address(gw)) for _ in range(limit)]
        try:
            with trio.fail_after(5):
                while _sample(gw, "alert_gateway_http_connections") < limit:
                    await trio.sleep(0.01)
            # 20 more: each is answered 503 before it sends a byte, then closed, within
            # far less than any timeout the gateway has (30 s here).
            for _ in range(20):
                extra = await trio.open_tcp_stream(*_address(gw))
                async with extra:
                    with trio.fail_after(10):  # the gateway's timeouts are 30 s here
                        data = await _read_until_closed(extra)
                head, _, body = data.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 503"), data
                assert b"retry-after: 1" in head.lower()
                assert json.loads(body)["status"] == "unavailable"
            # The first `limit` connections keep working, keep-alive included.
            payload = json.dumps(v2(KEY, dedup_key="held")).encode()
            post = b"POST /v2/enqueue HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n%s" % (
                len(payload),
                payload,
            )
            for stream in held:
                with trio.fail_after(5):
                    assert (await _request(stream, post)).startswith(b"HTTP/1.1 202")
            with trio.fail_after(5):
                metrics = await _request(held[0], b"GET /metrics HTTP/1.1\r\nHost: gw\r\n\r\n")
            text = metrics.decode()
            assert _metric_line(text, "alert_gateway_http_connections") == limit
            assert _metric_line(text, "alert_gateway_http_connections_limit") == limit
            assert _metric_line(text, "alert_gateway_http_connections_refused_total") == 20
        finally:
            for stream in held:
                await stream.aclose()
        # The slots come back: an ordinary client is served again.
        with trio.fail_after(5):
            while _sample(gw, "alert_gateway_http_connections") > 0:
                await trio.sleep(0.01)
        answer = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="after"))
        assert answer.status_code == 202
        assert await gw.count("alerts") == 2  # "held" (deduplicated) and "after"


async def test_a_connection_the_client_closed_gives_its_slot_back_at_once(tmp_path: Path) -> None:
    # Hypercorn's trio worker held such a socket (CLOSE_WAIT) until keep_alive_timeout;
    # under the cap that would refuse live clients for the sake of departed ones.
    cfg = config(v2_service("Capped", KEY), server={"keep_alive_timeout": 30})
    async with gateway_running(tmp_path, cfg) as gw:
        for request in (b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n", b""):
            stream = await trio.open_tcp_stream(*_address(gw))
            if request:
                with trio.fail_after(5):
                    assert (await _request(stream, request)).startswith(b"HTTP/1.1 200")
            with trio.fail_after(5):
                while _sample(gw, "alert_gateway_http_connections") < 1:
                    await trio.sleep(0.01)
            await stream.aclose()
            with trio.fail_after(15):  # half keep_alive_timeout
                while _sample(gw, "alert_gateway_http_connections") > 0:
                    await trio.sleep(0.01)


@pytest.mark.parametrize("status", [413, 408])
async def test_an_http2_request_answered_before_its_body_ends_does_not_stop_the_server(
    tmp_path: Path, status: int
) -> None:
    # Hypercorn's HTTP/2 code raises when DATA arrives for a stream already answered; in
    # its worker that ended the whole server (the daemon stopped). Over TLS, curl and
    # httpx speak HTTP/2, and a 413 or 408 is sent before the body's end by design.
    ca, cert, private_key = make_ca_and_server(tmp_path)
    server: dict[str, object] = {"certfile": str(cert), "keyfile": str(private_key)}
    if status == 408:
        server["body_timeout"] = 0.5
    async with gateway_running(tmp_path, config(v2_service("Secure", KEY), server=server)) as gw:
        url = gw.base_url + "/v2/enqueue"
        assert url.startswith("https://")

        async def body() -> AsyncIterator[bytes]:
            if status == 413:  # 768 KiB, over the 512 KiB limit
                for _ in range(12):
                    yield b" " * 65536
                    await trio.sleep(0.02)
            else:
                yield b"{"
                await trio.sleep(2)  # four times body_timeout: the 408 comes first
                yield b"}"

        tls = ssl.create_default_context(cafile=str(ca))
        async with httpx.AsyncClient(http2=True, verify=tls, timeout=10) as client:
            # The connection may be reset under the early answer; the server must live on.
            with contextlib.suppress(httpx.TransportError):
                answer = await client.post(url, content=body())
                assert (answer.http_version, answer.status_code) == ("HTTP/2", status)
        async with httpx.AsyncClient(http2=True, verify=tls, timeout=10) as client:
            answer = await client.post(url, json=v2(KEY, dedup_key="after"))
            assert (answer.http_version, answer.status_code) == ("HTTP/2", 202)
