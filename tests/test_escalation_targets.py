"""Who a level reaches: round-robin turns spread incidents, a schedule target is whoever is
on call at that instant (an override too), nobody on call escalates on at once; and a
reassignment by hand (the core function the REST and UI actions call)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from gateway.clock import FakeClock
from gateway.core import assignments, incidents, schedules
from gateway.core.inputs import Agent
from gateway.errors import Invalid
from gateway.store import Tx
from gateway.testing import TestGateway
from tests.escalation_support import START, escalating, later, person, policy, recipients, trigger
from tests.smtp_support import smtp_receiver

ANN, BOB, CAT = "ann@example.com", "bob@example.com", "cat@example.com"
PEOPLE = person("Ann", ANN) + person("Bob", BOB) + person("Cat", CAT)
DAY = 86400


def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(START.replace("Z", "+00:00")))


def rota(name: str, start: str, *emails: str) -> str:
    """A schedule with one daily layer of ``emails`` starting at ``start``."""
    users = ", ".join(f'"{e}"' for e in emails)
    return (
        f'[[schedules]]\nname = "{name}"\ntime_zone = "Europe/Berlin"\n'
        f'  [[schedules.layers]]\n  start = "{start}"\n'
        f"  rotation_turn_length_seconds = {DAY}\n  users = [{users}]\n"
    )


async def assignee_names(gw: TestGateway, incident_id: str) -> list[str | None]:
    found = await gw.store.read(lambda r: r.incident_assignees([incident_id]))
    return [name for _, _, name in found.get(incident_id, [])]


async def test_round_robin_spreads_incidents_over_the_targets(tmp_path: Path) -> None:
    c = clock()
    turns = policy("On call", (10, [ANN, BOB, CAT]), strategy="round_robin")
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + turns, c) as gw:
            made = [await trigger(gw, f"inc-{n}") for n in range(4)]
            await rx.wait_for(4)
            names = [await assignee_names(gw, i.id) for i in made]
    assert names == [["Ann"], ["Bob"], ["Cat"], ["Ann"]]
    assert sorted(recipients(rx)) == sorted([ANN, BOB, CAT, ANN])


async def test_a_schedule_target_is_whoever_is_on_call_then(tmp_path: Path) -> None:
    c = clock()
    blocks = (
        PEOPLE
        + rota("Primary", "2026-03-02T10:00:00+01:00", ANN, BOB)  # = START, Ann's day first
        + policy("On call", (10, ["schedule:Primary"]))
    )
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, blocks, c, auto_resolve_timeout=0) as gw:
            first = await trigger(gw, "monday")
            await rx.wait_for(1)  # delivered before the clock jumps a day
            await later(gw, c, DAY)
            second = await trigger(gw, "tuesday")
            sched = await gw.store.read(lambda r: schedules.list_schedules(r)[0].schedule.id)
            cat = await gw.store.read(lambda r: r.user_by_email(CAT))
            assert cat is not None
            override = schedules.OverrideInput(
                start="2026-03-03T09:00:00Z", end="2026-03-03T12:00:00Z", user_id=cat.id
            )
            await gw.store.write(
                lambda tx: schedules.create_overrides(tx, sched, [override], by=Agent("cli"))
            )
            third = await trigger(gw, "tuesday-overridden")
            await rx.wait_for(3)
            names = [await assignee_names(gw, i.id) for i in (first, second, third)]
    assert names == [["Ann"], ["Bob"], ["Cat"]]
    assert recipients(rx) == [ANN, BOB, CAT]


async def test_nobody_on_call_is_logged_and_escalates_at_once(tmp_path: Path) -> None:
    c = clock()
    blocks = (
        PEOPLE
        + rota("Later", "2026-04-01T09:00:00+02:00", ANN)  # nobody on call before April
        + policy("On call", (10, ["schedule:Later"]), (10, [BOB]))
    )
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, blocks, c) as gw:
            incident = await trigger(gw, "disk")
            await rx.wait_for(1)
            entries = await gw.log_entries(incident.id)
            names = await assignee_names(gw, incident.id)
    assert recipients(rx) == [BOB] and names == ["Bob"]
    assigned = [e for e in entries if e.type == "assign_log_entry"]
    assert assigned[0].details["nobody_on_call"] == ["Later"]
    assert "nobody on call on Later" in (assigned[0].summary or "")
    assert [e.type for e in entries].count("escalate_log_entry") == 1
    assert all(e.created_at == incident.created_at for e in assigned)


async def test_reassign_to_users_or_to_a_level(tmp_path: Path) -> None:
    c = clock()
    blocks = PEOPLE + policy("On call", (10, [ANN]), (10, [BOB]))
    lead = Agent("user", "lead@example.com")
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, blocks, c) as gw:
            incident = await trigger(gw, "disk")
            cat = await gw.store.read(lambda r: r.user_by_email(CAT))
            assert cat is not None
            await rx.wait_for(1)  # each delivery lands before the fake clock jumps
            await later(gw, c, 5 * 60)
            await gw.store.write(lambda tx: assignments.reassign(tx, incident, [cat.id], lead))
            await rx.wait_for(2)
            assert await assignee_names(gw, incident.id) == ["Cat"]
            await later(gw, c, 5 * 60)  # the level's delay restarted at the reassignment
            assert await assignee_names(gw, incident.id) == ["Cat"]
            await later(gw, c, 5 * 60)
            assert await assignee_names(gw, incident.id) == ["Bob"]
            await rx.wait_for(3)
            await gw.store.write(lambda tx: assignments.reassign(tx, incident, 1, lead))
            assert await assignee_names(gw, incident.id) == ["Ann"]
            await rx.wait_for(4)
            with pytest.raises(Invalid, match="between 1 and 2"):
                await gw.store.write(lambda tx: assignments.reassign(tx, incident, 3, lead))
            with pytest.raises(Invalid, match="PNOBODY does not exist"):
                await gw.store.write(
                    lambda tx: assignments.reassign(tx, incident, ["PNOBODY"], lead)
                )
            held = await gw.store.read(lambda r: assignments.assignees_of(r, [incident.id, "PX"]))
            entries = await gw.log_entries(incident.id)
    assert [a.user.name for a in held[incident.id] if a.user] == ["Ann"] and held["PX"] == []
    assert recipients(rx) == [ANN, CAT, BOB, ANN]
    by_hand = [e for e in entries if e.agent_id == "lead@example.com"]
    assert [e.type for e in by_hand] == [
        "assign_log_entry",
        "escalate_log_entry",
        "assign_log_entry",
    ]


async def test_an_incident_resolved_in_the_job_that_opened_it_pages_nobody(
    tmp_path: Path,
) -> None:
    c = clock()
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, PEOPLE + policy("On call", (10, [ANN])), c) as gw:
            checkout = await gw.store.read(lambda r: r.service_by_name("Checkout"))
            assert checkout is not None

            def open_and_close(tx: Tx) -> str:
                made = incidents.create_incident(tx, checkout.id, "Blip", by="ops@example.com")
                incidents.resolve(tx, made.id, by="ops@example.com")
                return made.id

            gone = await gw.store.write(open_and_close)
            entries = await gw.log_entries(gone)
            emails = await gw.store.read(lambda r: r.outbox_entries(kind="email_notification"))
    assert [e.type for e in entries] == ["trigger_log_entry", "resolve_log_entry"]
    assert emails == []
