"""The database's files on disk: created private whatever the umask.

The database holds every integration key in clear and the API tokens' digests, so it is
created ``0600`` (owner only), or ``0640`` when its directory is there to share it with a
group: a directory its group may enter and read while others may not (the shipped unit's
``StateDirectoryMode=0750``) says the operator chose who else reads what is in it. A
directory open to everyone (``/tmp``, a ``0755`` home) says nothing about a group, so the
file stays ``0600``. SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files it creates
the database file's own mode (it ``fchmod``s them to match), so setting the database's mode
before SQLite first opens it covers all of them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

__all__ = ["create_private", "private_mode", "tighten"]

log = structlog.get_logger("gateway.store")

#: The files SQLite keeps beside a database in WAL mode.
SIDE_FILES = ("-wal", "-shm")


def private_mode(directory: Path) -> int:
    """``0o640`` when ``directory`` is shared with its group only, else ``0o600``."""
    mode = directory.stat().st_mode
    group_reads = mode & (stat.S_IRGRP | stat.S_IXGRP) == stat.S_IRGRP | stat.S_IXGRP
    others_shut_out = mode & stat.S_IRWXO == 0
    return 0o640 if group_reads and others_shut_out else 0o600


def create_private(path: Path) -> bool:
    """Create ``path`` empty with :func:`private_mode` unless it exists; whether it did.

    Missing directories are made ``0700``. The mode is set with ``fchmod`` after the
    ``open``, because the umask may have taken the group's read bit away (``0o077``) and
    must not add anything either (``0o000``: the ``open`` mode alone is then exact).
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = private_mode(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return True


def tighten(path: Path) -> None:
    """Take every permission for others off an existing database and its side files.

    Databases created before the gateway set modes itself are often ``0644``; taking the
    world's bits away changes nothing for the owner or a group the operator set up. A file
    this process may not ``chmod`` (another owner) is left as it is, with a warning.
    """
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & stat.S_IRWXO:
                os.chmod(file, mode & ~stat.S_IRWXO)
                log.warning(
                    "store.permissions_tightened",
                    path=str(file),
                    before=oct(mode),
                    after=oct(mode & ~stat.S_IRWXO),
                )
        except FileNotFoundError:
            continue
        except PermissionError as exc:
            log.warning("store.permissions_open", path=str(file), error=str(exc))
