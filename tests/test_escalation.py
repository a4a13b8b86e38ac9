"""The escalation engine end to end: a real SMTP receiver on 127.0.0.1 gets each level's
email at its minute on the injected clock; acknowledge stops it, the acknowledgement
timeout starts it again, low urgency never escalates, loops end in exhaustion."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import trio

from gateway.clock import FakeClock, parse_iso
from tests.escalation_support import (
    START,
    escalating,
    person,
    policy,
    recipients,
    timeline,
    trigger,
)
from tests.smtp_support import smtp_receiver
from tests.timer_support import tick

PEOPLE = (
    person("Ann Primary", "ann@example.com", (0, "high"), (5, "high"), (0, "low"))
    + person("Bob Second", "bob@example.com")
    + person("Cat Third", "cat@example.com")
)
TWO_LEVELS = policy(
    "On call", (10, ["ann@example.com"]), (15, ["bob@example.com", "cat@example.com"])
)


def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(START.replace("Z", "+00:00")))


async def settle() -> None:
    await trio.sleep(0.3)  # the delivery queue sends what the tick committed


async def test_each_level_is_emailed_at_its_minute(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + TWO_LEVELS, c) as gw:
            incident = await trigger(gw, "disk-1", summary="Disk full")
            await rx.wait_for(1)
            assert recipients(rx) == ["ann@example.com"]  # level 1, rule at 0 min
            await tick(gw, c, 4 * 60)
            await settle()
            assert recipients(rx) == ["ann@example.com"]
            await tick(gw, c, 60)  # Ann's second rule, 5 min
            await rx.wait_for(2)
            assert recipients(rx) == ["ann@example.com"] * 2
            await tick(gw, c, 5 * 60)  # 10 min: level 2
            await rx.wait_for(4)
            assert sorted(recipients(rx)[2:]) == ["bob@example.com", "cat@example.com"]
            entries = await timeline(gw, incident.id)
            assignees = await gw.store.read(lambda r: r.incident_assignees([incident.id]))
    kinds = [e.type for e in entries]
    assert kinds.count("assign_log_entry") == 2 and kinds.count("escalate_log_entry") == 1
    escalated = next(e for e in entries if e.type == "escalate_log_entry")
    assert parse_iso(escalated.created_at) == parse_iso(START).replace() + (
        parse_iso("2026-01-01T00:10:00Z") - parse_iso("2026-01-01T00:00:00Z")
    )
    assert len(assignees[incident.id]) == 2
