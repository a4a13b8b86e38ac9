"""``check-config`` against the database: provision, report, and roll everything back.

Start-up provisions the file into the database its ``[storage] path`` names, where
runtime edits (REST, the web UI, the CLI) live too, so only a check against that same
database can tell whether the next start will succeed. Nothing the check does is
kept: at this version's schema it runs in one transaction that is rolled back (the
running daemon's writer waits for it, as for any CLI write); an older database is
copied first, read-only, so checking before an upgrade migrates nothing. Without a
database the file is checked against an empty scratch one, as start-up would create.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from tempfile import TemporaryDirectory

from gateway.config import Settings
from gateway.core.provision import ProvisionReport, provision_report
from gateway.plugins import PluginHost
from gateway.store import SCHEMA_VERSION, Tx
from gateway.store.offline import write_sync

__all__ = ["check_against_database"]


class _Discard(Exception):
    """Raised after the check so that write_sync rolls the transaction back."""

    def __init__(self, report: ProvisionReport) -> None:
        super().__init__("check only")
        self.report = report


def check_against_database(settings: Settings, plugins: PluginHost) -> tuple[ProvisionReport, str]:
    """Provision ``settings`` without keeping anything; the report and what it ran against.

    Raises :class:`~gateway.errors.ConfigError` for a vendor's crashing check as
    provisioning does; everything else the service layer refuses is in the report.
    """
    path = settings.storage.path
    if not path.exists():
        with TemporaryDirectory(prefix="alert-gateway-check-") as scratch:
            report = _rolled_back(Path(scratch) / "check.db", settings, plugins)
        return report, "an empty database (none yet at " + str(path) + ")"
    if _schema_version(path) == SCHEMA_VERSION:
        return _rolled_back(path, settings, plugins), str(path)
    with TemporaryDirectory(prefix="alert-gateway-check-") as scratch:
        copy = Path(scratch) / "check.db"
        _copy(path, copy)
        return _rolled_back(copy, settings, plugins), f"a copy of {path}"


def _rolled_back(path: Path, settings: Settings, plugins: PluginHost) -> ProvisionReport:
    def check(tx: Tx) -> None:
        raise _Discard(provision_report(tx, settings, plugins))

    try:
        write_sync(path, check)
    except _Discard as done:
        return done.report
    raise AssertionError("unreachable: the check always rolls back")


def _schema_version(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        return int(version)
    finally:
        conn.close()


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup of ``source`` (opened read-only) into ``target``."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
