"""Who may change what, between the configuration file and runtime edits.

One rule, asked by every face (REST, the web UI, the CLI) and by provisioning:

- **A deleted key stays deleted.** Deleting an integration remembers its key
  (as a digest, ``deleted_integration_keys``); no path gives that key to an
  integration again, a fixed ``integration_key`` in the file included
  (:func:`deleted_key_problem`). Provisioning skips a block whose key was
  deleted, with a warning, instead of refusing to start.

The sentences here are what every face shows.
"""

from __future__ import annotations

from gateway.logs import redact
from gateway.store import Reader

__all__ = ["deleted_key_problem"]


def deleted_key_problem(reader: Reader, key: str) -> str | None:
    """Why ``key`` may never be given to an integration again; ``None`` when it may.

    An integration that held it was deleted: the docs promise a deleted key can
    never be brought back, so a sender still using it keeps getting
    ``Invalid routing key`` whatever the configuration file says.
    """
    deleted_at = reader.key_deleted_at(key)
    if deleted_at is None:
        return None
    return (
        f"integration_key {redact(key)} belonged to an integration deleted at {deleted_at}; "
        "a deleted key can never be used again"
    )
