"""What the multi-node PostgreSQL tests share: node configs, a load of numbered triggers,
and reading back what the database holds.

Every trigger carries a sequence number in ``custom_details.seq``; each accepted trigger
writes a ``trigger_log_entry`` whose details hold the event, so "every event answered 2xx
is stored" is a set comparison of sequence numbers, whatever dedup did to the alert.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import trio

from tests import pgserver
from tests.scaffold import v2


def node_config(
    text: str, url: str, *, node: str, path: str, lease_seconds: int | None = None
) -> str:
    """``text`` (a config without ``[storage]``) as one node of a cluster on ``url``.

    Each node keeps its local files apart (``path``) and has its own ``node_id``: on one
    host the default (the host name) would give both the same one.
    ``lease_seconds`` shortens how long a dead node's claims on deliveries hold.
    """
    lease = "" if lease_seconds is None else f"lease_seconds = {lease_seconds}\n"
    return text + (
        f'\n[storage]\npath = "{path}"\nurl = "{url}"\n\n[outbound]\nnode_id = "{node}"\n' + lease
    )


@dataclass
class Sent:
    """What the senders sent and how each request was answered (status, or 0: no answer)."""

    answers: dict[str, int] = field(default_factory=dict)
    by_node: dict[str, list[int]] = field(default_factory=dict)
    #: (monotonic time, seq, status) of every request, in the order answered.
    timeline: list[tuple[float, str, int]] = field(default_factory=list)

    def note(self, node: str, seq: str, status: int) -> None:
        """Record one answer."""
        self.answers[seq] = status
        self.by_node.setdefault(node, []).append(status)
        self.timeline.append((time.monotonic(), seq, status))

    def acked(self) -> set[str]:
        """The sequence numbers answered 2xx."""
        return {seq for seq, status in self.answers.items() if 200 <= status < 300}


async def send_load(
    bases: Callable[[], list[tuple[str, str]]],
    routing_key: str,
    dedup_keys: list[str],
    sent: Sent,
    *,
    senders: int,
    seconds: float,
    tag: str = "s",
) -> None:
    """``senders`` concurrent clients posting v2 triggers for ``seconds``.

    ``bases()`` names the nodes a sender may use now (``(name, base_url)``); a sender
    takes them in turn. A request that gets no answer (a killed node, a timeout) counts
    as status 0, never as accepted.
    """
    deadline = trio.current_time() + seconds

    async def sender(n: int) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            i = 0
            while trio.current_time() < deadline:
                nodes = bases()
                name, base = nodes[(n + i) % len(nodes)]
                seq = f"{tag}{n}-{i}"
                body = v2(
                    routing_key,
                    dedup_key=dedup_keys[(n * 7 + i) % len(dedup_keys)],
                    custom_details={"seq": seq},
                )
                try:
                    answer = await client.post(f"{base}/v2/enqueue", json=body)
                    status = answer.status_code
                except httpx.HTTPError:
                    status = 0
                    await trio.sleep(0.02)  # a dead node refuses at once: do not spin
                sent.note(name, seq, status)
                i += 1

    async with trio.open_nursery() as nursery:
        for n in range(senders):
            nursery.start_soon(sender, n)


def stored_seqs(url: str) -> list[str]:
    """The ``seq`` of every stored trigger (one per accepted trigger; repeats are bugs)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT details FROM log_entries WHERE type = 'trigger_log_entry'"
        ).fetchall()
    seqs = []
    for (details,) in rows:
        custom = json.loads(details).get("custom_details")
        if isinstance(custom, dict) and "seq" in custom:
            seqs.append(custom["seq"])
    return seqs


def scalar(url: str, sql: str, *params: Any) -> Any:
    """The first column of a query's first row on the database at ``url``."""
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Every row of a query on the database at ``url``."""
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Poll ``check`` until it holds; False when ``timeout`` seconds passed first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


@contextmanager
def own_database() -> Iterator[tuple[str, str]]:
    """A database of its own on the test server: ``(name, url)``, dropped afterwards.

    For a test that cuts every connection to its database: a schema would share the
    session's database with every other test's connections.
    """
    import secrets

    server = pgserver.SERVER
    pgserver.session_database()  # skips (or fails under CI=true) without a server
    name = f"agw_ha_{secrets.token_hex(5)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield name, server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
