"""A schedule target across a daylight-saving change, end to end.

A service's policy targets an America/New_York schedule whose daily turns hand off at 09:00
local time. Incidents are triggered (Events API v2, injected clock) just before and just
after the night the clocks change, and just before and after the first handoff after it:
each is assigned to whoever is on call then and that person gets the email (a real SMTP
receiver on 127.0.0.1). The handoff after the change is at 09:00 local, one hour earlier
(spring) or later (autumn) in UTC than the day before: a 24-hour turn counted in UTC would
page the wrong person in that hour.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from gateway.clock import FakeClock, parse_iso
from gateway.testing import TestGateway
from tests.escalation_support import escalating, later, person, policy, recipients, trigger
from tests.smtp_support import smtp_receiver

ANN, BOB = "ann@example.com", "bob@example.com"
PEOPLE = person("Ann", ANN) + person("Bob", BOB)


def rota(start: str) -> str:
    """A New York schedule: daily turns from ``start`` (09:00 local), Ann first, then Bob."""
    return (
        '[[schedules]]\nname = "New York"\ntime_zone = "America/New_York"\n'
        f'  [[schedules.layers]]\n  start = "{start}"\n'
        f'  rotation_turn_length_seconds = 86400\n  users = ["{ANN}", "{BOB}"]\n'
    )


async def assignee(gw: TestGateway, incident_id: str) -> list[str | None]:
    found = await gw.store.read(lambda r: r.incident_assignees([incident_id]))
    return [name for _, _, name in found.get(incident_id, [])]


CASES = {
    # 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); Bob's turn starts 09:00 EDT = 13:00Z, not
    # 14:00Z as on the 7th.
    "spring": (
        "2026-03-07T09:00:00-05:00",
        [
            ("2026-03-08T06:30:00Z", "Ann"),  # 01:30 EST, before the change
            ("2026-03-08T07:30:00Z", "Ann"),  # 03:30 EDT, after it
            ("2026-03-08T12:30:00Z", "Ann"),  # 08:30 EDT
            ("2026-03-08T13:30:00Z", "Bob"),  # 09:30 EDT (10 min after 13:00Z: still Ann in UTC)
        ],
    ),
    # 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z); Bob's turn starts 09:00 EST = 14:00Z, not
    # 13:00Z as on the 31st.
    "autumn": (
        "2026-10-31T09:00:00-04:00",
        [
            ("2026-11-01T05:30:00Z", "Ann"),  # 01:30 EDT, before the change
            ("2026-11-01T06:30:00Z", "Ann"),  # 01:30 EST, after it (the hour happens twice)
            ("2026-11-01T13:30:00Z", "Ann"),  # 08:30 EST (a UTC day would say Bob)
            ("2026-11-01T14:30:00Z", "Bob"),  # 09:30 EST
        ],
    ),
}


@pytest.mark.parametrize("season", sorted(CASES))
async def test_the_schedules_person_is_paged_across_a_dst_change(
    tmp_path: Path, season: str
) -> None:
    start, moments = CASES[season]
    c = FakeClock(parse_iso(moments[0][0]))
    blocks = PEOPLE + rota(start) + policy("On call", (10, ["schedule:New York"]))
    names: list[list[str | None]] = []
    with smtp_receiver() as rx:
        async with escalating(tmp_path, rx, blocks, c, auto_resolve_timeout=0) as gw:
            for n, (at, _) in enumerate(moments):
                await later(gw, c, (parse_iso(at) - c.now()).total_seconds())
                assert c.now() == datetime.fromisoformat(at.replace("Z", "+00:00"))
                incident = await trigger(gw, f"{season}-{n}", summary=f"at {at}")
                await rx.wait_for(n + 1)
                names.append(await assignee(gw, incident.id))
            mails = rx.emails()
    expected = [who for _, who in moments]
    assert names == [[who] for who in expected]
    address = {"Ann": ANN, "Bob": BOB}
    assert recipients(rx) == [address[who] for who in expected]
    assert [f"at {at}" in str(m["Subject"]) for m, (at, _) in zip(mails, moments, strict=True)] == [
        True
    ] * len(moments)
