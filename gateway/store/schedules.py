"""The SQL of on-call schedules, their layers and overrides: rows, nothing of their rules.

The rules (what is valid, who may change what) are :mod:`gateway.core.schedules`'s; who
is on call is computed in Python (:mod:`gateway.core.oncall`) from the rows read here. A
schedule's layers are replaced as a whole on update (PagerDuty's PUT sends them all), so
there is no per-layer update.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import StoredLayer, StoredOverride, StoredSchedule
from gateway.ids import new_object_id
from gateway.store.base import ReadBase, Where, WriteBase, dumps, loads, marks

SCHEDULE_COLS = "id, name, description, time_zone, created_at, updated_at, source"
LAYER_COLS = (
    "id, schedule_id, position, name, starts_at, ends_at, rotation_virtual_start,"
    " rotation_turn_length_seconds, users, restrictions"
)
OVERRIDE_COLS = "id, schedule_id, user_id, starts_at, ends_at, created_at"
#: Columns a caller may set through :meth:`ScheduleWrites.update_schedule_row`.
WRITABLE = frozenset({"name", "description", "time_zone", "source"})


def _layer(row: tuple[Any, ...]) -> StoredLayer:
    return StoredLayer(
        id=row[0],
        schedule_id=row[1],
        position=int(row[2]),
        name=row[3],
        start=row[4],
        end=row[5],
        rotation_virtual_start=row[6],
        rotation_turn_length_seconds=int(row[7]),
        users=[str(u) for u in loads(row[8]) or []],
        restrictions=list(loads(row[9]) or []),
    )


class ScheduleReads(ReadBase):
    """Looking schedules, layers and overrides up."""

    def schedule(self, schedule_id: str) -> StoredSchedule | None:
        """One schedule, or ``None``."""
        row = self._db.fetch_one(
            f"SELECT {SCHEDULE_COLS} FROM schedules WHERE id = ?", (schedule_id,)
        )
        return StoredSchedule(*row) if row else None

    def schedules(self) -> list[StoredSchedule]:
        """Every schedule by name (a name search is the core's: schedules are few)."""
        rows = self._db.fetch_all(f"SELECT {SCHEDULE_COLS} FROM schedules ORDER BY name, id")
        return [StoredSchedule(*r) for r in rows]

    def schedules_by_name(self, name: str) -> list[StoredSchedule]:
        """The schedules called ``name``: declared ones first, then the oldest."""
        rows = self._db.fetch_all(
            f"SELECT {SCHEDULE_COLS} FROM schedules WHERE name = ?"
            " ORDER BY source = 'config' DESC, created_at, id",
            (name,),
        )
        return [StoredSchedule(*r) for r in rows]

    def schedule_layers(self, schedule_ids: Sequence[str]) -> list[StoredLayer]:
        """The layers of ``schedule_ids``, per schedule in order (first = lowest)."""
        if not schedule_ids:
            return []
        rows = self._db.fetch_all(
            f"SELECT {LAYER_COLS} FROM schedule_layers"
            f" WHERE schedule_id IN ({marks(schedule_ids)}) ORDER BY schedule_id, position",
            tuple(schedule_ids),
        )
        return [_layer(r) for r in rows]

    def schedule_overrides(
        self, schedule_id: str, *, since: str | None = None, until: str | None = None
    ) -> list[StoredOverride]:
        """Overrides of one schedule overlapping ``[since, until)``, oldest made first."""
        where = Where()
        where.add("schedule_id = ?", schedule_id)
        if since is not None:
            where.add("ends_at > ?", since)
        if until is not None:
            where.add("starts_at < ?", until)
        rows = self._db.fetch_all(
            f"SELECT {OVERRIDE_COLS} FROM schedule_overrides{where.sql()} ORDER BY created_at, id",
            tuple(where.params),
        )
        return [StoredOverride(*r) for r in rows]

    def user_override_schedule_ids(self, user_id: str, after: str) -> list[str]:
        """The schedules with an override of ``user_id`` that ends after ``after``."""
        rows = self._db.fetch_all(
            "SELECT DISTINCT schedule_id FROM schedule_overrides"
            " WHERE user_id = ? AND ends_at > ? ORDER BY schedule_id",
            (user_id, after),
        )
        return [str(r[0]) for r in rows]

    def schedule_override(self, schedule_id: str, override_id: str) -> StoredOverride | None:
        """One override of one schedule, or ``None``."""
        row = self._db.fetch_one(
            f"SELECT {OVERRIDE_COLS} FROM schedule_overrides WHERE schedule_id = ? AND id = ?",
            (schedule_id, override_id),
        )
        return StoredOverride(*row) if row else None


class ScheduleWrites(ScheduleReads, WriteBase):
    """Creating, changing and deleting schedules, layers and overrides."""

    def _fresh_id(self, table: str) -> str:
        """A six-character id not yet used in ``table`` (they may clash, rarely)."""
        while True:
            candidate = new_object_id("P", 6)
            if self._db.fetch_one(f"SELECT 1 FROM {table} WHERE id = ?", (candidate,)) is None:
                return candidate

    def insert_schedule(
        self, *, name: str, description: str | None, time_zone: str, source: str = "api"
    ) -> StoredSchedule:
        """Store a new schedule (no layers yet); returns it."""
        schedule_id = self._fresh_id("schedules")
        self._db.execute(
            f"INSERT INTO schedules ({SCHEDULE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (schedule_id, name, description, time_zone, self.now, self.now, source),
        )
        made = self.schedule(schedule_id)
        assert made is not None
        return made

    def update_schedule_row(self, schedule_id: str, **fields: Any) -> None:
        """Set columns of :data:`WRITABLE` and ``updated_at``."""
        unknown = set(fields) - WRITABLE
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        values = {**fields, "updated_at": self.now}
        sets = ", ".join(f"{name} = ?" for name in values)
        self._db.execute(
            f"UPDATE schedules SET {sets} WHERE id = ?", (*values.values(), schedule_id)
        )

    def replace_schedule_layers(self, schedule_id: str, layers: Sequence[dict[str, Any]]) -> None:
        """Make ``layers`` (dicts of :class:`StoredLayer` fields, ``id`` optional: kept when
        given) the schedule's layers, in this order."""
        self._db.execute("DELETE FROM schedule_layers WHERE schedule_id = ?", (schedule_id,))
        for position, layer in enumerate(layers):
            layer_id = layer.get("id") or self._fresh_id("schedule_layers")
            self._db.execute(
                f"INSERT INTO schedule_layers ({LAYER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    layer_id,
                    schedule_id,
                    position,
                    layer.get("name"),
                    layer["start"],
                    layer.get("end"),
                    layer["rotation_virtual_start"],
                    layer["rotation_turn_length_seconds"],
                    dumps(list(layer["users"])),
                    dumps(list(layer.get("restrictions") or [])),
                ),
            )

    def delete_schedule_row(self, schedule_id: str) -> None:
        """Delete a schedule with its layers and overrides."""
        for table in ("schedule_overrides", "schedule_layers"):
            self._db.execute(f"DELETE FROM {table} WHERE schedule_id = ?", (schedule_id,))
        self._db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))

    def insert_schedule_override(
        self, schedule_id: str, *, user_id: str, start: str, end: str
    ) -> StoredOverride:
        """Store an override; returns it."""
        override_id = self._fresh_id("schedule_overrides")
        self._db.execute(
            f"INSERT INTO schedule_overrides ({OVERRIDE_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
            (override_id, schedule_id, user_id, start, end, self.now),
        )
        made = self.schedule_override(schedule_id, override_id)
        assert made is not None
        return made

    def delete_schedule_override(self, schedule_id: str, override_id: str) -> bool:
        """Delete one override; ``False`` when the schedule has no such override."""
        return bool(
            self._db.execute(
                "DELETE FROM schedule_overrides WHERE schedule_id = ? AND id = ?",
                (schedule_id, override_id),
            )
        )

    def set_declared_schedules(self, ids: set[str]) -> None:
        """Mark exactly ``ids`` as declared by the configuration file (the rest: ``api``)."""
        self._db.execute("UPDATE schedules SET source = 'api' WHERE source = 'config'", ())
        if ids:
            ordered = sorted(ids)
            self._db.execute(
                f"UPDATE schedules SET source = 'config' WHERE id IN ({marks(ordered)})",
                tuple(ordered),
            )
