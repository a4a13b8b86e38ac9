"""Declarative on-call schedules from the configuration, through the schedule rules.

Each ``[[schedules]]`` block is matched to a schedule by its ``name`` (one the file declared
first, then the oldest); its layers name users by email address (or id): ``[[users]]`` are
provisioned before schedules, so the file may declare both. An unmatched block creates one;
a matched one is made what the block says, layers included. As for services
(:mod:`gateway.core.provision`), the file owns what it declares (``source = 'config'``: REST
and the UI refuse to change or delete it; overrides stay open), releases what it no longer
declares, and leaves runtime schedules alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.core.inputs import Agent
from gateway.core.ownership import apply_declared
from gateway.core.schedules import ScheduleInput, create_schedule, update_schedule
from gateway.core.users import find_user
from gateway.errors import ConfigError, NotFound
from gateway.store import Tx

if TYPE_CHECKING:
    from gateway.config import ScheduleConfig

__all__ = ["provision_schedules"]


def provision_schedules(
    tx: Tx, blocks: tuple[ScheduleConfig, ...], by: Agent, problems: list[ConfigError]
) -> None:
    """Create or update every block's schedule; refusals go to ``problems``."""
    tx.set_declared_schedules(apply_declared(blocks, lambda block: _apply(tx, block, by), problems))


def _user_id(tx: Tx, ref: str) -> str:
    """A user named in the file by email address (any case) or id; an unknown one is left as
    written, for the schedule rules to refuse by name."""
    try:
        return find_user(tx, ref).id
    except NotFound:
        return ref


def _apply(tx: Tx, block: ScheduleConfig, by: Agent) -> str:
    layers: list[dict[str, Any]] = []
    for layer in block.layers:
        # The rules read PagerDuty's shape: users as references; ids of matched layers kept.
        refs = [{"user": {"id": _user_id(tx, u)}} for u in layer["users"]]
        layers.append({**layer, "users": refs})
    data = ScheduleInput(
        name=block.name, time_zone=block.time_zone, layers=layers, description=block.description
    )
    found = tx.schedules_by_name(block.name)
    if not found:
        return create_schedule(tx, data, by=by).schedule.id
    mine = found[0]
    old = tx.schedule_layers([mine.id])
    for i, layer in enumerate(layers):  # keep layer ids stable across restarts
        if i < len(old):
            layer["id"] = old[i].id
    return update_schedule(tx, mine.id, data, by=by).schedule.id
