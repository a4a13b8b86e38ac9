"""SQL behind named methods: :class:`Reader` for queries, :class:`Tx` adds writes.

The core calls these inside the writer's transaction; the REST layer and the CLI
call the :class:`Reader` half on read connections. No SQL lives outside
``gateway/store/``.

Each aggregate's reads and writes live in a module of their own, as a pair of mixins
(``services``, ``maintenance``, ``incidents``, ``incident_lists``, ``timeline``,
``tokens``, ``sessions``, ``outbox``, ``webhooks``, ``users``, ``schedules``, ``timers``,
``notifications``, ``escalation_policies``, ``escalations``); this module composes them
and binds them to SQLite.
Mixins rather than one object per aggregate that ``Reader`` forwards to: the callers keep
the flat method names they use today (``tx.route``, ``tx.insert_alert``…) without a forwarding call
per method on the ingest hot path, and Python's method cache makes a lookup through the
bases cost what a lookup in one class did.

Only this module knows which :class:`~gateway.store.seam.Database` a connection needs:
SQLite's for a ``sqlite3`` connection, :class:`~gateway.store.postgres.PostgresDatabase`
for a psycopg one; the mixins are the same for both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from gateway.clock import Clock
from gateway.domain import Integration, Service
from gateway.store.account_log import AccountLogReads
from gateway.store.base import WriteBase, dumps, loads
from gateway.store.escalation_policies import EscalationPolicyReads, EscalationPolicyWrites
from gateway.store.escalations import EscalationReads, EscalationWrites
from gateway.store.forwarding import ForwardingReads, ForwardingWrites
from gateway.store.incident_lists import INCIDENT_ORDER, IncidentListReads
from gateway.store.incidents import IncidentReads, IncidentWrites
from gateway.store.maintenance import MaintenanceReads, MaintenanceWrites
from gateway.store.notifications import NotificationReads, NotificationWrites
from gateway.store.outbox import OutboxReads, OutboxWrites
from gateway.store.postgres import PostgresDatabase
from gateway.store.schedules import ScheduleReads, ScheduleWrites
from gateway.store.services import ServiceReads, ServiceWrites
from gateway.store.sessions import SessionReads, SessionWrites
from gateway.store.sqlite import SqliteDatabase
from gateway.store.timeline import TimelineReads, TimelineWrites
from gateway.store.timers import TimerReads, TimerWrites
from gateway.store.tokens import TokenReads, TokenWrites
from gateway.store.users import UserReads, UserWrites
from gateway.store.webhooks import WebhookReads, WebhookWrites

__all__ = ["INCIDENT_ORDER", "TABLES", "Reader", "Tx", "dumps", "loads"]

#: The tables :meth:`Reader.count` answers for.
TABLES = frozenset(
    {
        "services",
        "integrations",
        "incidents",
        "alerts",
        "log_entries",
        "change_events",
        "maintenance_windows",
        "users",
        "contact_methods",
        "notification_rules",
    }
)


T = TypeVar("T")


class Reader(
    ServiceReads,
    MaintenanceReads,
    IncidentReads,
    IncidentListReads,
    TimelineReads,
    AccountLogReads,
    TokenReads,
    SessionReads,
    OutboxReads,
    ForwardingReads,
    WebhookReads,
    UserReads,
    ScheduleReads,
    NotificationReads,
    TimerReads,
    EscalationPolicyReads,
    EscalationReads,
):
    """Read-only queries over one connection.

    ``conn`` is the driver's connection itself (``sqlite3`` or psycopg), for tests and
    tools that need a pragma; the query methods use it only through the seam (``_db``,
    :class:`~gateway.store.seam.Database`).
    """

    def __init__(self, conn: Any, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
        self._db = (
            SqliteDatabase(conn) if isinstance(conn, sqlite3.Connection) else PostgresDatabase(conn)
        )

    def count(self, table: str) -> int:
        """Row count of one of the store's tables (for tests, checks and benchmarks)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table}")
        return int(self._db.fetch_value(f"SELECT count(*) FROM {table}"))


