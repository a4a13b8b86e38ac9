"""Schedule arithmetic: rotations, handoffs, restrictions, stacking, overrides, DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from gateway.core.oncall import (
    DAY,
    Entry,
    Layer,
    Override,
    Restriction,
    Schedule,
    final_schedule,
    layer_entries,
    next_shift,
    on_call_at,
    render,
    shift_at,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEK = 7 * DAY


def utc(*parts: int) -> datetime:
    """A UTC instant."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: ZoneInfo, *parts: int) -> datetime:
    """A wall-clock time in ``zone`` as an aware datetime."""
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


def layer(
    users: tuple[str, ...],
    origin: datetime,
    turn: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    restrictions: tuple[Restriction, ...] = (),
) -> Layer:
    """A layer whose virtual start is ``origin`` (and live from it unless told)."""
    return Layer(
        start=start or origin,
        end=end,
        rotation_virtual_start=origin,
        turn_seconds=turn,
        users=users,
        restrictions=restrictions,
    )


def daily(hh: int, mm: int, seconds: int) -> Restriction:
    """A daily restriction from ``hh:mm`` local for ``seconds``."""
    return Restriction("daily_restriction", time(hh, mm), seconds)


def weekly(day: int, hh: int, mm: int, seconds: int) -> Restriction:
    """A weekly restriction from ISO weekday ``day`` at ``hh:mm`` for ``seconds``."""
    return Restriction("weekly_restriction", time(hh, mm), seconds, day)


def shifts(entries: tuple[Entry, ...]) -> list[tuple[str, datetime, datetime]]:
    """Entries as plain tuples for comparison."""
    return [(e.user_id, e.start, e.end) for e in entries]


# --- rotations and handoffs ------------------------------------------------------------------


def test_weekly_rotation_hands_off_at_the_exact_instant() -> None:
    origin = utc(2026, 1, 5, 9)
    sched = Schedule("UTC", (layer(("a", "b", "c"), origin, WEEK),))
    handoff = origin + timedelta(seconds=WEEK)
    assert on_call_at(sched, origin) == "a"
    assert on_call_at(sched, handoff - timedelta(microseconds=1)) == "a"
    assert on_call_at(sched, handoff) == "b"
    assert on_call_at(sched, origin + timedelta(weeks=2)) == "c"
    assert on_call_at(sched, origin + timedelta(weeks=3)) == "a"  # wraps around


def test_rendered_entries_follow_the_rotation_and_clip_to_since_until() -> None:
    origin = utc(2026, 1, 1)
    sched = Schedule("UTC", (layer(("a", "b"), origin, DAY),))
    got = final_schedule(sched, utc(2026, 1, 1, 12), utc(2026, 1, 3, 6))
    assert shifts(got) == [
        ("a", utc(2026, 1, 1, 12), utc(2026, 1, 2)),
        ("b", utc(2026, 1, 2), utc(2026, 1, 3)),
        ("a", utc(2026, 1, 3), utc(2026, 1, 3, 6)),
    ]


def test_virtual_start_before_the_layer_start_keeps_the_turn_order() -> None:
    # The rotation began (virtually) two days before the layer goes live: "c" is first.
    sched = Schedule("UTC", (layer(("a", "b", "c"), utc(2026, 1, 1), DAY, start=utc(2026, 1, 3)),))
    assert on_call_at(sched, utc(2026, 1, 2, 12)) is None  # the layer is not live yet
    assert on_call_at(sched, utc(2026, 1, 3)) == "c"
    assert on_call_at(sched, utc(2026, 1, 4)) == "a"


def test_virtual_start_after_since_counts_turns_backwards() -> None:
    sched = Schedule("UTC", (layer(("a", "b", "c"), utc(2026, 1, 10), DAY, start=utc(2026, 1, 1)),))
    assert on_call_at(sched, utc(2026, 1, 9, 23)) == "c"  # turn -1
    assert on_call_at(sched, utc(2026, 1, 8, 23)) == "b"  # turn -2


def test_layer_end_is_exclusive() -> None:
    sched = Schedule("UTC", (layer(("a",), utc(2026, 1, 1), DAY, end=utc(2026, 1, 2)),))
    assert on_call_at(sched, utc(2026, 1, 2) - timedelta(microseconds=1)) == "a"
    assert on_call_at(sched, utc(2026, 1, 2)) is None


