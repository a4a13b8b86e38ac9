"""SIGKILL while incidents escalate: after each restart no due notification is lost and no
escalation step is duplicated in any timeline.

A real ``alert-gateway serve`` process and a real SMTP receiver (aiosmtpd on 127.0.0.1).
Escalation delays are minutes; the test makes minutes pass while the daemon is down by
moving every pending timer's due time (and lease) ten minutes earlier in the database file,
which is what the daemon would find after ten minutes of downtime. Each round starts the
daemon, lets it fire what is overdue for a random moment and SIGKILLs it — before, during
or after a firing job's commit. At the end every incident has walked its whole policy:
each level exactly once per loop, then exhaustion once, and every notification that came
due was written, queued and delivered.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import iso, parse_iso
from tests.escalation_support import person, policy, smtp
from tests.scaffold import Daemon, config, key, v2, v2_service
from tests.smtp_support import SmtpReceiver, smtp_receiver

KEY = key("esc-crash")
INCIDENTS = 30
ROUNDS = 20
ANN, BOB, CAT = "ann@example.com", "bob@example.com", "cat@example.com"
BLOCKS = (
    person("Ann", ANN, (0, "high"), (1, "high"))  # a delayed rule, due before the escalation
    + person("Bob", BOB)
    + person("Cat", CAT)
    + policy("Crash", (2, [ANN]), (1, [BOB, CAT]), loops=2)
)
#: Each incident's whole path: (entry type, level, loop).
PATH = [
    step
    for loop in range(3)
    for step in (
        *([("repeat_escalation_path_log_entry", 1, loop)] if loop else []),
        ("assign_log_entry", 1, loop),
        ("escalate_log_entry", 2, loop),
        ("assign_log_entry", 2, loop),
    )
] + [("exhaust_escalation_path_log_entry", 2, 2)]
FLOW = ("assign_log_entry", "escalate_log_entry", "repeat_escalation_path_log_entry",
        "exhaust_escalation_path_log_entry")  # fmt: skip


def _time_passes(db: Path, minutes: int = 10) -> int:
    """Ten minutes of downtime: every pending timer (and its lease) falls due earlier."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT id, due_at, lease_until FROM timers").fetchall()
        back = timedelta(minutes=minutes)
        with conn:
            conn.executemany(
                "UPDATE timers SET due_at = ?, lease_until = ? WHERE id = ?",
                [
                    (iso(parse_iso(due) - back), iso(parse_iso(lease) - back) if lease else None, i)
                    for i, due, lease in rows
                ],
            )
        return len(rows)
    finally:
        conn.close()


def _pending_escalation(daemon: Daemon) -> int:
    return int(daemon.scalar("SELECT count(*) FROM timers WHERE kind IN ('escalate', 'notify')"))


def _delivered_ids(rx: SmtpReceiver) -> set[str]:
    with rx.lock:
        raw = [m[2] for m in rx.messages]
    return {m.group(1).decode() for r in raw if (m := re.search(rb"<notification\.(\w+)@", r))}


@pytest.mark.slow
def test_sigkill_while_escalating_loses_and_duplicates_nothing(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    rng = random.Random(17)
    with smtp_receiver() as rx:
        text = config(
            v2_service(
                "Web",
                KEY,
                escalation_policy="Crash",
                acknowledgement_timeout=0,
                auto_resolve_timeout=0,
            ),
        )
        daemon = spawn(text + BLOCKS + smtp(rx.port))
        with daemon.client() as http:
            for n in range(INCIDENTS):
                answer = http.post("/v2/enqueue", json=v2(KEY, dedup_key=f"esc-{n}"))
                assert answer.status_code == 202
        kills = 0
        for _ in range(ROUNDS):
            time.sleep(rng.uniform(0.0, 0.4))
            daemon.kill()
            kills += 1
            _time_passes(daemon.db_path)
            daemon.start()
        # The rest of the path: let time pass until nothing escalates any more.
        for _ in range(12):
            if not _pending_escalation(daemon):
                break
            deadline = time.monotonic() + 10
            while (
                daemon.scalar(
                    "SELECT count(*) FROM timers WHERE due_at <= ?", iso(datetime.now(UTC))
                )
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            assert daemon.stop() == 0
            _time_passes(daemon.db_path)
            daemon.start()
        assert _pending_escalation(daemon) == 0
        # Every queued notification is delivered before the check.
        deadline = time.monotonic() + 20
        while (
            daemon.scalar(
                "SELECT count(*) FROM outbox_messages WHERE kind = 'email_notification'"
                " AND state = 'pending'"
            )
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert daemon.stop() == 0
        entries = daemon.query(
            "SELECT incident_id, type, details FROM log_entries WHERE incident_id IS NOT NULL"
            " ORDER BY id"
        )
        queued = {row[0] for row in daemon.query(
            "SELECT id FROM outbox_messages WHERE kind = 'email_notification'")}  # fmt: skip
        delivered = _delivered_ids(rx)
    assert kills == ROUNDS
    # Not timed: each start costs ~1 s of imports on an idle machine, ~5 s on a busy one.
    flows: dict[str, list[tuple[str, int, int]]] = {}
    notified: dict[str, list[str]] = {}
    message_ids: list[str] = []
    for incident_id, kind, details_text in entries:
        details = json.loads(details_text)
        if kind in FLOW:
            step = (kind, details["escalation_level"], details["escalation_loop"])
            flows.setdefault(incident_id, []).append(step)
        elif kind == "notify_log_entry":
            notified.setdefault(incident_id, []).append(details["user"]["name"])
            message_ids.append(details["message_id"])
    assert len(flows) == INCIDENTS
    for incident_id, flow in flows.items():
        assert flow == PATH, incident_id  # each level once per loop, never twice, none lost
        # Per loop: Ann at once and at her 1-minute rule, then Bob and Cat.
        assert sorted(notified[incident_id]) == sorted(["Ann", "Ann", "Bob", "Cat"] * 3)
    assert len(message_ids) == len(set(message_ids)) == len(queued) == INCIDENTS * 12
    assert set(message_ids) == queued
    assert queued <= delivered  # every notification reached the relay (at least once)
