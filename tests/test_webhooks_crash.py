"""SIGKILL while webhooks are in flight: after a restart every committed webhook is delivered
at least once, every one verifies, and a duplicate repeats its ``X-Webhook-Id`` and body."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.scaffold import Daemon, config, key, v2, v2_service
from tests.webhook_support import Verifier, pd_receiver, verified

KEY = key("webhook-crash")
SECRET = "crash-secret-0123456789abcdef"


@pytest.mark.slow
def test_sigkill_mid_delivery_loses_no_webhook(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    incidents = 30
    verifier = Verifier(secrets=[SECRET])

    def slow(_: object) -> tuple[int, dict[str, str]]:
        time.sleep(0.15)  # keeps deliveries in flight when the kill comes
        return 200, {}

    verifier.status = slow
    with pd_receiver(verifier) as rx:
        text = config(v2_service("Web", KEY)) + (
            "\n[outbound]\nper_destination = 2\n"
            "\n[[webhook_subscriptions]]\n"
            'name = "crash"\n'
            f'url = "{rx.url}"\n'
            'events = ["incident.triggered"]\n'
            f'secret = "{SECRET}"\n'
        )
        daemon = spawn(text)
        with daemon.client() as http:
            for n in range(incidents):
                answer = http.post("/v2/enqueue", json=v2(KEY, dedup_key=f"crash-{n}"))
                assert answer.status_code == 202
        assert rx.wait_sync(lambda got: len(got) >= 4, timeout=20)
        daemon.kill()
        committed = {row[0] for row in daemon.query("SELECT id FROM outbox_messages")}
        in_flight = daemon.scalar(
            "SELECT count(*) FROM outbox_messages WHERE claimed_by IS NOT NULL"
        )
        assert len(committed) == incidents and in_flight > 0

        daemon.start()
        delivered = rx.wait_sync(
            lambda got: {r.headers["x-webhook-id"] for r in got} >= committed, timeout=60
        )
        assert delivered, f"{rx.count()} requests for {incidents} webhooks"
        settled = "SELECT count(*) FROM outbox_messages WHERE state = 'delivered'"
        deadline = time.monotonic() + 10
        while daemon.scalar(settled) < incidents and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon.stop() == 0
    assert verifier.refused == []
    assert all(verified(r, [SECRET]) for r in rx.received)
    by_id: dict[str, bytes] = {}
    for request in rx.received:
        assert by_id.setdefault(request.headers["x-webhook-id"], request.body) == request.body
    keys = {json.loads(body)["event"]["data"]["incident_key"] for body in by_id.values()}
    assert keys == {f"crash-{n}" for n in range(incidents)}
    states = daemon.query("SELECT state, count(*) FROM outbox_messages GROUP BY state")
    assert states == [("delivered", incidents)]
