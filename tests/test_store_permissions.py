"""The database, its WAL/SHM, backups and the UI secret are private whatever the umask.

Issue 14 item 12: run outside the shipped unit (no ``UMask=0027``) the database was created
``-rw-r--r--`` with every integration key in clear. Each case runs in a subprocess of its
own, because the umask belongs to the whole process.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a Python subprocess per case

# Opens the database as the daemon does (Store.open, a write so the WAL and SHM exist) and as
# the CLI does (open_sync), makes the UI secret and a backup, and reports every file's mode
# while the connections are still open (the WAL goes away at close).
SCRIPT = """
import json, os, stat, sys
from pathlib import Path
import trio

os.umask(int(sys.argv[1], 8))
folder = Path(sys.argv[2])

from gateway.http.ui import secret_key
from gateway.store import Store, admin, open_sync

def modes(*paths):
    return {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in paths if p.exists()}

async def daemon_side():
    db = folder / "state" / "gw.db"
    store = await Store.open(db)
    await store.write(lambda tx: tx.conn.execute("CREATE TABLE t (x)"))
    found = modes(db, db.with_name("gw.db-wal"), db.with_name("gw.db-shm"))
    secret_key(db)
    found.update(modes(db.with_name("gw.db.ui-secret")))
    found.update(modes(db.parent))
    await store.close()
    return found

found = trio.run(daemon_side)
cli_db = folder / "state" / "cli.db"
conn = open_sync(cli_db)
conn.execute("CREATE TABLE t (x)")
found.update(modes(cli_db, cli_db.with_name("cli.db-wal"), cli_db.with_name("cli.db-shm")))
conn.close()
admin.backup(folder / "state" / "gw.db", folder / "state" / "copy.db")
found.update(modes(folder / "state" / "copy.db"))
print(json.dumps(found))
"""


def _modes(umask: int, folder: Path) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, oct(umask), str(folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


DATABASE_FILES = ("gw.db", "gw.db-wal", "gw.db-shm", "cli.db", "cli.db-wal", "cli.db-shm")


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_files_are_owner_only_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    found = _modes(umask, tmp_path)
    for name in DATABASE_FILES:
        assert found[name] == "0o600", (name, found)
    assert found["copy.db"] == "0o600"
    assert found["gw.db.ui-secret"] == "0o600"
    assert found["state"] == "0o700"  # the folder it made is nobody else's either


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_folder_shared_with_its_group_gives_the_group_read(tmp_path: Path, umask: int) -> None:
    # The shipped unit's StateDirectoryMode=0750: the operator shares the folder with a group
    # (a backup user); the database is 0640 even when the umask took the group's bits away.
    (tmp_path / "state").mkdir()
    (tmp_path / "state").chmod(0o750)
    found = _modes(umask, tmp_path)
    for name in DATABASE_FILES:
        assert found[name] == "0o640", (name, found)
    assert found["copy.db"] == "0o640"
    # The session-signing key stays owner-only: with it a reader could forge a UI session,
    # a step up from reading the database (which holds only the tokens' digests).
    assert found["gw.db.ui-secret"] == "0o600"


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)
    db = state / "gw.db"
    created = subprocess.run(
        [sys.executable, "-c", "import sqlite3, sys; sqlite3.connect(sys.argv[1]).close()", db],
        check=True,
    )
    assert created.returncode == 0
    db.chmod(0o644)  # what an older gateway left
    found = _modes(0o022, tmp_path)
    # Only the world's bits go: a group the operator gave read access keeps it.
    assert found["gw.db"] == "0o640"
    assert found["gw.db-wal"] == "0o640"
    assert stat.S_IMODE(db.stat().st_mode) == 0o640
