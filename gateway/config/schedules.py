"""The parser of ``[[schedules]]``: on-call schedules the file declares, with their layers.

Only shapes and types are checked here (a typo fails at start-up with its line); the
schedule rules (time zone, turn length, restrictions, users) are checked by
:mod:`gateway.core.schedules` when provisioning applies the block, with the same line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.config.reader import Reader

__all__ = ["ScheduleConfig", "schedule_configs"]

_KEYS = {"name", "description", "time_zone", "layers"}
_LAYER_KEYS = {
    "name",
    "start",
    "end",
    "rotation_virtual_start",
    "rotation_turn_length_seconds",
    "users",
    "restrictions",
}
_RESTRICTION_KEYS = {"type", "start_time_of_day", "duration_seconds", "start_day_of_week"}


@dataclass(frozen=True)
class ScheduleConfig:
    """One ``[[schedules]]`` block, matched to a schedule by ``name``.

    ``layers`` are PagerDuty layer objects (``users`` as user ids, times as datetimes) in
    order, the last winning where it has someone; the schedule rules check them.
    """

    name: str
    time_zone: str
    description: str | None
    layers: tuple[dict[str, Any], ...]
    key: str
    line: int | None


def _layer(r: Reader, item: dict[str, Any], key: str) -> dict[str, Any]:
    r.only(item, _LAYER_KEYS, f"{key}.")
    start = r.when(item, "start", f"{key}.start")
    layer: dict[str, Any] = {
        "name": r.string(item, "name", f"{key}.name"),
        "start": start,
        "rotation_virtual_start": (
            r.when(item, "rotation_virtual_start", f"{key}.rotation_virtual_start")
            if "rotation_virtual_start" in item
            else start
        ),
        "rotation_turn_length_seconds": r.integer(
            item, "rotation_turn_length_seconds", f"{key}.rotation_turn_length_seconds"
        ),
        "users": list(r.strings(item, "users", f"{key}.users")),
        "restrictions": [],
    }
    if layer["rotation_turn_length_seconds"] is None:
        raise r.error("is required", f"{key}.rotation_turn_length_seconds")
    if "end" in item:
        layer["end"] = r.when(item, "end", f"{key}.end")
    for j, restriction in enumerate(r.array(item, "restrictions", f"{key}.")):
        where = f"{key}.restrictions[{j}]"
        r.only(restriction, _RESTRICTION_KEYS, f"{where}.")
        layer["restrictions"].append(dict(restriction))
    return layer


def schedule_configs(r: Reader, data: dict[str, Any]) -> tuple[ScheduleConfig, ...]:
    """Every ``[[schedules]]`` block; names are unique in the file (they are the handle)."""
    blocks: list[ScheduleConfig] = []
    names: dict[str, str] = {}
    for i, item in enumerate(r.array(data, "schedules")):
        key = f"schedules[{i}]"
        r.only(item, _KEYS, f"{key}.")
        name = r.string(item, "name", f"{key}.name", required=True) or ""
        if name in names:
            raise r.error(f"another block has the same name {name!r}: {names[name]}", key)
        names[name] = key
        layers = [
            _layer(r, layer, f"{key}.layers[{j}]")
            for j, layer in enumerate(r.array(item, "layers", f"{key}."))
        ]
        if not layers:
            raise r.error("needs at least one [[schedules.layers]]", key)
        blocks.append(
            ScheduleConfig(
                name=name,
                time_zone=r.string(item, "time_zone", f"{key}.time_zone", required=True) or "",
                description=r.string(item, "description", f"{key}.description"),
                layers=tuple(layers),
                key=key,
                line=r.lines.get(key),
            )
        )
    return tuple(blocks)
