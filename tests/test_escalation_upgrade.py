"""Incidents open at the upgrade follow their policy at the next start, once.

A gateway from before this fix left incidents that were open when escalation arrived
without assignees. Here a real daemon opens incidents on the Default policy (no levels:
nobody assigned, as then), the database is put back to the schema version before the
migration that lists them, and the daemon starts again with a policy that has a level:
the triggered incident is assigned to level 1 and emailed (real SMTP receiver), the
acknowledged one assigned and not notified, the resolved one left alone; a third start
changes nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import trio

from gateway.clock import FakeClock
from gateway.store import Tx
from gateway.store.migrations import MIGRATIONS
from gateway.testing import TestGateway
from tests.escalation_support import (
    KEY,
    START,
    escalating,
    person,
    policy,
    recipients,
    timeline,
    trigger,
)
from tests.scaffold import v2
from tests.smtp_support import SmtpReceiver, smtp_receiver
from tests.timer_support import pending

ANN = "ann@example.com"
PEOPLE = person("Ann Primary", ANN)
ON_CALL = policy("On call", (10, [ANN]))


#: The schema version the migration under test brought (later ones are undone first).
UPGRADE = next(n for n, sql in enumerate(MIGRATIONS, 1) if "TABLE escalation_backfill" in sql)
#: The tables later migrations made: each only creates tables, so dropping them undoes it.
LATER_TABLES = [
    name for sql in MIGRATIONS[UPGRADE:] for name in re.findall(r"CREATE TABLE (\w+)", sql)
]


def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(START.replace("Z", "+00:00")))


async def as_before_the_fix(gw: TestGateway) -> None:
    """Undo the migration under test: the database as the previous version left it."""

    def undo(tx: Tx) -> None:
        db: Any = tx._db
        for table in LATER_TABLES:
            db.execute(f"DROP TABLE {table}")
        db.execute("DROP TABLE escalation_backfill")
        db.execute("ALTER TABLE notification_rules DROP COLUMN type")
        if gw.store.backend.name == "sqlite":
            db.execute(f"PRAGMA user_version = {UPGRADE - 1}")
        else:
            db.execute("UPDATE schema_version SET version = ?", (UPGRADE - 1,))

    await gw.store.write(undo)


async def assign_entries(gw: TestGateway, incident_id: str) -> list[str]:
    return [
        e.type for e in await timeline(gw, incident_id) if e.type.startswith(("assign", "notify"))
    ]


async def quiet(rx: SmtpReceiver, count: int) -> None:
    await trio.sleep(0.4)
    assert len(recipients(rx)) == count, recipients(rx)


async def test_open_incidents_are_assigned_once_after_the_upgrade(tmp_path: Path) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE, c, policy_name="Default") as gw:
            open_ = await trigger(gw, "open", summary="Still burning")
            acked = await trigger(gw, "acked")
            done = await trigger(gw, "done")
            for action, dedup in (("acknowledge", "acked"), ("resolve", "done")):
                answer = await gw.client.post("/v2/enqueue", json=v2(KEY, action, dedup))
                assert answer.status_code == 202
            await trio.sleep(0.1)
            held = await gw.store.read(
                lambda r: r.incident_assignees([open_.id, acked.id, done.id])
            )
            assert held == {}  # the Default policy has no levels: nobody, as before the fix
            await as_before_the_fix(gw)
        await quiet(rx, 0)
        async with escalating(tmp_path, rx, PEOPLE + ON_CALL, c) as gw:
            await rx.wait_for(1)
            first = {i: await assign_entries(gw, i) for i in (open_.id, acked.id, done.id)}
            holders = await gw.store.read(
                lambda r: r.incident_assignees([open_.id, acked.id, done.id])
            )
            timers = await pending(gw, open_.id)
            acked_timers = await pending(gw, acked.id)
            left = await gw.store.read(lambda r: r.escalation_backfill(10))
        async with escalating(tmp_path, rx, PEOPLE + ON_CALL, c) as gw:  # restarted
            await quiet(rx, 1)
            second = {i: await assign_entries(gw, i) for i in (open_.id, acked.id, done.id)}
    assert recipients(rx) == [ANN]
    assert first == {
        open_.id: ["assign_log_entry", "notify_log_entry"],
        acked.id: ["assign_log_entry"],  # assigned, not notified
        done.id: [],
    }
    assert {i: [name for _, _, name in rows] for i, rows in holders.items()} == {
        open_.id: ["Ann Primary"],
        acked.id: ["Ann Primary"],
    }
    assert ("escalate", "2026-03-02T09:10:00.000Z") in timers  # its delay counts from the start
    assert not {k for k, _ in acked_timers} & {"escalate", "notify"}
    assert left == []
    assert second == first
