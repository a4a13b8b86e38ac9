"""The seam between the store's SQL and a database driver: the :class:`Database` protocol.

The per-aggregate query modules (``services``, ``maintenance``, ``incidents``,
``timeline``, ``tokens``) reach the database only through this interface; the
implementations are :class:`gateway.store.sqlite.SqliteDatabase` and
:class:`gateway.store.postgres.PostgresDatabase`. Both keep these conventions, which the
SQL text in those modules relies on (portable SQL: no unary ``+`` on text, an alias on
every subquery in ``FROM``):

Parameters
    ``?`` placeholders (qmark style), passed as a tuple or list. The SQL text holds no
    other ``?`` and no ``%``, so a driver that wants ``%s`` can translate the text with
    a plain replace (cached per statement: the texts are a small fixed set).

Transactions
    The caller owns them (the writer thread's ``BEGIN IMMEDIATE`` and savepoints, the
    CLI's ``BEGIN IMMEDIATE``, a reader's snapshot). Nothing here begins or commits.

Ids and counters
    Ids are made in Python (:mod:`gateway.ids`) and inserted like any other value: no
    ``RETURNING``, no ``lastrowid``, no sequences. Incident numbers and window sequence
    numbers are ``max() + 1`` inside the transaction, which is safe because one writer
    holds the write lock for the whole job; a backend with concurrent writers must
    serialize those inserts the same way (PostgreSQL: every write transaction takes one
    advisory lock, :func:`gateway.store.postgres.begin_write`).

Conflicts
    No ``INSERT OR …`` / ``ON CONFLICT`` clause: the one insert that expects a clash (an
    ordered id another process took in the same millisecond) uses
    :meth:`Database.try_insert`, which reports that clash as ``False``. Any other failed
    constraint raises the driver's own integrity error, and the writer rolls back that
    job's savepoint alone.

Values
    Timestamps are ISO 8601 UTC text from :func:`gateway.clock.iso`; they sort as time,
    so the SQL compares them as text. JSON columns are text encoded and decoded in Python
    (:func:`gateway.store.base.dumps`/:func:`~gateway.store.base.loads`), never looked
    into by SQL. Booleans come back as whatever the driver returns for ``EXISTS``; the
    callers wrap them in ``bool()``. Rows come back as tuples in the selected order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeAlias

#: One result row: the selected columns in order.
Row: TypeAlias = tuple[Any, ...]
#: Statement parameters for the ``?`` placeholders, in order.
Params: TypeAlias = Sequence[Any]


class Database(Protocol):
    """What the store's query code needs from a connection, and nothing more.

    Every method runs one statement on the connection's current transaction.
    Implementations stay thin (one driver call each): :meth:`fetch_one` sits on the
    ingest hot path several times per event.
    """

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT, UPDATE or DELETE; return how many rows it changed."""
        ...

    def execute_many(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one INSERT, UPDATE or DELETE for each parameter row."""
        ...

    def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row a SELECT returns, or ``None`` when it returns none."""
        ...

    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row a SELECT returns."""
        ...

    def fetch_value(self, sql: str, params: Params = ()) -> Any:
        """The first column of a SELECT's first row (``None`` when there is no row)."""
        ...

    def skip_locked(self, alias: str) -> str:
        """The clause that ends a claim's SELECT of due rows of ``alias``: on a database
        with concurrent claimers (PostgreSQL) `` FOR UPDATE OF alias SKIP LOCKED`` (rows
        another claim holds are passed over, never waited for); ``""`` on SQLite, whose
        writers never run at once."""
        ...

    def try_insert(self, sql: str, params: Params, *, unique: str) -> bool:
        """Run an INSERT; ``False`` when it was refused only for a duplicate ``unique``.

        ``unique`` names the constraint as ``"table.column"``. The refused statement
        must leave the transaction usable (SQLite undoes just the statement; a backend
        that aborts the whole transaction on an error wraps the INSERT in a savepoint).
        Any other error propagates unchanged.
        """
        ...
