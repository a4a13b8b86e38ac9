"""Who is on call: PagerDuty's schedule arithmetic, pure (no store, no clock, no I/O).

A schedule has a time zone, ordered layers and overrides. Each layer rotates its users in
turns of ``rotation_turn_length_seconds`` counted from ``rotation_virtual_start``, is live
from ``start`` to ``end`` (open when ``None``) and, when it has restrictions, only inside
their daily or weekly windows. Where several layers have someone, the LATER layer in the
list wins; an override wins over every layer (of two overlapping overrides the later in the
list wins). Gaps stay gaps: nobody is on call there.

Time zones and daylight saving, decided here once:

- Restrictions are wall-clock times in the schedule's zone: a 09:00 for 8 hours daily
  restriction is 09:00-17:00 local on every date, whatever the UTC offset that day. Its end is
  the start's wall clock plus ``duration_seconds`` (so 22:00 for 10 hours ends at 08:00 local
  even on the night the clocks change).
- A turn whose length is a whole number of days (daily, weekly rotations) advances in
  calendar days in the schedule's zone, so the handoff stays at the same local time across a
  DST change, as PagerDuty's schedules do (the turn that contains the change is an hour
  shorter or longer). Any other length (8 h, 12 h, 90 min) is exact elapsed seconds from
  ``rotation_virtual_start``: a wall-clock rule cannot be kept monotonic for turns shorter
  than the jump, and shift workers hand off after N real hours.
- A local time that does not exist (the spring-forward gap) is read as the same distance
  past the jump (02:30 becomes 03:30), and a local time that happens twice (the fall-back
  fold) means its first occurrence: Python's ``zoneinfo`` rules with ``fold=0``.

Every interval is half-open ``[start, end)``: at the exact handoff instant the next person
is on call. All datetimes in and out are timezone-aware; results are in UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

__all__ = [
    "DAY",
    "Entry",
    "Layer",
    "Override",
    "Rendered",
    "Restriction",
    "Schedule",
    "coverage_percentage",
    "final_schedule",
    "layer_entries",
    "next_shift",
    "on_call_at",
    "override_entries",
    "render",
    "shift_at",
    "turn_at",
]

DAY = 86400


@dataclass(frozen=True, slots=True)
class Restriction:
    """A daily or weekly window in the schedule's zone where a layer may have someone."""

    type: str  # "daily_restriction" | "weekly_restriction"
    start_time_of_day: time
    duration_seconds: int
    start_day_of_week: int | None = None  # ISO: 1 = Monday .. 7 = Sunday; weekly only


@dataclass(frozen=True, slots=True)
class Layer:
    """One rotation: ``users`` in turn order, each on for ``turn_seconds``."""

    start: datetime
    rotation_virtual_start: datetime
    turn_seconds: int
    users: tuple[str, ...]
    end: datetime | None = None
    restrictions: tuple[Restriction, ...] = ()
    id: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Override:
    """``user_id`` is on call from ``start`` to ``end``, over every layer."""

    start: datetime
    end: datetime
    user_id: str
    id: str = ""


@dataclass(frozen=True, slots=True)
class Schedule:
    """What the arithmetic needs of a schedule."""

    time_zone: str
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """``user_id`` on call over ``[start, end)`` (UTC)."""

    user_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Rendered:
    """A schedule computed for ``[since, until)``: per layer, the overrides, the result."""

    since: datetime
    until: datetime
    layers: tuple[tuple[Entry, ...], ...]
    overrides: tuple[Entry, ...]
    final: tuple[Entry, ...]
    layer_coverage: tuple[float, ...] = field(default=())
    overrides_coverage: float = 0.0
    final_coverage: float = 0.0


# --- local time ----------------------------------------------------------------------------


