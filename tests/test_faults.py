"""A real full disk under the database, and a database that refuses writes.

The database lives on a small tmpfs mounted for the test and the disk is filled
with a real file. The gateway must
answer 503 (never a 2xx) while it cannot commit, and recover by itself, without
a restart, once space or write access returns. Mounting needs root (CAP_SYS_ADMIN):
elsewhere these tests skip and say so; tests/test_durability.py covers the
same path with SQLite's page limit.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.scaffold import Daemon, config, gateway_running, key, v2, v2_service

KEY = key("faults")


def _mount(point: Path, size: str) -> bool:
    point.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    point = tmp_path / "disk"
    if os.geteuid() != 0 or not _mount(point, "3m"):
        pytest.skip("needs root and mount(2) for a real tmpfs; covered by test_durability")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _config(db: Path) -> str:
    return config(v2_service("Faults", KEY), storage=db)


def _fill(path: Path) -> None:
    """Write zeros until the filesystem says it is full."""
    block = b"\0" * 65536
    try:
        # Opening may already fail: the database and its WAL can fill the small disk alone.
        with path.open("wb") as filler:
            while True:
                filler.write(block)
                filler.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC


def _send(client: httpx.Client, tag: str) -> tuple[str, int]:
    dedup = f"{tag}-{uuid.uuid4().hex[:8]}"
    body = v2(KEY, dedup_key=dedup, custom_details={"pad": "x" * 4000})
    return dedup, client.post("/v2/enqueue", json=body).status_code


def _stored(daemon: Daemon) -> set[str]:
    return {row[0] for row in daemon.query("SELECT alert_key FROM alerts")}


@pytest.mark.slow  # a real daemon process
def test_full_disk_answers_503_and_recovers_when_space_returns(
    small_disk: Path, spawn: Callable[..., Daemon]
) -> None:
    # Config and log sit beside the small disk, the database on it.
    daemon = spawn(_config(small_disk / "gw.db"))
    filler = small_disk / "filler"
    try:
        acked: list[str] = []
        with daemon.client() as client:
            for _ in range(5):
                dedup, status = _send(client, "before")
                assert status == 202
                acked.append(dedup)
            _fill(filler)
            statuses = []
            for _ in range(200):  # pages freed inside the file absorb a few events first
                dedup, status = _send(client, "full")
                statuses.append(status)
                if status == 202:
                    acked.append(dedup)
                else:
                    break
            assert statuses[-1] == 503, statuses
            assert client.get("/readyz").status_code == 503
            refused = [s for s in statuses if s != 202]
            assert refused == [503]

            filler.unlink()  # space returns; no restart
            dedup, status = _send(client, "after")
            assert status == 202
            acked.append(dedup)
            assert client.get("/readyz").status_code == 200
        assert set(acked) <= _stored(daemon)
        assert daemon.query("PRAGMA integrity_check") == [("ok",)]
        assert daemon.stop() == 0
    finally:
        with contextlib.suppress(FileNotFoundError):
            filler.unlink()


@pytest.mark.sqlite_only("SQLite's PRAGMA query_only stands in for a read-only disk")
async def test_read_only_database_answers_503_and_recovers(tmp_path: Path) -> None:
    # A filesystem cannot be remounted read-only under open files by hand (the kernel
    # does it after I/O errors); SQLite's query_only makes every write fail with the
    # same SQLITE_READONLY the writer would then see.
    async with gateway_running(tmp_path, _config(tmp_path / "gw.db")) as gw:
        first = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="rw"))
        assert first.status_code == 202
        await gw.store.write(lambda tx: tx.conn.execute("PRAGMA query_only = ON").fetchone())
        for i in range(3):
            refused = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key=f"ro-{i}"))
            assert refused.status_code == 503, refused.text
            assert refused.json()["status"] == "unavailable"
        assert (await gw.client.get("/readyz")).status_code == 503
        # Writes are refused now, so write access returns the way it left: on the writer's
        # own connection, from outside any job (the thread is idle between requests).
        gw.store._writer._conn.execute("PRAGMA query_only = OFF")
        again = await gw.client.post("/v2/enqueue", json=v2(KEY, dedup_key="rw-again"))
        assert again.status_code == 202
        assert (await gw.client.get("/readyz")).status_code == 200
        keys = await gw.store.read(
            lambda r: sorted(k for (k,) in r.conn.execute("SELECT alert_key FROM alerts"))
        )
        assert keys == ["rw", "rw-again"]
