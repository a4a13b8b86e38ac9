"""Incidents many at a time: the REST list and search, and the counts pages and metrics show.

Read-only. :data:`INCIDENT_ORDER` maps each REST ``sort_by`` field of
:data:`gateway.domain.INCIDENT_SORT_FIELDS` to its SQL; it is built from that tuple and
refuses to load when the two disagree, so a field cannot be added on one side only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from gateway.domain import INCIDENT_SORT_FIELDS, Incident
from gateway.store.base import ReadBase, marks
from gateway.store.incidents import INCIDENT_COLS, incident_row

# The SQL of each ordering; urgency sorts high above low. Open incidents (no resolved_at)
# sort before resolved ones ascending, after them descending: SQLite's rule for NULL,
# spelled out with coalesce because other databases put NULLs the other way round. The
# urgency and resolved_at expressions are indexed word for word (schema version 8): edit
# one and the index stops serving it (tests/test_page_queries.py says so).
_ORDER_SQL: Final = {
    "incident_number": "number",
    "created_at": "created_at",
    "resolved_at": "coalesce(resolved_at, '')",
    "urgency": "CASE urgency WHEN 'high' THEN 1 ELSE 0 END",
}


def order_table(fields: Iterable[str], sql: Mapping[str, str]) -> dict[str, str]:
    """``{field: SQL}`` for exactly ``fields``, in their order.

    Raises ``LookupError`` when a field has no SQL or SQL names no field: the two
    lists live in different rooms and must not drift apart.
    """
    fields = tuple(fields)
    missing = [f for f in fields if f not in sql]
    extra = [f for f in sql if f not in fields]
    if missing or extra:
        raise LookupError(
            f"incident sort fields and their SQL disagree: no SQL for {missing}, "
            f"SQL for unknown {extra}"
        )
    return {f: sql[f] for f in fields}


#: The SQL for each incident list ordering, by REST ``sort_by`` name.
INCIDENT_ORDER: Final = order_table(INCIDENT_SORT_FIELDS, _ORDER_SQL)


class IncidentListReads(ReadBase):
    """Pages of incidents, and counts by service, status and incident."""

    def incidents(
        self,
        *,
        service_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Incident]:
        """Incidents, newest first, optionally by service and status."""
        where, params = [], []
        if service_id:
            where.append("service_id = ?")
            params.append(service_id)
        if status:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.fetch_all(
            f"SELECT {INCIDENT_COLS} FROM incidents {clause} ORDER BY number DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [incident_row(r) for r in rows]

    def search_incidents(
        self,
        *,
        statuses: Sequence[str] = (),
        service_ids: Sequence[str] = (),
        urgencies: Sequence[str] = (),
        incident_key: str | None = None,
        since: str | None = None,
        until: str | None = None,
        order: Sequence[tuple[str, bool]] = (("incident_number", False),),
        limit: int = 25,
        offset: int = 0,
        count: bool = False,
    ) -> tuple[list[Incident], bool, int | None]:
        """One page of incidents matching every given filter: ``(page, more, total)``.

        ``incident_key`` also matches the ``alert_key`` of an incident's alerts
        (PagerDuty's rule); ``since`` is inclusive, ``until`` exclusive, both on
        ``created_at``. ``order`` is ``(INCIDENT_ORDER name, descending)`` pairs;
        the incident number breaks ties, in the last pair's direction, so pages never
        overlap and one index serves both directions. ``more`` comes from reading one
        row past the page; ``total`` (how many match in all) is counted only when
        ``count`` asks, since counting reads every match.
        """
        where: list[str] = []
        params: list[Any] = []
        for column, values in (
            ("status", statuses),
            ("service_id", service_ids),
            ("urgency", urgencies),
        ):
            if values:
                where.append(f"{column} IN ({marks(values)})")
                params.extend(values)
        if incident_key is not None:
            # Ids from two indexes (schema 17), not an OR with EXISTS, which no index serves:
            # it read every incident and its alerts. An incident with alerts (it has an
            # alert_grouping_key) carries its first alert's key, so alerts_key finds it;
            # incidents_key holds only those without alerts, sparing v2 ingest a write.
            where.append(
                "id IN (SELECT id FROM incidents WHERE incident_key = ? "
                "AND alert_grouping_key IS NULL "
                "UNION SELECT incident_id FROM alerts WHERE alert_key = ?)"
            )
            params.extend((incident_key, incident_key))
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        if until is not None:
            where.append("created_at < ?")
            params.append(until)
        total = None
        if count:
            # Without the number bound below: the count reads incidents_created alone, and
            # the bound (a help to the ordered walk only) had it compare every entry again.
            clause = f" WHERE {' AND '.join(where)}" if where else ""
            total = int(self._db.fetch_value(f"SELECT count(*) FROM incidents{clause}", params))
        if since is not None and order and order[0] == ("incident_number", False):
            # Redundant but decisive: no match has a number below the range's smallest.
            # Without it the default list (number ascending, last 30 days) walked every
            # older incident first: a year of them with the default retention. The unary
            # plus keeps SQLite from reading min() off the number index, which would
            # walk the same rows; incidents_created holds (created_at, number).
            where.append("number >= (SELECT min(+number) FROM incidents WHERE created_at >= ?)")
            params.append(since)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        terms = [f"{INCIDENT_ORDER[name]} {'DESC' if desc else 'ASC'}" for name, desc in order]
        last_desc = bool(order) and order[-1][1]
        terms.append(f"number {'DESC' if last_desc else 'ASC'}")
        rows = self._db.fetch_all(
            f"SELECT {INCIDENT_COLS} FROM incidents{clause} ORDER BY {', '.join(terms)} "
            "LIMIT ? OFFSET ?",
            (*params, limit + 1, offset),
        )
        return [incident_row(r) for r in rows[:limit]], len(rows) > limit, total

    def alert_counts(self, incident_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """``(triggered, resolved)`` alert counts for each of these incidents that has alerts."""
        if not incident_ids:
            return {}
        # CASE rather than summing a comparison: a boolean is not a number everywhere.
        rows = self._db.fetch_all(
            "SELECT incident_id, "
            "sum(CASE WHEN status = 'triggered' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status = 'resolved' THEN 1 ELSE 0 END) FROM alerts "
            f"WHERE incident_id IN ({marks(incident_ids)}) GROUP BY incident_id",
            tuple(incident_ids),
        )
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def open_incident_statuses(
        self, service_ids: Sequence[str] | None = None
    ) -> dict[str, set[str]]:
        """For each service with open incidents, which open statuses it has.

        One query for every service (or just those of ``service_ids``: a page of a
        list, one service's page), so a service list can show PagerDuty's
        critical/warning status without a query per row.
        """
        found: dict[str, set[str]] = {}
        for sid, status in self._open_by_service("DISTINCT service_id, status", service_ids):
            found.setdefault(sid, set()).add(status)
        return found

    def open_incident_counts(self) -> list[tuple[str, str, int]]:
        """``(service name, status, count)`` for every service with open incidents.

        Grouped by service id over the open incidents' own index first, then joined to
        the names: grouping the join by name sorted every open incident in a temporary
        B-tree (329 ms at 50,000 open). Deleted services keep their name; two that share
        one are summed.
        """
        rows = self._db.fetch_all(
            "SELECT s.name, c.status, c.n FROM (SELECT service_id, status, count(*) AS n "
            "FROM incidents WHERE status != 'resolved' GROUP BY service_id, status) c "
            "JOIN services s ON s.id = c.service_id"
        )
        summed: dict[tuple[str, str], int] = {}
        for name, status, n in rows:
            summed[(name, status)] = summed.get((name, status), 0) + int(n)
        return [(name, status, n) for (name, status), n in summed.items()]

    def open_incident_counts_by_service(
        self, service_ids: Sequence[str] | None = None
    ) -> dict[str, dict[str, int]]:
        """``{service id: {open status: count}}`` for every service with open incidents
        (or only those of ``service_ids``)."""
        found: dict[str, dict[str, int]] = {}
        for sid, status, n in self._open_by_service(
            "service_id, status, count(*)", service_ids, group=True
        ):
            found.setdefault(sid, {})[status] = int(n)
        return found

    def _open_by_service(
        self, columns: str, service_ids: Sequence[str] | None, *, group: bool = False
    ) -> list[Any]:
        """Rows over open incidents only (the partial index ``incidents_open``)."""
        sql = f"SELECT {columns} FROM incidents WHERE status != 'resolved'"
        params: tuple[str, ...] = ()
        if service_ids is not None:
            if not service_ids:
                return []
            sql += f" AND service_id IN ({marks(service_ids)})"
            params = tuple(service_ids)
        if group:
            sql += " GROUP BY service_id, status"
        return list(self._db.fetch_all(sql, params))