def _instant(naive: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a wall-clock time in ``zone`` means (fold=0: see the module doc)."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _wall(when: datetime, zone: ZoneInfo) -> datetime:
    """``when`` as a naive wall-clock time in ``zone``."""
    return when.astimezone(zone).replace(tzinfo=None)


# --- rotation ------------------------------------------------------------------------------


def _turn_start(layer: Layer, zone: ZoneInfo, k: int) -> datetime:
    """The instant turn ``k`` (0 = the one starting at rotation_virtual_start) begins."""
    # UTC first: arithmetic on a datetime carrying a ZoneInfo is wall-clock arithmetic.
    origin = layer.rotation_virtual_start.astimezone(UTC)
    if layer.turn_seconds % DAY == 0:
        days = k * (layer.turn_seconds // DAY)
        return _instant(_wall(origin, zone) + timedelta(days=days), zone)
    return origin + timedelta(seconds=k * layer.turn_seconds)


def turn_at(layer: Layer, zone: ZoneInfo, when: datetime) -> int:
    """The number of the turn in progress at ``when`` (negative before the virtual start)."""
    when = when.astimezone(UTC)
    elapsed = (when - layer.rotation_virtual_start.astimezone(UTC)).total_seconds()
    k = math.floor(elapsed / layer.turn_seconds)
    # Day-based turns drift from elapsed seconds by at most the DST offsets (< 1 day), so a
    # step or two settles the estimate.
    while _turn_start(layer, zone, k) > when:
        k -= 1
    while _turn_start(layer, zone, k + 1) <= when:
        k += 1
    return k


def _turns(
    layer: Layer, zone: ZoneInfo, since: datetime, until: datetime
) -> Iterator[tuple[str, datetime, datetime]]:
    """``(user, start, end)`` of every turn overlapping ``[since, until)``, clipped to it."""
    k = turn_at(layer, zone, since)
    count = len(layer.users)
    while True:
        start = _turn_start(layer, zone, k)
        if start >= until:
            return
        end = _turn_start(layer, zone, k + 1)
        if end > since and end > start:
            yield layer.users[k % count], max(start, since), min(end, until)
        k += 1


# --- restrictions ---------------------------------------------------------------------------


def _window_days(restriction: Restriction, first: date, last: date) -> Iterator[date]:
    """Local dates on which ``restriction`` opens a window, from ``first`` to ``last``."""
    day = first
    while day <= last:
        if restriction.type == "daily_restriction" or day.isoweekday() == (
            restriction.start_day_of_week
        ):
            yield day
        day += timedelta(days=1)


def _windows(
    restrictions: Sequence[Restriction], zone: ZoneInfo, since: datetime, until: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of the restrictions' windows over ``[since, until)``, sorted and merged."""
    spans: list[tuple[datetime, datetime]] = []
    for restriction in restrictions:
        reach = math.ceil(restriction.duration_seconds / DAY) + 7
        first = _wall(since, zone).date() - timedelta(days=reach)
        last = _wall(until, zone).date() + timedelta(days=1)
        for day in _window_days(restriction, first, last):
            opens = datetime.combine(day, restriction.start_time_of_day)
            closes = opens + timedelta(seconds=restriction.duration_seconds)
            start, end = _instant(opens, zone), _instant(closes, zone)
            if end > since and start < until and end > start:
                spans.append((max(start, since), min(end, until)))
    return _union(spans)


def _union(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching intervals merged."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# --- layers, overrides, the final schedule -------------------------------------------------


def _merge(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """Adjacent entries of the same user joined: one shift reads as one entry."""
    out: list[Entry] = []
    for entry in entries:
        if out and out[-1].user_id == entry.user_id and out[-1].end == entry.start:
            out[-1] = Entry(entry.user_id, out[-1].start, entry.end)
        else:
            out.append(entry)
    return tuple(out)


def layer_entries(
    layer: Layer, zone: ZoneInfo, since: datetime, until: datetime
) -> tuple[Entry, ...]:
    """The layer's ``rendered_schedule_entries`` for ``[since, until)``."""
    since = max(since, layer.start).astimezone(UTC)
    until = min(until, layer.end).astimezone(UTC) if layer.end else until.astimezone(UTC)
    if since >= until or not layer.users:
        return ()
    windows = _windows(layer.restrictions, zone, since, until) if layer.restrictions else None
    entries: list[Entry] = []
    for user, start, end in _turns(layer, zone, since, until):
        if windows is None:
            entries.append(Entry(user, start, end))
            continue
        for w_start, w_end in windows:
            if w_start < end and w_end > start:
                entries.append(Entry(user, max(start, w_start), min(end, w_end)))
    return _merge(entries)


def override_entries(
    overrides: Sequence[Override], since: datetime, until: datetime
) -> tuple[Entry, ...]:
    """The overrides clipped to ``[since, until)``; of two overlapping, the later wins."""
    as_entries = [(Entry(o.user_id, o.start, o.end),) for o in overrides]
    return _stack(as_entries, since, until)


def _stack(
    layers: Sequence[Sequence[Entry]], since: datetime, until: datetime
) -> tuple[Entry, ...]:
    """Entries of ``layers`` stacked, a later layer winning wherever it has someone.

    Each layer's entries are sorted and do not overlap, so one sweep over the cut points
    with a cursor per layer does it: O(cuts x layers), not cuts x entries.
    """
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    clipped: list[list[Entry]] = []
    for layer in layers:
        kept = []
        for e in layer:
            start, end = max(e.start, since).astimezone(UTC), min(e.end, until).astimezone(UTC)
            if start < end:
                kept.append(Entry(e.user_id, start, end))
        clipped.append(kept)
    cuts = sorted(
        {since, until, *(e.start for c in clipped for e in c)} | {e.end for c in clipped for e in c}
    )
    cursors = [0] * len(clipped)
    pieces: list[Entry] = []
    for start, end in pairwise(cuts):
        who: str | None = None
        for rank, entries in enumerate(clipped):
            i = cursors[rank]
            while i < len(entries) and entries[i].end <= start:
                i += 1
            cursors[rank] = i
            if i < len(entries) and entries[i].start <= start:
                who = entries[i].user_id  # later layers overwrite earlier ones
        if who is not None:
            pieces.append(Entry(who, start, end))
    return _merge(pieces)


def final_schedule(schedule: Schedule, since: datetime, until: datetime) -> tuple[Entry, ...]:
    """The ``final_schedule`` entries for ``[since, until)``: layers stacked, overrides on top."""
    return render(schedule, since, until).final


def render(schedule: Schedule, since: datetime, until: datetime) -> Rendered:
    """Everything PagerDuty renders for ``since``/``until``: per layer, overrides, final."""
    zone = ZoneInfo(schedule.time_zone)
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    per_layer = tuple(layer_entries(layer, zone, since, until) for layer in schedule.layers)
    overrides = override_entries(schedule.overrides, since, until)
    final = _stack([*per_layer, overrides], since, until)
    return Rendered(
        since=since,
        until=until,
        layers=per_layer,
        overrides=overrides,
        final=final,
        layer_coverage=tuple(coverage_percentage(e, since, until) for e in per_layer),
        overrides_coverage=coverage_percentage(overrides, since, until),
        final_coverage=coverage_percentage(final, since, until),
    )


def coverage_percentage(entries: Sequence[Entry], since: datetime, until: datetime) -> float:
    """How much of ``[since, until)`` the (non-overlapping) entries cover, in percent."""
    total = (until - since).total_seconds()
    if total <= 0:
        return 0.0
    covered = sum((e.end - e.start).total_seconds() for e in entries)
    return round(100.0 * covered / total, 2)


def on_call_at(schedule: Schedule, when: datetime) -> str | None:
    """The id of the user on call at the instant ``when``; None when nobody is."""
    when = when.astimezone(UTC)
    entries = final_schedule(schedule, when, when + timedelta(microseconds=1))
    return entries[0].user_id if entries else None


def shift_at(
    schedule: Schedule, when: datetime, horizon: timedelta = timedelta(days=35)
) -> Entry | None:
    """The final-schedule entry holding ``when`` (its whole unbroken stretch, looked for up
    to ``horizon`` either side: a longer stretch is cut there); None when nobody is on call.
    """
    when = when.astimezone(UTC)
    for entry in final_schedule(schedule, when - horizon, when + horizon):
        if entry.start <= when < entry.end:
            return entry
    return None


def next_shift(
    schedule: Schedule, after: datetime, horizon: timedelta = timedelta(days=35)
) -> Entry | None:
    """The first final-schedule entry starting at or after ``after`` (within ``horizon``):
    pass the end of the current shift to learn who is next."""
    after = after.astimezone(UTC)
    for entry in final_schedule(schedule, after - horizon, after + horizon):
        if entry.start >= after:
            return entry
    return None
