"""Who is on call for which escalation policy level, over a span of time (``GET /oncalls``).

An on-call is one target's stretch at one level of one policy: a **user** target is on call
for good (``start``/``end`` ``None``, PagerDuty's "permanent" on-call); a **schedule**
target gives one on-call per shift of that schedule's final schedule overlapping
``[since, until]`` (:func:`schedule_shifts`, the one place that asks schedules). Levels
count from 1 and do not repeat for ``num_loops``, as PagerDuty lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.clock import iso
from gateway.core import schedules
from gateway.core.escalation_policies import list_policies
from gateway.core.inputs import parse_time
from gateway.errors import Invalid, NotFound
from gateway.store import Reader

__all__ = ["MAX_RANGE", "Oncall", "list_oncalls", "schedule_shifts"]

#: PagerDuty's bound: on-call shifts are computed at most 90 days ahead.
MAX_RANGE: Final = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Oncall:
    """One user on call at one level of one policy; ``schedule_id`` ``None`` for a user
    target, whose ``start``/``end`` are then ``None`` too (always on call)."""

    policy_id: str
    policy_name: str
    level: int
    user_id: str
    schedule_id: str | None
    start: str | None
    end: str | None


def schedule_shifts(
    reader: Reader, schedule_id: str, since: datetime, until: datetime
) -> list[tuple[str, datetime, datetime]]:
    """``(user_id, start, end)`` of each shift of the schedule's final schedule overlapping
    ``[since, until]``, in order (:func:`gateway.core.schedules.render_schedule`); none for
    a schedule that does not exist."""
    try:
        _, rendered = schedules.render_schedule(
            reader, schedule_id, since, max(until, since + timedelta(seconds=1))
        )
    except NotFound:
        return []
    return [(e.user_id, e.start, e.end) for e in rendered.final]


def list_oncalls(
    reader: Reader,
    *,
    since: str | None = None,
    until: str | None = None,
    policy_ids: Sequence[str] = (),
    schedule_ids: Sequence[str] = (),
    user_ids: Sequence[str] = (),
    earliest: bool = False,
) -> list[Oncall]:
    """Every on-call of ``[since, until]`` (both default to now), by policy name, level,
    start, user; ``schedule_ids`` keeps schedule on-calls of those schedules only (and user
    targets' on-calls only when no schedule is named); ``earliest`` keeps the first on-call
    of each policy, level and user."""
    now = reader.clock.now()
    start = parse_time(since, "since") if since else now
    end = parse_time(until, "until") if until else start
    if end < start:
        raise Invalid(["until must not be before since"])
    if end - start > MAX_RANGE:
        raise Invalid([f"since and until may be at most {MAX_RANGE.days} days apart"])
    wanted_policies, wanted_users = set(policy_ids), set(user_ids)
    found: list[Oncall] = []
    for policy in list_policies(reader):
        if wanted_policies and policy.id not in wanted_policies:
            continue
        for level, rule in enumerate(policy.rules, start=1):
            for target in rule.targets:
                if target.type == "user":
                    if not schedule_ids:
                        found.append(
                            Oncall(policy.id, policy.name, level, target.id, None, None, None)
                        )
                    continue
                if schedule_ids and target.id not in schedule_ids:
                    continue
                for user_id, shift_start, shift_end in schedule_shifts(
                    reader, target.id, start, end
                ):
                    found.append(
                        Oncall(
                            policy.id,
                            policy.name,
                            level,
                            user_id,
                            target.id,
                            iso(shift_start),
                            iso(shift_end),
                        )
                    )
    if wanted_users:
        found = [o for o in found if o.user_id in wanted_users]
    found.sort(
        key=lambda o: (o.policy_name.casefold(), o.policy_id, o.level, o.start or "", o.user_id)
    )
    if earliest:
        seen: set[tuple[str, int, str]] = set()
        first = []
        for oncall in found:
            key = (oncall.policy_id, oncall.level, oncall.user_id)
            if key not in seen:
                seen.add(key)
                first.append(oncall)
        found = first
    return found