def test_a_single_user_layer_renders_one_unbroken_entry() -> None:
    sched = Schedule("UTC", (layer(("a",), utc(2026, 1, 1), 3600),))
    got = final_schedule(sched, utc(2026, 1, 1), utc(2026, 1, 8))
    assert shifts(got) == [("a", utc(2026, 1, 1), utc(2026, 1, 8))]


def test_a_virtual_start_years_back_is_cheap() -> None:
    sched = Schedule("UTC", (layer(("a", "b"), utc(2000, 1, 1), 60),))
    # 2026-01-01 is 13,676,160 minutes after 2000-01-01: an even turn.
    assert on_call_at(sched, utc(2026, 1, 1)) == "a"
    assert on_call_at(sched, utc(2026, 1, 1, 0, 1)) == "b"


# --- restrictions ----------------------------------------------------------------------------


def test_daily_restriction_is_local_wall_clock_in_winter_and_summer() -> None:
    lay = layer(("a",), utc(2026, 1, 1), WEEK, restrictions=(daily(9, 0, 8 * 3600),))
    sched = Schedule("Europe/Berlin", (lay,))
    winter = final_schedule(sched, utc(2026, 1, 14), utc(2026, 1, 15))
    assert shifts(winter) == [("a", utc(2026, 1, 14, 8), utc(2026, 1, 14, 16))]
    summer = final_schedule(sched, utc(2026, 7, 14), utc(2026, 7, 15))
    assert shifts(summer) == [("a", utc(2026, 7, 14, 7), utc(2026, 7, 14, 15))]


def test_daily_restriction_spanning_midnight() -> None:
    lay = layer(
        ("a", "b"),
        utc(2026, 1, 5),
        DAY,
        start=utc(2026, 1, 1),
        restrictions=(daily(22, 0, 10 * 3600),),
    )
    sched = Schedule("UTC", (lay,))
    # since is inside a window that opened the evening before; turns hand off at midnight,
    # so each 22:00-08:00 window is shared: the evening's turn, then the morning's.
    got = final_schedule(sched, utc(2026, 1, 4, 23), utc(2026, 1, 7))
    assert shifts(got) == [
        ("b", utc(2026, 1, 4, 23), utc(2026, 1, 5)),
        ("a", utc(2026, 1, 5), utc(2026, 1, 5, 8)),
        ("a", utc(2026, 1, 5, 22), utc(2026, 1, 6)),
        ("b", utc(2026, 1, 6), utc(2026, 1, 6, 8)),
        ("b", utc(2026, 1, 6, 22), utc(2026, 1, 7)),
    ]
    assert on_call_at(sched, utc(2026, 1, 5, 7, 59)) == "a"
    assert on_call_at(sched, utc(2026, 1, 5, 8)) is None
    assert on_call_at(sched, utc(2026, 1, 5, 21, 59)) is None
    assert on_call_at(sched, utc(2026, 1, 5, 22)) == "a"


def test_weekly_restriction_workweek() -> None:
    # Monday 09:00 for 4 days 8 hours: Monday 09:00 to Friday 17:00.
    work = weekly(1, 9, 0, 4 * DAY + 8 * 3600)
    sched = Schedule("UTC", (layer(("a",), utc(2026, 1, 1), WEEK, restrictions=(work,)),))
    got = final_schedule(sched, utc(2026, 1, 5), utc(2026, 1, 12))  # Mon 5 .. Mon 12
    assert shifts(got) == [("a", utc(2026, 1, 5, 9), utc(2026, 1, 9, 17))]
    assert on_call_at(sched, utc(2026, 1, 10, 12)) is None  # Saturday


def test_weekly_restriction_across_the_week_boundary() -> None:
    # Sunday 20:00 for 12 hours: into Monday 08:00, a window that opened in the week before.
    night = weekly(7, 20, 0, 12 * 3600)
    sched = Schedule("UTC", (layer(("a",), utc(2026, 1, 1), WEEK, restrictions=(night,)),))
    got = final_schedule(sched, utc(2026, 1, 5), utc(2026, 1, 12))  # Mon 5 .. Mon 12
    assert shifts(got) == [
        ("a", utc(2026, 1, 5), utc(2026, 1, 5, 8)),
        ("a", utc(2026, 1, 11, 20), utc(2026, 1, 12)),
    ]


