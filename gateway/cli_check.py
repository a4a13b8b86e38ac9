"""``check-config`` against the database: provision, report, and roll everything back.

Start-up provisions the file into the database its ``[storage] path`` names, where
runtime edits (REST, the web UI, the CLI) live too, so only a check against that same
database can tell whether the next start will succeed. Nothing the check does is
kept: at this version's schema it runs in one transaction that is rolled back (the
running daemon's writer waits for it, as for any CLI write); an older database is
copied first, read-only, so checking before an upgrade migrates nothing. Without a
database the file is checked against an empty scratch one, as start-up would create.

With ``[storage] url`` the database is PostgreSQL: the check connects (an unreachable
server, a refused login or a database newer than this gateway is a problem with
``storage.url``), reads its schema version, and at this version's schema provisions into
it in a transaction that is rolled back; an older (or still empty) one is not migrated by
a check: the file is checked against an empty scratch database, and the report says how
many migrations the next start will apply.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from tempfile import TemporaryDirectory

from gateway.config import Settings
from gateway.core.provision import ConfigWarning, ProvisionReport, provision_report
from gateway.errors import ConfigError
from gateway.plugins import PluginHost
from gateway.store import SCHEMA_VERSION, Tx
from gateway.store.backend import PostgresBackend
from gateway.store.offline import use_backend, write_sync
from gateway.store.schema import NewerSchema, postgres_version

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
    if settings.storage.url:
        return _check_postgres(settings.storage.url, settings, plugins)
    if not path.exists():
        return _scratch(settings, plugins), "an empty database (none yet at " + str(path) + ")"
    version = _schema_version(path)
    _refuse_newer(version, "storage.path")
    if version == SCHEMA_VERSION:
        return _rolled_back(path, settings, plugins), str(path)
    with TemporaryDirectory(prefix="alert-gateway-check-") as scratch:
        copy = Path(scratch) / "check.db"
        _copy(path, copy)
        return _rolled_back(copy, settings, plugins), f"a copy of {path}"


def _check_postgres(
    url: str, settings: Settings, plugins: PluginHost
) -> tuple[ProvisionReport, str]:
    """Reach the PostgreSQL store, read its version and ``synchronous_commit``, and check
    against it (see the module docstring)."""
    storage = settings.storage
    backend = PostgresBackend(url, storage.path, password=storage.password())
    where = f"PostgreSQL {backend.describe()}"
    try:
        with backend.connect() as conn:
            version = postgres_version(conn)
            at_risk = backend.durability_warning(conn)
    except backend.error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot reach {where}: {first}", key="storage.url") from exc
    _refuse_newer(version, "storage.url")
    report, against = _check_postgres_at(version, backend, settings, plugins)
    if at_risk:
        report.notices.append(ConfigWarning(at_risk, "storage.url", None))
    return report, against


def _check_postgres_at(
    version: int, backend: PostgresBackend, settings: Settings, plugins: PluginHost
) -> tuple[ProvisionReport, str]:
    """Provision into the database at this version's schema, else into a scratch one."""
    where = f"PostgreSQL {backend.describe()}"
    if version == SCHEMA_VERSION:
        use_backend(backend)  # the rolled-back write goes to PostgreSQL, not a file
        try:
            report = _rolled_back(settings.storage.path, settings, plugins)
        except NewerSchema as exc:  # migrated by a newer gateway since we looked
            raise ConfigError(str(exc), key="storage.url") from exc
        return report, f"{where} (reachable, schema version {version}, up to date)"
    pending = SCHEMA_VERSION - version
    return _scratch(settings, plugins), (
        f"an empty database: {where} is reachable at schema version {version}, "
        f"{pending} migration(s) pending (the next start or 'alert-gateway db migrate' "
        "applies them)"
    )


def _refuse_newer(version: int, key: str) -> None:
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"the database's schema version {version} is newer than this gateway's "
            f"{SCHEMA_VERSION}: upgrade the gateway (or restore a backup made by this version)",
            key=key,
        )


def _scratch(settings: Settings, plugins: PluginHost) -> ProvisionReport:
    with TemporaryDirectory(prefix="alert-gateway-check-") as scratch:
        return _rolled_back(Path(scratch) / "check.db", settings, plugins)


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