class PageReader(Reader):
    """A :class:`Reader` that remembers the services and integrations it looked up by id.

    For one read only (one snapshot, nothing written meanwhile): a page of 100 incidents
    names the same few services and integrations on every row, and looked each one up
    again (two or three statements per incident).
    """

    def __init__(self, reader: Reader) -> None:
        super().__init__(reader.conn, reader.clock)
        self._db = reader._db  # the same seam (and a test's recorder, if one is set)
        self._seen: dict[tuple[str, str], Any] = {}

    def prefetch_services(self, service_ids: Iterable[str]) -> None:
        """Read these services in one statement, for :meth:`service` and
        :meth:`service_name` (a deleted one is still looked up alone, when asked for)."""
        for service in self.services_by_ids(list(dict.fromkeys(service_ids))):
            self._seen[("service", service.id)] = service
            self._seen[("service_name", service.id)] = service.name

    def remember(self, integration: Integration, service: Service) -> None:
        """Answer :meth:`integration` and :meth:`service_name` for these rows without a
        statement (rows the caller read moments ago in the same transaction)."""
        self._seen[("integration", integration.id)] = integration
        self._seen[("service", service.id)] = service
        self._seen[("service_name", service.id)] = service.name

    def _once(self, kind: str, ident: str, look: Callable[[str], T]) -> T:
        key = (kind, ident)
        if key not in self._seen:
            self._seen[key] = look(ident)
        found: T = self._seen[key]
        return found

    def service(self, service_id: str) -> Service | None:
        """:meth:`Reader.service`, once per id."""
        return self._once("service", service_id, super().service)

    def deleted_service(self, service_id: str) -> Service | None:
        """:meth:`Reader.deleted_service`, once per id."""
        return self._once("deleted_service", service_id, super().deleted_service)

    def service_name(self, service_id: str) -> str | None:
        """:meth:`Reader.service_name`, once per id."""
        return self._once("service_name", service_id, super().service_name)

    def integration(self, integration_id: str) -> Integration | None:
        """:meth:`Reader.integration`, once per id."""
        return self._once("integration", integration_id, super().integration)

    def deleted_integration(self, integration_id: str) -> Integration | None:
        """:meth:`Reader.deleted_integration`, once per id."""
        return self._once("deleted_integration", integration_id, super().deleted_integration)


class Tx(
    ServiceWrites,
    MaintenanceWrites,
    IncidentWrites,
    TimelineWrites,
    TokenWrites,
    SessionWrites,
    OutboxWrites,
    ForwardingWrites,
    WebhookWrites,
    UserWrites,
    ScheduleWrites,
    NotificationWrites,
    TimerWrites,
    EscalationPolicyWrites,
    EscalationWrites,
    Reader,
    WriteBase,
):
    """Writes, inside the writer thread's transaction (one savepoint per job).

    ``changes`` collects incident changes for the after-commit hooks; the
    writer drops them if the job's savepoint is rolled back. ``memo`` is the outbox's
    per-connection scratch (the writer passes one dict to all its jobs).
    ``page_later``: set by a job on the event path while ingest is busy; the escalation
    producer then pages the job's new incidents from a timer instead of in the job.
    """

    #: The job's new incidents are paged by a timer, not in the job (ingest is busy).
    page_later: bool

    def __init__(self, conn: Any, clock: Clock, *, memo: dict[Any, Any] | None = None) -> None:
        super().__init__(conn, clock)
        self.page_later = False
        self.changes = []
        self._now = None
        self.outbox_enqueued = set()
        self.log_written = {}
        self.outbox_memo = {} if memo is None else memo
        self.timers_earliest = None
        self._routed: dict[str, tuple[Integration, Service]] = {}

    def route(self, key: str, at: str) -> tuple[Integration, Service, bool] | None:
        """:meth:`Reader.route`, remembering the integration and service for
        :meth:`routed` (the webhook producer names both in the event it renders)."""
        found = super().route(key, at)
        if found is not None:
            self._routed[found[0].id] = (found[0], found[1])
        return found

    def routed(self, integration_id: str) -> tuple[Integration, Service] | None:
        """The integration and its service as :meth:`route` found them in this job, or
        ``None``. No job writes an integration or service after routing an event by it,
        so these are the rows as they are in the transaction."""
        return self._routed.get(integration_id)