def test_several_restrictions_make_one_union() -> None:
    lay = layer(
        ("a",),
        utc(2026, 1, 1),
        WEEK,
        restrictions=(daily(9, 0, 3 * 3600), daily(11, 0, 3 * 3600), daily(20, 0, 3600)),
    )
    got = final_schedule(Schedule("UTC", (lay,)), utc(2026, 1, 7), utc(2026, 1, 8))
    assert shifts(got) == [
        ("a", utc(2026, 1, 7, 9), utc(2026, 1, 7, 14)),
        ("a", utc(2026, 1, 7, 20), utc(2026, 1, 7, 21)),
    ]


def test_daily_restriction_overnight_across_new_york_spring_forward() -> None:
    # 22:00 for 10 hours ends at 08:00 local; on the night the clocks jump that is 9 hours.
    lay = layer(("a",), utc(2026, 1, 1), WEEK, restrictions=(daily(22, 0, 10 * 3600),))
    sched = Schedule("America/New_York", (lay,))
    got = final_schedule(sched, utc(2026, 3, 7, 14), utc(2026, 3, 8, 18))
    start = local(NEW_YORK, 2026, 3, 7, 22)  # EST: 03:00Z
    end = local(NEW_YORK, 2026, 3, 8, 8)  # EDT: 12:00Z
    assert shifts(got) == [("a", start.astimezone(UTC), end.astimezone(UTC))]
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=9)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (utc(2026, 3, 8, 3), utc(2026, 3, 8, 12))


def test_daily_restriction_across_berlin_fall_back() -> None:
    # 00:00 for 6 hours on the night of 25 October: 7 real hours (02:00-03:00 happens twice).
    lay = layer(("a",), utc(2026, 1, 1), WEEK, restrictions=(daily(0, 0, 6 * 3600),))
    sched = Schedule("Europe/Berlin", (lay,))
    got = final_schedule(sched, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))
    assert shifts(got) == [("a", utc(2026, 10, 24, 22), utc(2026, 10, 25, 5))]


# --- rotations across daylight saving -------------------------------------------------------


def test_daily_rotation_keeps_its_local_handoff_across_berlin_spring_forward() -> None:
    origin = local(BERLIN, 2026, 3, 26, 9)  # Thursday 09:00 CET
    sched = Schedule("Europe/Berlin", (layer(("a", "b"), origin, DAY),))
    got = final_schedule(sched, utc(2026, 3, 28, 8), utc(2026, 3, 30, 7))
    assert shifts(got) == [
        ("a", utc(2026, 3, 28, 8), utc(2026, 3, 29, 7)),  # 09:00 CET -> 09:00 CEST: 23 h
        ("b", utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)),
    ]
    assert on_call_at(sched, local(BERLIN, 2026, 3, 29, 8, 59)) == "a"
    assert on_call_at(sched, local(BERLIN, 2026, 3, 29, 9)) == "b"


def test_weekly_rotation_keeps_its_local_handoff_across_new_york_fall_back() -> None:
    origin = local(NEW_YORK, 2026, 10, 26, 9)  # Monday 09:00 EDT
    sched = Schedule("America/New_York", (layer(("a", "b"), origin, WEEK),))
    handoff = local(NEW_YORK, 2026, 11, 2, 9)  # Monday 09:00 EST, after the 1 Nov change
    assert handoff.astimezone(UTC) == utc(2026, 11, 2, 14)
    assert on_call_at(sched, handoff - timedelta(microseconds=1)) == "a"
    assert on_call_at(sched, handoff) == "b"
    first = shift_at(sched, origin + timedelta(hours=1))
    assert first is not None
    assert first.end - first.start == timedelta(days=7, hours=1)  # the week with 25 h day


def test_twelve_hour_rotation_is_exact_seconds_across_berlin_spring_forward() -> None:
    origin = local(BERLIN, 2026, 3, 28, 9)  # 08:00Z
    sched = Schedule("Europe/Berlin", (layer(("day", "night"), origin, 12 * 3600),))
    got = final_schedule(sched, utc(2026, 3, 28, 8), utc(2026, 3, 29, 20))
    assert shifts(got) == [
        ("day", utc(2026, 3, 28, 8), utc(2026, 3, 28, 20)),
        ("night", utc(2026, 3, 28, 20), utc(2026, 3, 29, 8)),  # 21:00 CET - 10:00 CEST
        ("day", utc(2026, 3, 29, 8), utc(2026, 3, 29, 20)),
    ]


