"""Operations: sd_notify and watchdog, SIGHUP reload, metrics, readiness, rate limits."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import trio

from gateway.core.ratelimit import RateLimiter
from gateway.metrics import OPEN_INCIDENTS_MAX_AGE
from gateway.systemd import Notifier
from tests.scaffold import (
    Daemon,
    config,
    events_v1,
    events_v2,
    gateway_running,
    key,
    service,
    v2,
    v2_service,
    vendor_integration,
)

KEY = key("ops")
V1KEY = key("ops-v1")
WEB = service("Web", events_v2(KEY), events_v1(V1KEY))
CONFIG = config(WEB)


class NotifySocket:
    """A stand-in for systemd's notification socket: a datagram listener."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def drain(self, until: str, timeout: float = 15.0) -> list[str]:
        """Collect datagrams until one contains ``until``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
            if until in self.messages[-1]:
                return self.messages
        raise AssertionError(f"no {until!r} in {self.messages}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def kinds(messages: list[str]) -> list[str]:
    """The first line of each datagram: READY=1, WATCHDOG=1, RELOADING=1, STOPPING=1."""
    return [m.splitlines()[0] for m in messages]


@pytest.mark.slow  # a real daemon process
def test_sd_notify_ready_watchdog_reload_stopping(
    spawn: Callable[..., Daemon], notify: NotifySocket
) -> None:
    daemon = spawn(CONFIG, env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "400000"})
    ready = notify.drain("READY=1")
    assert "STATUS=serving http://127.0.0.1:" in ready[-1]
    notify.drain("WATCHDOG=1")
    notify.drain("WATCHDOG=1")  # pinged again at half the 0.4 s interval
    daemon.signal(signal.SIGHUP)
    notify.drain("RELOADING=1")
    notify.drain("READY=1")
    assert daemon.stop() == 0
    notify.drain("STOPPING=1")
    seen = [k for k in kinds(notify.messages) if k != "WATCHDOG=1"]
    assert seen == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]
    reloading = next(m for m in notify.messages if m.startswith("RELOADING=1"))
    assert "MONOTONIC_USEC=" in reloading


def test_notifier_is_silent_outside_systemd() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog_seconds is None
    notifier.ready("x")  # no socket: nothing happens, nothing raises


def test_notifier_abstract_socket_and_watchdog_pid(tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0alert-gateway-test-" + tmp_path.name)
    listener.settimeout(2)
    try:
        notifier = Notifier(
            {
                "NOTIFY_SOCKET": "@alert-gateway-test-" + tmp_path.name,
                "WATCHDOG_USEC": "2000000",
                "WATCHDOG_PID": "1",
            }
        )
        assert notifier.watchdog_seconds is None  # the watchdog is for another process
        notifier.status("hello")
        assert listener.recv(100) == b"STATUS=hello"
    finally:
        listener.close()


@pytest.mark.slow  # a real daemon process
def test_sighup_reloads_services_and_refuses_a_bad_file(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(CONFIG)
    new_key = key("ops-new")
    with daemon.client() as http:
        assert http.post("/v2/enqueue", json=v2(new_key)).status_code == 400
        # A new service appears on reload, and an open connection survives it.
        daemon.config_path.write_text(config(WEB, v2_service("Added", new_key)))
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("config.reloaded")
        assert http.post("/v2/enqueue", json=v2(new_key)).status_code == 202

        good = daemon.config_path.read_text()
        daemon.config_path.write_text(good.replace('name = "Added"', "name = 42"))
        daemon.signal(signal.SIGHUP)
        failed = daemon.wait_for_log("config.reload_failed")
        assert failed[0]["key"] == "services[1].name"
        assert http.post("/v2/enqueue", json=v2(new_key)).status_code == 202
    assert daemon.stop() == 0


@pytest.mark.slow  # a real daemon process
def test_sighup_applies_the_log_level(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(CONFIG)
    with daemon.client() as http:
        http.post("/v2/enqueue", json=v2(KEY, dedup_key="quiet"))
        assert not [x for x in daemon.log_lines() if x.get("event") == "event.accepted"]
        daemon.config_path.write_text(config(WEB, logging={"level": "debug"}))
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("config.reloaded")
        http.post("/v2/enqueue", json=v2(KEY, dedup_key="loud"))
    accepted = daemon.wait_for_log("event.accepted")
    line = accepted[0]
    assert line["dedup_key"] == "loud" and line["event_action"] == "trigger"
    assert line["routing_key"] == "…" + KEY[-4:]  # never the whole key
    assert KEY not in daemon.output()
    assert {"request_id", "integration_id", "service_id"} <= set(line)
    assert daemon.stop() == 0


async def test_metrics_count_events_and_open_incidents(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="m1"))
        await gw.client.post("/v2/enqueue", json=v2(KEY, "acknowledge", "m1"))
        await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="m2"))
        await gw.client.post("/v2/enqueue", json={"routing_key": KEY})
        r = await gw.client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        text = r.text
    lines = set(text.splitlines())
    assert (
        'alert_gateway_events_total{action="trigger",outcome="accepted",vendor="events_api_v2"} 2.0'
    ) in lines
    assert (
        'alert_gateway_events_total{action="unknown",outcome="invalid",vendor="events_api_v2"} 1.0'
    ) in lines
    assert 'alert_gateway_open_incidents{service="Web",status="triggered"} 1.0' in lines
    assert 'alert_gateway_open_incidents{service="Web",status="acknowledged"} 1.0' in lines
    assert "alert_gateway_store_batch_size_count" in text
    assert 'alert_gateway_ingest_seconds_count{vendor="events_api_v2"} 3.0' in lines


async def test_the_open_incident_gauge_is_counted_behind_the_scrape(tmp_path: Path) -> None:
    """A scrape serves the last count and starts the next one only once that count is
    OPEN_INCIDENTS_MAX_AGE old: counting 50,000 open incidents took ~20 ms of every scrape."""
    triggered = 'alert_gateway_open_incidents{service="Web",status="triggered"} '
    async with gateway_running(tmp_path, CONFIG) as gw:
        gauge = gw.running.context.metrics.open_incidents
        moment = [1000.0]
        gauge.now = lambda: moment[0]
        await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="g1"))
        assert triggered + "1.0" in (await gw.client.get("/metrics")).text  # first: counted
        await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="g2"))
        moment[0] += OPEN_INCIDENTS_MAX_AGE - 0.1
        assert triggered + "1.0" in (await gw.client.get("/metrics")).text  # young: kept
        assert not gauge.reading
        moment[0] += 0.1
        # Old: a recount starts; this scrape may or may not see it (it reads the outbox and
        # timers meanwhile), the next one does.
        assert triggered in (await gw.client.get("/metrics")).text
        with trio.fail_after(10):
            while gauge.reading or gauge.read_at != moment[0]:
                await trio.sleep(0.01)
        assert triggered + "2.0" in (await gw.client.get("/metrics")).text


@pytest.mark.sqlite_only("SQLite's max_page_count stands in for a full disk")
async def test_healthz_and_readyz(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, CONFIG) as gw:
        assert (await gw.client.get("/healthz")).json() == {"status": "ok"}
        r = await gw.client.get("/readyz")
        assert r.status_code == 200 and r.json()["store"] == "writable"
        await gw.store.write(
            lambda tx: tx.conn.execute(
                "PRAGMA max_page_count = " + str(tx.conn.execute("PRAGMA page_count").fetchone()[0])
            ).fetchone()
        )
        # Fill the last free pages so the next commit that writes must grow the file.
        refused = False
        for i in range(200):
            body = v2(KEY, dedup_key=f"fill-{i}", custom_details={"pad": "x" * 3000})
            if (await gw.client.post("/v2/enqueue", json=body)).status_code == 503:
                refused = True
                break
        assert refused
        r = await gw.client.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "unavailable"
        metrics = (await gw.client.get("/metrics")).text.splitlines()
        assert "alert_gateway_store_commit_failures_total 1.0" in metrics
        await gw.store.write(
            lambda tx: tx.conn.execute("PRAGMA max_page_count = 1000000").fetchone()
        )
        assert (await gw.client.post("/v2/enqueue", json=v2(KEY))).status_code == 202
        assert (await gw.client.get("/readyz")).status_code == 200


RATE_CONFIG = config(WEB, rate_limit=3)


async def test_rate_limit_v2_429_v1_403_and_nothing_stored(tmp_path: Path) -> None:
    async with gateway_running(tmp_path, RATE_CONFIG) as gw:
        statuses = [
            (await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key=f"r{i}"))) for i in range(5)
        ]
        assert [r.status_code for r in statuses] == [202, 202, 202, 429, 429]
        assert "retry later" in statuses[3].json()["message"]
        assert await gw.count("alerts") == 3
        body = {"service_key": V1KEY, "event_type": "trigger", "description": "x"}
        codes = [
            (await gw.client.post("/generic/2010-04-15/create_event.json", json=body)).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 403]
        assert await gw.count("alerts") == 6
        metrics = (await gw.client.get("/metrics")).text
        assert (
            'alert_gateway_events_total{action="trigger",outcome="rate_limited",'
            'vendor="events_api_v2"} 2.0'
        ) in metrics.splitlines()


def test_rate_limiter_slides() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow("a")
    now[0] = 10.0
    assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")  # per key
    now[0] = 59.9
    assert not limiter.allow("a")
    now[0] = 60.0  # the event at 0 left the window; the one at 10 has not
    assert limiter.allow("a")
    assert not limiter.allow("a")


@pytest.mark.slow  # a real daemon process
def test_unknown_path_is_json_404(spawn: Callable[..., Daemon]) -> None:
    daemon = spawn(CONFIG)
    r = httpx.get(daemon.base_url + "/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == 2100
    assert daemon.stop() == 0


async def test_rate_limited_nagios_answers_4xx_with_retry_later(tmp_path: Path) -> None:
    nagios_key = key("ops-nagios")
    monitoring = service("Monitoring", vendor_integration("nagios", "nagios", nagios_key))
    form = {
        "NOTIFICATIONTYPE": "PROBLEM",
        "HOSTNAME": "db01",
        "SERVICEDESC": "Disk",
        "SERVICESTATE": "CRITICAL",
        "SERVICEOUTPUT": "full",
        "CONTACTPAGER": nagios_key,
        "pd_nagios_object": "service",
        "pd_version": "1.0",
    }
    async with gateway_running(tmp_path, config(WEB, monitoring, rate_limit=3)) as gw:
        answers = [
            await gw.client.post("/nagios/2010-04-15/create_event", data=form) for _ in range(4)
        ]
        assert [r.status_code for r in answers[:3]] == [200, 200, 200]
        # pagerduty_nagios.pl deletes its queue file on a 4xx unless the body says this.
        assert 400 <= answers[3].status_code < 500
        assert "retry later" in answers[3].text
