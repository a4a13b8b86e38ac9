"""A gateway with people, a policy and an SMTP relay, for the escalation engine's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from gateway.clock import FakeClock
from gateway.domain import Incident, LogEntry
from gateway.testing import TestGateway, gateway_running
from tests.scaffold import config, key, v2, v2_service
from tests.smtp_support import SmtpReceiver
from tests.timer_support import tick

KEY = key("escalation")
START = "2026-03-02T09:00:00Z"


def person(name: str, email: str, *rules: tuple[int, str]) -> str:
    """A ``[[users]]`` block with one email contact method and ``(delay, urgency)`` rules."""
    lines = [
        "[[users]]",
        f'name = "{name}"',
        f'email = "{email}"',
        "  [[users.contact_methods]]",
        '  label = "Work"',
        f'  address = "{email}"',
    ]
    for delay, urgency in rules or ((0, "high"), (0, "low")):
        lines += [
            "  [[users.notification_rules]]",
            '  contact_method = "Work"',
            f"  start_delay_in_minutes = {delay}",
            f'  urgency = "{urgency}"',
        ]
    return "\n".join(lines) + "\n"


def policy(name: str, *levels: tuple[int, list[str]], loops: int = 0, strategy: str = "") -> str:
    """An ``[[escalation_policies]]`` block; a level is ``(delay, [user emails or
    "schedule:Name"])``."""
    lines = ["[[escalation_policies]]", f'name = "{name}"', f"num_loops = {loops}"]
    for delay, targets in levels:
        users = [t for t in targets if not t.startswith("schedule:")]
        scheds = [t.removeprefix("schedule:") for t in targets if t.startswith("schedule:")]
        lines += [
            "  [[escalation_policies.escalation_rules]]",
            f"  escalation_delay_in_minutes = {delay}",
        ]
        if strategy:
            lines.append(f'  escalation_rule_assignment_strategy = "{strategy}"')
        if users:
            lines.append("  users = [" + ", ".join(f'"{u}"' for u in users) + "]")
        if scheds:
            lines.append("  schedules = [" + ", ".join(f'"{s}"' for s in scheds) + "]")
    return "\n".join(lines) + "\n"


def smtp(port: int) -> str:
    """The ``[notifications.smtp]`` table for a receiver on ``port``."""
    return (
        '[notifications.smtp]\nhost = "127.0.0.1"\n'
        f'port = {port}\nfrom = "pager@gw.example.com"\ntimeout = 5\n'
    )


@asynccontextmanager
async def escalating(
    tmp_path: Path,
    rx: SmtpReceiver,
    blocks: str,
    clock: FakeClock,
    *,
    policy_name: str = "On call",
    **service: object,
) -> AsyncIterator[TestGateway]:
    """A gateway whose service ``Checkout`` (v2 key :data:`KEY`) follows ``policy_name``."""
    text = config(
        v2_service("Checkout", KEY, escalation_policy=policy_name, **service),
        server={"public_url": "https://gw.example.com"},
    )
    async with gateway_running(tmp_path, text + blocks + smtp(rx.port), clock=clock) as gw:
        yield gw


async def trigger(gw: TestGateway, dedup: str, **payload: object) -> Incident:
    """Open an incident through the Events API v2; return it."""
    answer = await gw.client.post("/v2/enqueue", json=v2(KEY, "trigger", dedup, **payload))
    assert answer.status_code == 202, answer.text
    found = [i for i in await gw.incidents() if i.incident_key == dedup]
    assert found, dedup
    return found[0]


async def timeline(gw: TestGateway, incident_id: str) -> list[LogEntry]:
    """The incident's log entries, oldest first."""
    return await gw.log_entries(incident_id)


def recipients(rx: SmtpReceiver) -> list[str]:
    """Who got mail, in order."""
    with rx.lock:
        return [to for _, tos, _ in rx.messages for to in tos]


async def drained(gw: TestGateway) -> None:
    """Wait until no notification is waiting for delivery: the fake clock may then jump
    without a delivery in flight outliving its lease."""
    with trio.fail_after(10):
        while await gw.store.read(
            lambda r: r.outbox_entries(kind="email_notification", states=["pending"])
        ):
            await trio.sleep(0.01)


async def later(gw: TestGateway, clock: FakeClock, seconds: float) -> None:
    """Let the deliveries finish, then move the clock and fire what fell due."""
    await drained(gw)
    await tick(gw, clock, seconds)
