"""Maintenance windows and the services they cover: reads and writes.

A window's services live in ``maintenance_window_services``; windows from the
configuration file (``source = 'config'``) are replaced as a set on every start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gateway.domain import MaintenanceWindow
from gateway.ids import new_object_id
from gateway.store.base import ReadBase, WriteBase

WINDOW_COLS = (
    "id, sequence_number, description, start_time, end_time, created_at, source, created_by"
)
_LINK_SQL = "INSERT INTO maintenance_window_services (window_id, service_id) VALUES (?, ?)"


class MaintenanceReads(ReadBase):
    """Which windows exist, and which services are in maintenance at a moment."""

    def services_in_maintenance(self, at: str) -> set[str]:
        """Ids of the services that a maintenance window covering ``at`` includes."""
        rows = self._db.fetch_all(
            "SELECT DISTINCT s.service_id FROM maintenance_window_services s "
            "JOIN maintenance_windows w ON w.id = s.window_id "
            "WHERE w.start_time <= ? AND w.end_time > ?",
            (at, at),
        )
        return {r[0] for r in rows}

    def in_maintenance(self, service_id: str, at: str) -> bool:
        """Whether a maintenance window covering ``at`` includes the service."""
        row = self._db.fetch_one(
            "SELECT 1 FROM maintenance_window_services s "
            "JOIN maintenance_windows w ON w.id = s.window_id "
            "WHERE s.service_id = ? AND w.start_time <= ? AND w.end_time > ? LIMIT 1",
            (service_id, at, at),
        )
        return row is not None

    def maintenance_windows(self, *, source: str | None = None) -> list[MaintenanceWindow]:
        """Every maintenance window (optionally only those from ``source``), by start time."""
        sql = f"SELECT {WINDOW_COLS} FROM maintenance_windows"
        params: tuple[Any, ...] = ()
        if source:
            sql += " WHERE source = ?"
            params = (source,)
        rows = self._db.fetch_all(sql + " ORDER BY start_time, sequence_number", params)
        return [self._window(row) for row in rows]

    def maintenance_window(self, window_id: str) -> MaintenanceWindow | None:
        """One maintenance window by id."""
        row = self._db.fetch_one(
            f"SELECT {WINDOW_COLS} FROM maintenance_windows WHERE id = ?", (window_id,)
        )
        return self._window(row) if row else None

    def _window(self, row: Sequence[Any]) -> MaintenanceWindow:
        services = tuple(
            r[0]
            for r in self._db.fetch_all(
                "SELECT service_id FROM maintenance_window_services WHERE window_id = ? "
                "ORDER BY service_id",
                (row[0],),
            )
        )
        return MaintenanceWindow(
            id=row[0],
            sequence_number=row[1],
            description=row[2],
            start_time=row[3],
            end_time=row[4],
            service_ids=services,
            created_at=row[5],
            source=row[6],
            created_by=row[7],
        )


class MaintenanceWrites(MaintenanceReads, WriteBase):
    """Creating, changing and removing windows, and replacing the configuration's."""

    def replace_config_windows(
        self, windows: Iterable[tuple[str | None, str, str, list[str]]]
    ) -> None:
        """Replace every maintenance window that came from the configuration file."""
        self._db.execute("DELETE FROM maintenance_windows WHERE source = 'config'")
        for description, start, end, service_ids in windows:
            self.insert_maintenance_window(description, start, end, service_ids, source="config")

    def insert_maintenance_window(
        self,
        description: str | None,
        start: str,
        end: str,
        service_ids: Iterable[str],
        *,
        source: str = "api",
        created_by: str | None = None,
    ) -> str:
        """Create a maintenance window over some services; return its id."""
        window_id = new_object_id()
        # max() + 1 is safe: the job holds the write lock until it commits (see seam.py).
        seq = self._db.fetch_value(
            "SELECT coalesce(max(sequence_number), 0) + 1 FROM maintenance_windows"
        )
        self._db.execute(
            "INSERT INTO maintenance_windows (id, sequence_number, description, start_time, "
            "end_time, created_at, source, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (window_id, seq, description, start, end, self.now, source, created_by),
        )
        self._db.execute_many(_LINK_SQL, [(window_id, s) for s in service_ids])
        return window_id

    def update_maintenance_window(
        self, window_id: str, *, service_ids: Iterable[str] | None = None, **fields: Any
    ) -> None:
        """Change a window's ``description``/``start_time``/``end_time`` and/or its services."""
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            self._db.execute(
                f"UPDATE maintenance_windows SET {sets} WHERE id = ?",
                (*fields.values(), window_id),
            )
        if service_ids is not None:
            self._db.execute(
                "DELETE FROM maintenance_window_services WHERE window_id = ?", (window_id,)
            )
            self._db.execute_many(_LINK_SQL, [(window_id, s) for s in dict.fromkeys(service_ids)])

    def delete_maintenance_window(self, window_id: str) -> bool:
        """Remove a window and its service links; ``False`` when there was none."""
        return self._db.execute("DELETE FROM maintenance_windows WHERE id = ?", (window_id,)) == 1
