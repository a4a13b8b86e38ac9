"""Services and their integrations: reads (with the hot path's ``route``) and writes.

Deleting is soft for both (the rows stay so incidents outlive them); a deleted
integration also gives up its key and email, so routing misses at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from gateway.domain import Integration, Service, UrgencyRule
from gateway.ids import new_object_id
from gateway.store.base import ReadBase, WriteBase, dumps, loads, marks

SERVICE_COLS = (
    "id, name, description, status, alert_creation, urgency, acknowledgement_timeout, "
    "auto_resolve_timeout, alert_grouping, alert_grouping_timeout, escalation_policy_id, "
    "created_at, updated_at, last_incident_timestamp"
)
INTEGRATION_COLS = (
    "id, service_id, name, type, vendor_id, integration_key, integration_email, settings, "
    "created_at"
)
# The hot path's one lookup: integration, service and maintenance state together.
_ROUTE_SQL = (
    "SELECT "
    + ", ".join(f"i.{c.strip()}" for c in INTEGRATION_COLS.split(","))
    + ", "
    + ", ".join(f"s.{c.strip()}" for c in SERVICE_COLS.split(","))
    + ", EXISTS (SELECT 1 FROM maintenance_window_services m "
    "JOIN maintenance_windows w ON w.id = m.window_id WHERE m.service_id = s.id "
    "AND w.start_time <= ? AND w.end_time > ?) "
    "FROM integrations i JOIN services s ON s.id = i.service_id "
    "WHERE i.integration_key = ? AND i.deleted_at IS NULL AND s.deleted_at IS NULL"
)
_BY_KEY = f"SELECT {INTEGRATION_COLS} FROM integrations WHERE integration_key = ?"
_INTEGRATION_WIDTH = INTEGRATION_COLS.count(",") + 1


def key_digest(key: str) -> str:
    """How a deleted key is remembered: its SHA-256, never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()


def service_row(row: Sequence[Any]) -> Service:
    """A :class:`Service` from a row of :data:`SERVICE_COLS`."""
    return Service(
        id=row[0],
        name=row[1],
        description=row[2],
        status=row[3],
        alert_creation=row[4],
        urgency_rule=UrgencyRule(row[5]),
        acknowledgement_timeout=row[6],
        auto_resolve_timeout=row[7],
        alert_grouping=row[8],
        alert_grouping_timeout=row[9],
        escalation_policy_id=row[10],
        created_at=row[11],
        updated_at=row[12],
        last_incident_timestamp=row[13],
    )


def integration_row(row: Sequence[Any]) -> Integration:
    """An :class:`Integration` from a row of :data:`INTEGRATION_COLS` (settings decoded)."""
    return Integration(
        id=row[0],
        service_id=row[1],
        name=row[2],
        type=row[3],
        vendor_id=row[4],
        integration_key=row[5],
        integration_email=row[6],
        settings=loads(row[7]) or {},
        created_at=row[8],
    )


