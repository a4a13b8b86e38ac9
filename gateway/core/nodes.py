"""The id a daemon's claims are made under (outbox messages and timers).

A claim (``claimed_by``, ``lease_until``) names the node that holds it. At start a
daemon releases the claims left under its own id (a SIGKILL's in-flight attempts are
then retried at once), so an id shared by two *live* processes would let one hand back
the other's claims mid-send: the message goes out twice. Ids must therefore be unique
per process wherever several processes claim in one database.

- SQLite: one file, one daemon on one host; the id is ``[outbound] node_id`` or the
  host name, as before, and a restart under it recovers its claims at once.
- PostgreSQL (a shared database, several nodes): the id is that name plus the process
  id and a random start nonce, ``<node_id or host>/<pid>-<nonce>``: unique per process
  even when two hosts share a name (containers) or an operator copies one ``node_id``
  to every node. A restart never matches an earlier id, so a dead process's claims are
  taken over when their leases lapse (``[outbound] lease_seconds``), by any node,
  never released early by a live one.
"""

from __future__ import annotations

import os
import secrets
import socket

__all__ = ["claim_node"]


def claim_node(configured: str, *, shared: bool, nonce: str | None = None) -> str:
    """The node id to claim under: ``configured`` (else the host name), and on a shared
    database (``shared``: PostgreSQL) the process id and a start nonce after a ``/``."""
    base = configured or socket.gethostname()
    if not shared:
        return base
    return f"{base}/{os.getpid()}-{nonce or secrets.token_hex(4)}"
