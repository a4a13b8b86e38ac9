"""What the per-aggregate query modules share: JSON columns, and the two bases of their mixins.

:class:`ReadBase` declares what every read mixin may use (the :class:`Database` seam and
the clock); :class:`WriteBase` adds the job's timestamp, the incident changes collected
for the after-commit hooks, and :meth:`WriteBase._insert_new` (ordered ids with a retry).
:mod:`gateway.store.queries` composes the mixins into :class:`Reader` and :class:`Tx` and
binds the seam to SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from typing import Any

import msgspec

from gateway.clock import Clock, iso
from gateway.ids import new_ordered_id
from gateway.model import IncidentChange
from gateway.store.seam import Database

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode

#: Tries at a fresh ordered id before the clash is the job's error (see ``_insert_new``).
ORDERED_ID_ATTEMPTS = 3


def marks(values: Sized) -> str:
    """``?, ?, ?``: one qmark parameter per value, for an ``IN (...)`` list."""
    return ", ".join("?" * len(values))


class Where:
    """A ``WHERE`` clause built from optional conditions, its parameters kept in order."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        """AND one condition with its parameters."""
        self.clauses.append(clause)
        self.params.extend(params)

    def within(self, column: str, values: Sequence[Any]) -> None:
        """``column IN (...)`` when ``values`` is not empty (an empty set filters nothing)."""
        if values:
            self.add(f"{column} IN ({marks(values)})", *values)

    def sql(self) -> str:
        """`` WHERE a AND b`` (leading space), or nothing when there is no condition."""
        return f" WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def dumps(value: Any) -> str:
    """JSON-encode for a TEXT column."""
    return _json_encode(value).decode()


def loads(text: str | None) -> Any:
    """Decode a JSON TEXT column (``None`` stays ``None``)."""
    return None if text is None else _json_decode(text)


class ReadBase:
    """What every read mixin relies on (``Reader`` sets it): the seam and the clock."""

    _db: Database
    clock: Clock


class WriteBase(ReadBase):
    """The attributes and helpers every write mixin relies on; ``Tx`` sets them."""

    changes: list[IncidentChange]
    _now: str | None
    #: The rows of the incident log entries this job wrote, by (incident, type): the first
    #: and the latest of each (``Tx.__init__`` gives each job its own dict). The webhook
    #: producer reads who made a change from here rather than back from the table.
    log_written: dict[tuple[str, str], tuple[tuple[Any, ...], tuple[Any, ...]]]

    @property
    def now(self) -> str:
        """The job's timestamp, fixed for the whole job so its rows agree."""
        if self._now is None:
            self._now = iso(self.clock.now())
        return self._now

    def _insert_new(self, table: str, prefix: str, sql: str, rest: tuple[Any, ...]) -> str:
        """INSERT a row whose first column is a new ordered id; return the id.

        Ordered ids are unique within a process; another process writing in the same
        millisecond (the CLI beside the daemon) could, very rarely, pick the same one.
        The database then refuses the statement alone, so try the next id.
        """
        unique = f"{table}.id"
        for _ in range(ORDERED_ID_ATTEMPTS - 1):
            row_id = new_ordered_id(prefix)
            if self._db.try_insert(sql, (row_id, *rest), unique=unique):
                return row_id
        # The last try is a plain INSERT: should it clash too, the driver's own integrity
        # error fails this job alone (the writer rolls back its savepoint) instead of looping.
        row_id = new_ordered_id(prefix)
        self._db.execute(sql, (row_id, *rest))
        return row_id