class ServiceReads(ReadBase):
    """Looking up services and integrations, and routing an event."""

    def service(self, service_id: str) -> Service | None:
        """A live (not deleted) service by id."""
        row = self._db.fetch_one(
            f"SELECT {SERVICE_COLS} FROM services WHERE id = ? AND deleted_at IS NULL",
            (service_id,),
        )
        return service_row(row) if row else None

    def deleted_service(self, service_id: str) -> Service | None:
        """A deleted service, as it was (what its ``service.deleted`` webhook tells)."""
        row = self._db.fetch_one(
            f"SELECT {SERVICE_COLS} FROM services WHERE id = ? AND deleted_at IS NOT NULL",
            (service_id,),
        )
        return service_row(row) if row else None

    def service_by_name(self, name: str) -> Service | None:
        """A live service by its unique name."""
        row = self._db.fetch_one(
            f"SELECT {SERVICE_COLS} FROM services WHERE name = ? AND deleted_at IS NULL",
            (name,),
        )
        return service_row(row) if row else None

    def services(self) -> list[Service]:
        """Every live service, by name."""
        rows = self._db.fetch_all(
            f"SELECT {SERVICE_COLS} FROM services WHERE deleted_at IS NULL ORDER BY name"
        )
        return [service_row(r) for r in rows]

    def service_name(self, service_id: str) -> str | None:
        """A service's name, a deleted service's last one included (references keep it)."""
        value = self._db.fetch_value("SELECT name FROM services WHERE id = ?", (service_id,))
        return str(value) if value is not None else None

    def service_names(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every live service: what a list needs to search, sort and page
        before it reads whole rows for one page of them."""
        rows = self._db.fetch_all("SELECT id, name FROM services WHERE deleted_at IS NULL")
        return [(r[0], r[1]) for r in rows]

    def services_by_ids(self, service_ids: Sequence[str]) -> list[Service]:
        """The live services among ``service_ids``, in that order."""
        if not service_ids:
            return []
        rows = self._db.fetch_all(
            f"SELECT {SERVICE_COLS} FROM services WHERE deleted_at IS NULL "
            f"AND id IN ({marks(service_ids)})",
            tuple(service_ids),
        )
        found = {r[0]: service_row(r) for r in rows}
        return [found[i] for i in service_ids if i in found]

    def integration_by_key(self, key: str) -> Integration | None:
        """The live integration that owns ``key`` (deleted ones have no key)."""
        row = self._db.fetch_one(_BY_KEY, (key,))
        return integration_row(row) if row else None

    def route(self, key: str, at: str) -> tuple[Integration, Service, bool] | None:
        """Where an event with routing key ``key`` goes, in one query (the hot path).

        Returns the live integration, its live service, and whether a maintenance
        window covers ``at``; ``None`` when no live integration owns the key.
        """
        row = self._db.fetch_one(_ROUTE_SQL, (at, at, key))
        if row is None:
            return None
        width = _INTEGRATION_WIDTH
        return integration_row(row[:width]), service_row(row[width:-1]), bool(row[-1])

    def integration_by_email(self, address: str) -> Integration | None:
        """The live integration whose ``integration_email`` is ``address`` (case-insensitive)."""
        row = self._db.fetch_one(
            f"SELECT {INTEGRATION_COLS} FROM integrations "
            "WHERE lower(integration_email) = lower(?) AND deleted_at IS NULL",
            (address,),
        )
        return integration_row(row) if row else None

    def integration(self, integration_id: str) -> Integration | None:
        """A live integration by id."""
        row = self._db.fetch_one(
            f"SELECT {INTEGRATION_COLS} FROM integrations WHERE id = ? AND deleted_at IS NULL",
            (integration_id,),
        )
        return integration_row(row) if row else None

    def integrations(self, service_id: str) -> list[Integration]:
        """A service's live integrations, oldest first."""
        rows = self._db.fetch_all(
            f"SELECT {INTEGRATION_COLS} FROM integrations "
            "WHERE service_id = ? AND deleted_at IS NULL ORDER BY created_at, id",
            (service_id,),
        )
        return [integration_row(r) for r in rows]

    def key_deleted_at(self, key: str) -> str | None:
        """When an integration holding ``key`` was deleted; ``None`` if no deleted one held it."""
        value = self._db.fetch_value(
            "SELECT deleted_at FROM deleted_integration_keys WHERE key_hash = ?",
            (key_digest(key),),
        )
        return str(value) if value is not None else None

    def declared(self, table: Literal["services", "integrations"], object_id: str) -> bool:
        """Whether the configuration file declares this service or integration."""
        source = self._db.fetch_value(f"SELECT source FROM {table} WHERE id = ?", (object_id,))
        return bool(source == "config")

    def deleted_declared_integration(self, service_id: str, name: str) -> tuple[str, str] | None:
        """``(id, deleted_at)`` of a deleted integration the file declared on a service by name."""
        row = self._db.fetch_one(
            "SELECT id, deleted_at FROM integrations WHERE service_id = ? AND name = ? "
            "AND deleted_at IS NOT NULL AND source = 'config' ORDER BY deleted_at DESC LIMIT 1",
            (service_id, name),
        )
        return (str(row[0]), str(row[1])) if row else None

    def deleted_integration(self, integration_id: str) -> Integration | None:
        """An integration that was deleted (its key and email released), by id."""
        row = self._db.fetch_one(
            f"SELECT {INTEGRATION_COLS} FROM integrations WHERE id = ? AND deleted_at IS NOT NULL",
            (integration_id,),
        )
        return integration_row(row) if row else None


class ServiceWrites(ServiceReads, WriteBase):
    """Creating, changing, moving and (softly) deleting services and integrations."""

    def insert_service(self, **fields: Any) -> Service:
        """Create a service; ``fields`` are column names (``urgency`` is the rule's value)."""
        service_id = fields.pop("id", None) or new_object_id()
        fields.setdefault("created_at", self.now)
        fields.setdefault("updated_at", self.now)
        row = (service_id, *fields.values())
        cols = ", ".join(["id", *fields])
        self._db.execute(f"INSERT INTO services ({cols}) VALUES ({marks(row)})", row)
        service = self.service(service_id)
        assert service is not None
        return service

    def update_service(self, service_id: str, **fields: Any) -> None:
        """Change some of a service's columns."""
        if not fields:
            return
        fields["updated_at"] = self.now
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._db.execute(f"UPDATE services SET {sets} WHERE id = ?", (*fields.values(), service_id))

    def insert_integration(
        self,
        *,
        service_id: str,
        name: str,
        type: str,
        vendor_id: str | None,
        integration_key: str | None,
        integration_email: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Integration:
        """Create an integration on a service."""
        integration_id = new_object_id()
        self._db.execute(
            f"INSERT INTO integrations ({INTEGRATION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                integration_id,
                service_id,
                name,
                type,
                vendor_id,
                integration_key,
                integration_email,
                dumps(settings or {}),
                self.now,
            ),
        )
        integration = self.integration(integration_id)
        assert integration is not None
        return integration

    def update_integration(self, integration_id: str, **fields: Any) -> None:
        """Change some of an integration's columns (``settings`` as a dict)."""
        if "settings" in fields:
            fields["settings"] = dumps(fields["settings"])
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._db.execute(
            f"UPDATE integrations SET {sets} WHERE id = ?", (*fields.values(), integration_id)
        )

    def delete_integration(self, integration_id: str) -> bool:
        """Soft-delete an integration for good: mark it deleted and release its key and email.

        With the key gone from the row, the routing lookup misses at once; its
        digest goes to ``deleted_integration_keys``, so no later path (a fixed key in
        the configuration file included) can bring it back. Incidents and alerts keep
        their ``integration_id``. ``False`` when no live integration has that id.
        """
        key = self._db.fetch_value(
            "SELECT integration_key FROM integrations WHERE id = ? AND deleted_at IS NULL",
            (integration_id,),
        )
        if key is not None:
            # A key deleted before the digests were kept may have been given out again
            # (by a fixed key in the file) and deleted a second time: keep the first date.
            self._db.try_insert(
                "INSERT INTO deleted_integration_keys (key_hash, integration_id, deleted_at) "
                "VALUES (?, ?, ?)",
                (key_digest(str(key)), integration_id, self.now),
                unique="deleted_integration_keys.key_hash",
            )
        changed = self._db.execute(
            "UPDATE integrations SET deleted_at = ?, integration_key = NULL, "
            "integration_email = NULL WHERE id = ? AND deleted_at IS NULL",
            (self.now, integration_id),
        )
        return changed == 1

    def delete_service(self, service_id: str) -> list[str]:
        """Soft-delete a service and every live integration on it; return those integrations' ids.

        Incidents, alerts and log entries stay as they are.
        """
        ids = [i.id for i in self.integrations(service_id)]
        for integration_id in ids:
            self.delete_integration(integration_id)
        self._db.execute(
            "UPDATE services SET deleted_at = ?, updated_at = ? "
            "WHERE id = ? AND deleted_at IS NULL",
            (self.now, self.now, service_id),
        )
        return ids

    def set_declared(
        self, table: Literal["services", "integrations"], object_ids: Iterable[str]
    ) -> None:
        """Mark exactly ``object_ids`` as declared by the file ('config'); others become 'api'."""
        self._db.execute(f"UPDATE {table} SET source = 'api' WHERE source = 'config'")
        self._db.execute_many(
            f"UPDATE {table} SET source = 'config' WHERE id = ?", ((i,) for i in object_ids)
        )

    def move_integration(self, integration_id: str, to_service_id: str) -> tuple[int, int]:
        """Move an integration, its incidents and their alerts to another service.

        Alerts follow their incident (an incident never spans two services);
        returns ``(incidents moved, alerts moved)``.
        """
        self._db.execute(
            "UPDATE integrations SET service_id = ? WHERE id = ?", (to_service_id, integration_id)
        )
        alerts = self._db.execute(
            "UPDATE alerts SET service_id = ? WHERE incident_id IN "
            "(SELECT id FROM incidents WHERE integration_id = ?)",
            (to_service_id, integration_id),
        )
        incidents = self._db.execute(
            "UPDATE incidents SET service_id = ? WHERE integration_id = ?",
            (to_service_id, integration_id),
        )
        return incidents, alerts
