"""Synchronous store access for the command line, safe while the daemon runs.

The daemon's writer thread owns the database's write lock only for the length
of a batch; a CLI write takes the same lock (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's
advisory write lock) and waits for its turn, so both can write without corrupting or
losing anything.

The commands name the store by the configured file path; when ``[storage] url`` points
at PostgreSQL, :func:`use_backend` (called once the configuration is loaded) sends that
path's reads and writes to PostgreSQL instead of a file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gateway.clock import Clock, SystemClock
from gateway.store import open_sync
from gateway.store.backend import Backend
from gateway.store.producers import run_producers
from gateway.store.queries import Reader, Tx

T = TypeVar("T")

__all__ = ["exists", "read_sync", "use_backend", "write_sync"]

_BACKENDS: dict[Path, Backend] = {}


def use_backend(backend: Backend) -> None:
    """Route the CLI's reads and writes of ``backend.path`` to ``backend`` (PostgreSQL)."""
    _BACKENDS[backend.path] = backend


def exists(path: Path) -> bool:
    """Whether there is a store to read at ``path`` (always, for a PostgreSQL one)."""
    return path in _BACKENDS or path.exists()


def _open(path: Path) -> tuple[Any, Backend]:
    backend = _BACKENDS.get(path)
    if backend is None:
        return open_sync(path), Backend(path)
    conn = backend.open_writer()
    try:
        backend.migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn, backend


def write_sync(path: Path, fn: Callable[[Tx], T], *, clock: Clock | None = None) -> T:
    """Run ``fn`` in one write transaction on the store at ``path``; commit or roll back."""
    conn, backend = _open(path)
    try:
        backend.begin_write(conn)
        try:
            tx = Tx(conn, clock or SystemClock())
            result = fn(tx)
            run_producers(tx)  # the same transactional outbox as the daemon's writer
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result
    finally:
        conn.close()


def read_sync(path: Path, fn: Callable[[Reader], T], *, clock: Clock | None = None) -> T:
    """Run ``fn`` against a consistent snapshot of the store at ``path``."""
    conn, backend = _open(path)
    try:
        backend.begin_read(conn)
        try:
            return fn(Reader(conn, clock or SystemClock()))
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()