def test_handoff_in_the_spring_gap_moves_past_the_jump() -> None:
    # A daily 02:30 handoff: 02:30 does not exist on 29 March in Berlin; it is 03:30 CEST.
    origin = local(BERLIN, 2026, 3, 27, 2, 30)
    sched = Schedule("Europe/Berlin", (layer(("a", "b", "c"), origin, DAY),))
    assert on_call_at(sched, utc(2026, 3, 29, 1, 29)) == "b"
    assert on_call_at(sched, utc(2026, 3, 29, 1, 30)) == "c"  # 03:30 CEST
    assert on_call_at(sched, utc(2026, 3, 30, 0, 30)) == "a"  # 02:30 CEST the next day


def test_handoff_in_the_autumn_fold_is_the_first_occurrence() -> None:
    origin = local(BERLIN, 2026, 10, 23, 2, 30)
    sched = Schedule("Europe/Berlin", (layer(("a", "b", "c"), origin, DAY),))
    assert on_call_at(sched, utc(2026, 10, 25, 0, 29)) == "b"
    assert on_call_at(sched, utc(2026, 10, 25, 0, 30)) == "c"  # 02:30 CEST, first time


# --- layers and overrides -------------------------------------------------------------------


def test_a_later_layer_wins_only_where_it_has_someone() -> None:
    base = layer(("a",), utc(2026, 1, 1), WEEK)
    office = layer(("b",), utc(2026, 1, 1), WEEK, restrictions=(daily(9, 0, 8 * 3600),))
    sched = Schedule("UTC", (base, office))
    got = final_schedule(sched, utc(2026, 1, 7), utc(2026, 1, 8))
    assert shifts(got) == [
        ("a", utc(2026, 1, 7), utc(2026, 1, 7, 9)),
        ("b", utc(2026, 1, 7, 9), utc(2026, 1, 7, 17)),
        ("a", utc(2026, 1, 7, 17), utc(2026, 1, 8)),
    ]
    # Reversed, the always-on layer covers everything.
    flipped = final_schedule(Schedule("UTC", (office, base)), utc(2026, 1, 7), utc(2026, 1, 8))
    assert shifts(flipped) == [("a", utc(2026, 1, 7), utc(2026, 1, 8))]


def test_render_gives_each_layer_its_own_entries_and_coverage() -> None:
    base = layer(("a",), utc(2026, 1, 1), WEEK, end=utc(2026, 1, 7, 12))
    office = layer(("b",), utc(2026, 1, 1), WEEK, restrictions=(daily(9, 0, 6 * 3600),))
    out = render(Schedule("UTC", (base, office)), utc(2026, 1, 7), utc(2026, 1, 8))
    assert shifts(out.layers[0]) == [("a", utc(2026, 1, 7), utc(2026, 1, 7, 12))]
    assert shifts(out.layers[1]) == [("b", utc(2026, 1, 7, 9), utc(2026, 1, 7, 15))]
    assert out.layer_coverage == (50.0, 25.0)
    assert out.final_coverage == 62.5  # 00-09 a, 09-15 b, then nobody
    assert out.overrides == () and out.overrides_coverage == 0.0


def test_an_override_wins_over_every_layer_and_is_clipped() -> None:
    base = layer(("a", "b"), utc(2026, 1, 1), DAY)
    cover = Override(utc(2026, 1, 1, 20), utc(2026, 1, 2, 4), "z")
    sched = Schedule("UTC", (base,), (cover,))
    got = final_schedule(sched, utc(2026, 1, 1, 22), utc(2026, 1, 2, 6))
    assert shifts(got) == [
        ("z", utc(2026, 1, 1, 22), utc(2026, 1, 2, 4)),
        ("b", utc(2026, 1, 2, 4), utc(2026, 1, 2, 6)),
    ]
    out = render(sched, utc(2026, 1, 1, 22), utc(2026, 1, 2, 6))
    assert shifts(out.overrides) == [("z", utc(2026, 1, 1, 22), utc(2026, 1, 2, 4))]
    assert out.overrides_coverage == 75.0


