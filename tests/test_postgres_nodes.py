"""Several daemons on one PostgreSQL database: claims, caches, sign-ins, provisioning.

Real processes (the ``spawn`` fixture), real HTTP, one schema of the test server; the
daemons share the host name, as two containers of one deployment may.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import StoreTarget
from tests.outbox_support import receiver
from tests.scaffold import Daemon, config, key, v2, v2_service
from tests.test_ui_sessions import create_token, csrf_of

KEY = key("pg-nodes")
UP = "R0UT1NGKEY0000000000000000000001"

pytestmark = pytest.mark.slow  # real daemon processes


def _config(url: str, extra: str = "", *services: Any) -> str:
    chosen = services or (v2_service("Web", KEY),)
    return config(*chosen, storage=None) + f'\n[storage]\npath = "gw.db"\nurl = "{url}"\n' + extra


def _scalar(url: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def test_a_starting_node_never_releases_a_live_nodes_claims(
    postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    # The upstream holds node A's forwarded events in flight (claimed) until node B has
    # started; the request limit (60 s) outlasts the hold, so A never retries meanwhile.
    gate = threading.Event()

    def held(_: object) -> tuple[int, dict[str, str], float]:
        gate.wait(30)
        return 202, {}, 0.0

    with receiver(held) as rx:
        relay = v2_service("Web", KEY, forward_to=[{"url": rx.url, "routing_key": UP}])
        extra = "\n[outbound]\nper_destination = 2\n\n[forwarding]\ntimeout_seconds = 60\n"
        text = _config(postgres.url, extra, relay)
        a = spawn(text, name="a")
        with a.client() as http:
            for n in range(2):
                assert http.post("/v2/enqueue", json=v2(KEY, dedup_key=f"d{n}")).status_code == 202
        assert rx.wait_sync(lambda got: len(got) >= 2, timeout=20)
        held_by = _claims(postgres.url)
        spawn(text, name="b")  # same host, same (empty) node_id
        # Node B started while A's two attempts are still on the wire: they stay A's.
        assert _claims(postgres.url) == held_by, "node B released node A's live claims"
        time.sleep(1.5)  # B's deliverers have looked at the queue (poll: 1 s)
        gate.set()
        delivered = "SELECT count(*) FROM outbox_messages WHERE state = 'delivered'"
        deadline = time.monotonic() + 20
        while _scalar(postgres.url, delivered) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _scalar(postgres.url, delivered) == 2
    assert len(rx.received) == 2, "a forwarded event was sent twice"
    # Each process claims under its own id: host name, process id and a start nonce.
    assert len(held_by) == 2 and all("/" in node for _, node, _ in held_by), held_by


def _claims(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id, claimed_by, lease_until FROM outbox_messages"
            " WHERE claimed_by IS NOT NULL ORDER BY id"
        ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def test_a_sign_in_on_one_node_is_valid_on_the_other(
    postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    # Each node's own [storage] path, as on two hosts: nothing shared but the database.
    a = spawn(_config(postgres.url).replace('"gw.db"', '"a.db"'), name="a")
    b = spawn(_config(postgres.url).replace('"gw.db"', '"b.db"'), name="b")
    token = create_token(a, "observer", "ui")
    with a.client() as browser:
        page = browser.get("/ui/login")
        answer = browser.post("/ui/login", data={"token": token, "csrf_token": csrf_of(page.text)})
        assert answer.status_code == 303
        cookie = browser.cookies["alert_gateway_ui"]
    with httpx.Client(base_url=b.base_url, cookies={"alert_gateway_ui": cookie}) as other:
        assert other.get("/ui/services").status_code == 200
    # The key lives in the database, once; no file beside either node's path.
    assert not list(a.workdir.glob("*.ui-secret"))
    assert _scalar(postgres.url, "SELECT count(*) FROM shared_secrets") == 1


def test_a_key_deleted_on_one_node_is_refused_on_the_other_within_the_bound(
    postgres: StoreTarget, spawn: Callable[..., Daemon]
) -> None:
    text = _config(postgres.url)
    a, b = spawn(text, name="a"), spawn(text, name="b")
    added = a.cli("integrations", "add", "Web", "--config", str(a.config_path))
    assert added.returncode == 0, added.stdout + added.stderr
    new_key = added.stdout.split("integration key:")[1].split()[0]
    integration = _scalar(
        postgres.url, "SELECT id FROM integrations WHERE integration_key = %s", new_key
    )
    admin = create_token(a, "admin", "ops")
    url = f"{b.base_url}/integration/{new_key}/enqueue"
    with httpx.Client() as http:
        # Node B has the key cached (1 s) when node A deletes the integration.
        assert http.post(url, json=v2(None, dedup_key="warm")).status_code == 202
        service = _scalar(
            postgres.url, "SELECT service_id FROM integrations WHERE id = %s", integration
        )
        gone = http.delete(
            f"{a.base_url}/services/{service}/integrations/{integration}",
            headers={"Authorization": f"Token token={admin}"},
        )
        assert gone.status_code == 204, gone.text
        deleted_at = time.monotonic()
        answer = http.post(url, json=v2(None, dedup_key="after"))
        waited = time.monotonic() - deleted_at
    # Refused at once, as an unknown key: the commit checks the key in its transaction,
    # whatever B cached (the cache's bound, 1 s, only delays edited settings).
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"] == ["Invalid routing key"]
    assert waited < 2.0
    assert _scalar(postgres.url, "SELECT count(*) FROM alerts WHERE alert_key = 'after'") == 0


def test_two_nodes_starting_at_once_provision_one_set(
    postgres: StoreTarget, tmp_path: Path
) -> None:
    services = [v2_service(f"S{n}", key(f"pg-prov-{n}"), escalation_policy="Ops") for n in range(6)]
    people = "".join(
        f'\n[[users]]\nname = "U{n}"\nemail = "u{n}@example.com"\nrole = "responder"\n'
        for n in range(4)
    )
    policy = (
        '\n[[escalation_policies]]\nname = "Ops"\n'
        "\n  [[escalation_policies.escalation_rules]]\n  escalation_delay_in_minutes = 5\n"
        '  users = ["u0@example.com", "u1@example.com"]\n'
    )
    text = _config(postgres.url, people + policy, *services)
    daemons = [Daemon(tmp_path, text, name=name) for name in ("a", "b", "c")]
    errors: list[BaseException] = []

    def start(daemon: Daemon) -> None:
        try:
            daemon.start(timeout=60)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(d,)) for d in daemons]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert _scalar(postgres.url, "SELECT count(*) FROM services WHERE deleted_at IS NULL") == 6
        assert _scalar(postgres.url, "SELECT count(*) FROM integrations") == 6
        assert _scalar(postgres.url, "SELECT count(DISTINCT name) FROM services") == 6
        assert _scalar(postgres.url, "SELECT count(*) FROM users") == 4
        assert (
            _scalar(postgres.url, "SELECT count(*) FROM escalation_policies WHERE name = 'Ops'")
            == 1
        )
        assert _scalar(postgres.url, "SELECT count(*) FROM escalation_targets") == 2
    finally:
        for daemon in daemons:
            daemon.kill()
