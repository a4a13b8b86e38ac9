"""Offline and online administration of the database: backup and integrity check."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from gateway.store.files import create_private
from gateway.store.schema import SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``alert-gateway db check`` found."""

    integrity: list[str]
    foreign_keys: int
    schema_version: int
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        """Whether the database is sound and at this gateway's schema version."""
        return (
            self.integrity == ["ok"]
            and self.foreign_keys == 0
            and self.schema_version == SCHEMA_VERSION
        )


def backup(source: Path, destination: Path) -> int:
    """Copy the database to ``destination`` consistently, even while the daemon writes.

    Uses SQLite's online backup API, which copies a single snapshot; returns the
    number of pages copied. Refuses to overwrite an existing file. The copy is created
    ``0600`` (``0640`` in a directory shared with a group), as the database is.
    """
    # Created private like the database itself: a backup holds the same integration keys.
    if not create_private(destination):
        raise FileExistsError(f"{destination} already exists")
    try:
        return _copy(source, destination)
    except BaseException:
        destination.unlink(missing_ok=True)  # no half-written backup to mistake for one
        raise


def _copy(source: Path, destination: Path) -> int:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(destination)
    try:
        src.execute("PRAGMA busy_timeout = 5000")
        src.backup(dst)
        (pages,) = dst.execute("PRAGMA page_count").fetchone()
        # A backup is a plain file: no WAL beside it to forget when copying it around.
        dst.execute("PRAGMA journal_mode = DELETE")
        return int(pages)
    finally:
        dst.close()
        src.close()


def check(path: Path) -> CheckReport:
    """Run SQLite's integrity and foreign-key checks and count the main tables."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        foreign = len(conn.execute("PRAGMA foreign_key_check").fetchall())
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("services", "integrations", "incidents", "alerts", "log_entries")
        }
        return CheckReport(integrity, foreign, int(version), counts)
    finally:
        conn.close()