def test_an_override_fills_a_gap_and_the_later_of_two_wins() -> None:
    office = layer(("a",), utc(2026, 1, 1), WEEK, restrictions=(daily(9, 0, 8 * 3600),))
    first = Override(utc(2026, 1, 7, 18), utc(2026, 1, 7, 22), "x")
    second = Override(utc(2026, 1, 7, 20), utc(2026, 1, 7, 21), "y")
    sched = Schedule("UTC", (office,), (first, second))
    got = final_schedule(sched, utc(2026, 1, 7), utc(2026, 1, 8))
    assert shifts(got) == [
        ("a", utc(2026, 1, 7, 9), utc(2026, 1, 7, 17)),
        ("x", utc(2026, 1, 7, 18), utc(2026, 1, 7, 20)),
        ("y", utc(2026, 1, 7, 20), utc(2026, 1, 7, 21)),
        ("x", utc(2026, 1, 7, 21), utc(2026, 1, 7, 22)),
    ]
    assert on_call_at(sched, utc(2026, 1, 7, 20, 30)) == "y"
    assert on_call_at(sched, utc(2026, 1, 7, 22)) is None


def test_an_override_across_a_dst_change_picks_the_right_person() -> None:
    origin = local(NEW_YORK, 2026, 3, 2, 9)
    base = layer(("a", "b"), origin, WEEK)
    cover = Override(
        local(NEW_YORK, 2026, 3, 7, 18).astimezone(UTC),
        local(NEW_YORK, 2026, 3, 8, 18).astimezone(UTC),
        "z",
    )
    sched = Schedule("America/New_York", (base,), (cover,))
    assert on_call_at(sched, local(NEW_YORK, 2026, 3, 8, 17, 59)) == "z"  # EDT by now
    assert on_call_at(sched, local(NEW_YORK, 2026, 3, 8, 18)) == "a"
    assert on_call_at(sched, local(NEW_YORK, 2026, 3, 9, 9)) == "b"  # 13:00Z, not 14:00Z
    assert local(NEW_YORK, 2026, 3, 9, 9).astimezone(UTC) == utc(2026, 3, 9, 13)


# --- one instant, a shift, the next ---------------------------------------------------------


def test_nobody_on_call_without_layers() -> None:
    sched = Schedule("UTC")
    assert on_call_at(sched, utc(2026, 1, 1)) is None
    assert final_schedule(sched, utc(2026, 1, 1), utc(2026, 1, 2)) == ()
    assert shift_at(sched, utc(2026, 1, 1)) is None
    assert next_shift(sched, utc(2026, 1, 1)) is None


def test_shift_at_and_next_shift() -> None:
    sched = Schedule("UTC", (layer(("a", "b"), utc(2026, 1, 1), DAY),))
    now = utc(2026, 1, 1, 15)
    assert shift_at(sched, now) == Entry("a", utc(2026, 1, 1), utc(2026, 1, 2))
    assert next_shift(sched, now) == Entry("b", utc(2026, 1, 2), utc(2026, 1, 3))
    # From the end of the current shift: the one starting right then.
    assert next_shift(sched, utc(2026, 1, 2)) == Entry("b", utc(2026, 1, 2), utc(2026, 1, 3))


def test_layer_entries_with_no_users_are_empty() -> None:
    empty = layer((), utc(2026, 1, 1), DAY)
    assert layer_entries(empty, BERLIN, utc(2026, 1, 1), utc(2026, 1, 2)) == ()


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
def test_final_schedule_has_no_overlaps_or_holes_for_an_always_on_rotation(zone: str) -> None:
    origin = local(ZoneInfo(zone), 2026, 1, 1, 9)
    sched = Schedule(zone, (layer(("a", "b", "c"), origin, DAY),))
    got = final_schedule(sched, utc(2026, 1, 2), utc(2026, 12, 31))
    assert got[0].start == utc(2026, 1, 2) and got[-1].end == utc(2026, 12, 31)
    for before, after in pairwise(got):
        assert before.end == after.start and before.user_id != after.user_id
        assert after.start.astimezone(ZoneInfo(zone)).time() == time(9)
