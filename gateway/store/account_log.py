"""Reads of log entries across the account: the account-wide list and a service's
suppressed events (``GET /log_entries``, a service's page).

Both walk an index from the newest end and stop at their page or their cap: the
account list by ``seq`` (the order entries were written in), a service's suppressions by
the ``log_entries_service_suppressed`` partial index of schema 9.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import LogEntry
from gateway.store.base import ReadBase, Where
from gateway.store.timeline import LOG_COLS, log_entry_row

#: The types of REST's ``is_overview=true`` (gateway.core.log_reads.OVERVIEW_TYPES, which a
#: test holds equal), and the condition of the partial index of the others, word for word:
#: SQLite uses a partial index only for a query that repeats its condition.
OVERVIEW_TYPES = (
    "trigger_log_entry",
    "acknowledge_log_entry",
    "resolve_log_entry",
    "suppress_log_entry",
)
_NOT_OVERVIEW = (
    "type NOT IN ('trigger_log_entry', 'acknowledge_log_entry', 'resolve_log_entry', "
    "'suppress_log_entry')"
)


class AccountLogReads(ReadBase):
    """The account's log entries, newest first, and what a service suppressed."""

    def account_log_page(
        self,
        *,
        since: str | None,
        until: str | None,
        types: Sequence[str] = (),
        limit: int,
        offset: int = 0,
    ) -> list[LogEntry]:
        """Log entries of the whole account, newest first, paged in SQL.

        Walks the table backwards by ``seq`` (the order entries were written in) and stops
        once the page is full, so the newest pages cost their own size.
        """
        where, params = _account_filter(since, until, types)
        rows = self._db.fetch_all(
            f"SELECT {LOG_COLS} FROM log_entries{where} ORDER BY seq DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [log_entry_row(r) for r in rows]

    def count_account_log_entries(
        self, *, since: str | None, until: str | None, types: Sequence[str] = ()
    ) -> int:
        """How many entries :meth:`account_log_page` pages through (``total=true`` only).

        The whole log of the overview types (REST ``is_overview=true``) is counted as every
        entry less the others: ``count(*)`` of the table reads its narrowest index, the
        others have the partial index ``log_entries_not_overview`` (schema 17), and
        nearly every entry is of an overview type, so counting those read every row.
        """
        if since is None and until is None and sorted(types) == sorted(OVERVIEW_TYPES):
            return int(self._db.fetch_value("SELECT count(*) FROM log_entries")) - int(
                self._db.fetch_value(f"SELECT count(*) FROM log_entries WHERE {_NOT_OVERVIEW}")
            )
        where, params = _account_filter(since, until, types)
        return int(self._db.fetch_value(f"SELECT count(*) FROM log_entries{where}", params))

    def suppressed_log(self, service_id: str, *, since: str, limit: int) -> list[LogEntry]:
        """A service's newest suppressed events since ``since`` (its own partial index)."""
        rows = self._db.fetch_all(
            f"SELECT {LOG_COLS} FROM log_entries WHERE service_id = ? "
            "AND type = 'suppress_log_entry' AND created_at >= ? "
            "ORDER BY created_at DESC LIMIT ?",
            (service_id, since, limit),
        )
        return [log_entry_row(r) for r in rows]

    def count_suppressed(self, service_id: str, *, since: str, at_most: int) -> int:
        """How many events a service suppressed since ``since``, counting to ``at_most``."""
        return int(
            self._db.fetch_value(
                "SELECT count(*) FROM (SELECT 1 FROM log_entries WHERE service_id = ? "
                "AND type = 'suppress_log_entry' AND created_at >= ? LIMIT ?) AS capped",
                (service_id, since, at_most),
            )
        )


def _account_filter(
    since: str | None, until: str | None, types: Sequence[str]
) -> tuple[str, list[Any]]:
    where = Where()
    if since is not None:
        where.add("created_at >= ?", since)
    if until is not None:
        where.add("created_at < ?", until)
    where.within("type", types)
    return where.sql(), where.params
