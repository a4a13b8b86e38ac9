"""The outbox in the daemon, through a plugin's delivery kind (the example plugin's
``example_notify``): the ``register_delivery_kinds`` hook, and SIGKILL mid-delivery."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.hookspecs import hookimpl
from gateway.plugins import load_plugins
from gateway.testing import gateway_running
from tests.outbox_support import Received, receiver
from tests.scaffold import Daemon, config, key, v2, v2_service

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SRC = REPO / "examples" / "alert-gateway-example-plugin" / "src"
KEY = key("outbox-daemon")

if str(EXAMPLE_SRC) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_SRC))

import alert_gateway_example  # noqa: E402  (the example plugin, from its source folder)


async def test_a_plugin_kind_delivers_incident_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiver() as rx:
        monkeypatch.setenv("EXAMPLE_NOTIFY_URL", rx.url)
        plugins = [("example", alert_gateway_example)]
        async with gateway_running(tmp_path, config(v2_service("Web", KEY)), plugins=plugins) as gw:
            for action in ("trigger", "resolve"):
                answer = await gw.client.post("/v2/enqueue", json=v2(KEY, action, "disk"))
                assert answer.status_code == 202
            got = await rx.wait_for(2)
            assert gw.running.outbox is not None
            assert "example_notify" in gw.running.outbox.kinds
    bodies = [json.loads(r.body) for r in got]
    assert [b["action"] for b in bodies] == ["trigger", "resolve"]
    assert got[0].headers["content-type"] == "application/json"
    assert got[0].headers["x-example-message-id"] != got[1].headers["x-example-message-id"]


class _Malformed:
    @hookimpl
    def register_delivery_kinds(self) -> list[object]:
        return [object()]


class _Clashing:
    @hookimpl
    def register_delivery_kinds(self) -> list[object]:
        return [alert_gateway_example.NOTIFY]


def test_a_malformed_or_clashing_kind_stops_start_up_naming_the_plugin() -> None:
    with pytest.raises(ConfigError, match=r"'bad'.*lacks name"):
        load_plugins(extra=[("bad", _Malformed())])
    with pytest.raises(ConfigError, match="'example' and 'twin'"):
        load_plugins(extra=[("example", alert_gateway_example), ("twin", _Clashing())])


def _entry_point_env(root: Path, url: str) -> dict[str, str]:
    """Make the example plugin discoverable by a daemon subprocess: its source on the path
    and a minimal installed distribution declaring the entry point."""
    dist = root / "site" / "alert_gateway_example_plugin-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: alert-gateway-example-plugin\nVersion: 0.1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[alert_gateway.plugins]\nexample = alert_gateway_example\n"
    )
    path = os.pathsep.join([str(root / "site"), str(EXAMPLE_SRC), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path, "EXAMPLE_NOTIFY_URL": url}


def _ids(received: list[Received]) -> set[str]:
    return {r.headers["x-example-message-id"] for r in received}


@pytest.mark.slow
def test_sigkill_mid_delivery_loses_no_committed_message(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    events = 40
    # A slow receiver keeps deliveries in flight when the kill comes.
    with receiver(lambda _: (200, {}, 0.15)) as rx:
        env = _entry_point_env(tmp_path, rx.url)
        text = config(v2_service("Web", KEY)) + "\n[outbound]\nper_destination = 2\n"
        daemon = spawn(text, env=env)
        with daemon.client() as http:
            for n in range(events):
                answer = http.post("/v2/enqueue", json=v2(KEY, dedup_key=f"d{n}"))
                assert answer.status_code == 202
        assert rx.wait_sync(lambda got: len(got) >= 4, timeout=20)
        daemon.kill()
        before = len(_ids(rx.received))
        committed = {row[0] for row in daemon.query("SELECT id FROM outbox_messages")}
        in_flight = daemon.scalar(
            "SELECT count(*) FROM outbox_messages WHERE claimed_by IS NOT NULL"
        )
        assert len(committed) == events and before < events and in_flight > 0

        daemon.start(env=env)  # the same node id: its leftover claims are released at once
        delivered = rx.wait_sync(lambda got: _ids(got) >= committed, timeout=60)
        assert delivered, f"{len(_ids(rx.received))} of {events} delivered"
        # The last answers take 0.15 s to come back and be recorded.
        settled = "SELECT count(*) FROM outbox_messages WHERE state = 'delivered'"
        deadline = time.monotonic() + 10
        while daemon.scalar(settled) < events and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon.stop() == 0
    states = daemon.query("SELECT state, count(*) FROM outbox_messages GROUP BY state")
    assert states == [("delivered", events)]
    # Duplicates only ever repeat a message id; every message's body is its incident's.
    by_id: dict[str, bytes] = {}
    for request in rx.received:
        message_id = request.headers["x-example-message-id"]
        assert by_id.setdefault(message_id, request.body) == request.body
    log = daemon.log_lines()
    assert any(line.get("event") == "outbox.claims_recovered" for line in log)
