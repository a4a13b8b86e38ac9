"""Synchronous store access for the command line, safe while the daemon runs.

The daemon's writer thread owns the database's write lock only for the length
of a batch; a CLI write takes ``BEGIN IMMEDIATE`` and waits (busy timeout) for
its turn, so both can write the same file without corrupting or losing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gateway.clock import Clock, SystemClock
from gateway.store import open_sync
from gateway.store.producers import run_producers
from gateway.store.queries import Reader, Tx

T = TypeVar("T")

__all__ = ["read_sync", "write_sync"]


def write_sync(path: Path, fn: Callable[[Tx], T], *, clock: Clock | None = None) -> T:
    """Run ``fn`` in one immediate transaction on the database at ``path``; commit or roll back."""
    conn = open_sync(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
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
    """Run ``fn`` against a consistent snapshot of the database at ``path``."""
    conn = open_sync(path)
    try:
        conn.execute("BEGIN")
        try:
            return fn(Reader(conn, clock or SystemClock()))
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()
