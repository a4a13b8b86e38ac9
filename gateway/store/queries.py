"""SQL behind named methods: :class:`Reader` for queries, :class:`Tx` adds writes.

The core calls these inside the writer's transaction; the REST layer and the CLI
call the :class:`Reader` half on read connections. No SQL lives outside
``gateway/store/``.

Each aggregate's reads and writes live in a module of their own, as a pair of mixins
(``services``, ``maintenance``, ``incidents``, ``incident_lists``, ``timeline``,
``tokens``, ``sessions``, ``outbox``, ``webhooks``, ``users``, ``schedules``, ``timers``,
``notifications``, ``escalation_policies``); this module composes them and binds them to
SQLite.
Mixins rather than one object per aggregate that ``Reader`` forwards to: the callers keep
the flat method names they use today (``tx.route``, ``tx.insert_alert``…) without a forwarding call
per method on the ingest hot path, and Python's method cache makes a lookup through the
bases cost what a lookup in one class did.

Only this module (through ``__init__``) knows the seam is SQLite: a second backend
reuses the mixins and sets ``_db`` to its own :class:`~gateway.store.seam.Database`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from gateway.clock import Clock
from gateway.store.account_log import AccountLogReads
from gateway.store.base import WriteBase, dumps, loads
from gateway.store.escalation_policies import EscalationPolicyReads, EscalationPolicyWrites
from gateway.store.forwarding import ForwardingReads, ForwardingWrites
from gateway.store.incident_lists import INCIDENT_ORDER, IncidentListReads
from gateway.store.incidents import IncidentReads, IncidentWrites
from gateway.store.maintenance import MaintenanceReads, MaintenanceWrites
from gateway.store.notifications import NotificationReads, NotificationWrites
from gateway.store.outbox import OutboxReads, OutboxWrites
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
):
    """Read-only queries over one connection.

    ``conn`` is the SQLite connection itself, for tests and tools that need a pragma;
    the query methods use it only through the seam (``_db``,
    :class:`~gateway.store.seam.Database`).
    """

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
        self._db = SqliteDatabase(conn)

    def count(self, table: str) -> int:
        """Row count of one of the store's tables (for tests, checks and benchmarks)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table}")
        return int(self._db.fetch_value(f"SELECT count(*) FROM {table}"))


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
    Reader,
    WriteBase,
):
    """Writes, inside the writer thread's transaction (one savepoint per job).

    ``changes`` collects incident changes for the after-commit hooks; the
    writer drops them if the job's savepoint is rolled back. ``memo`` is the outbox's
    per-connection scratch (the writer passes one dict to all its jobs).
    """

    def __init__(
        self, conn: sqlite3.Connection, clock: Clock, *, memo: dict[Any, Any] | None = None
    ) -> None:
        super().__init__(conn, clock)
        self.changes = []
        self._now = None
        self.outbox_enqueued = set()
        self.log_written = {}
        self.outbox_memo = {} if memo is None else memo
        self.timers_earliest = None
