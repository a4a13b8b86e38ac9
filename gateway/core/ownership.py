"""Who may change what, between the configuration file and runtime edits.

One rule, asked by every face (REST, the web UI, the CLI) and by provisioning:

- **The file is the source of truth for what it declares.** Provisioning marks
  the services and integrations the file declares (``source = 'config'``) and
  releases those it no longer declares. Any other agent's change to a field the
  file sets, a move, a rename, or deleting a declared *service* is refused with
  :class:`~gateway.errors.Refused` (REST 400, code 2001) saying "declared in the
  configuration file; change it there" (:func:`refuse_declared`): otherwise the
  next start would silently undo the edit or, worse, fail on it.
- **Deleting a declared integration is allowed**: it is how a leaked key is
  stopped now, without waiting for a change to the file.
- **A deleted key stays deleted.** Deleting an integration remembers its key
  (as a digest, ``deleted_integration_keys``); no path gives that key to an
  integration again, a fixed ``integration_key`` in the file included
  (:func:`deleted_key_problem`). Provisioning skips a block whose key was
  deleted, with a warning, instead of refusing to start.

- **Integration names are unique within a service**, whoever adds, renames or
  moves one (:func:`name_taken_problem`): the file matches integrations by name.

The sentences here are what every face shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, Literal, Protocol, TypeVar

from gateway.core.inputs import CONFIG, Agent
from gateway.errors import ConfigError, OperationError, Refused
from gateway.logs import redact
from gateway.store import Reader

__all__ = [
    "DECLARED",
    "apply_declared",
    "deleted_key_problem",
    "name_taken_problem",
    "refuse_declared",
]

#: The REST message of a refused edit of something the file declares.
DECLARED: Final = "Declared in the configuration file"


def refuse_declared(
    reader: Reader,
    kind: Literal["Service", "Integration"],
    object_id: str,
    name: str,
    changes: Iterable[str],
    by: Agent,
) -> None:
    """Refuse ``changes`` to an object the configuration file declares, unless the file makes them.

    ``changes`` names what would change (fields, ``service`` for a move,
    ``deleted``); nothing is refused when it is empty, so a client that sends
    an object back unchanged (Terraform, go-pagerduty) is answered normally.
    Only provisioning (``by`` is the ``config`` agent) changes declared objects.
    """
    wanted = sorted(set(changes))
    if not wanted or by.type == CONFIG.type:
        return
    table: Literal["services", "integrations"] = "services" if kind == "Service" else "integrations"
    if reader.declared(table, object_id):
        raise Refused(
            DECLARED,
            code=2001,
            errors=[
                f"{kind} {name!r} is declared in the configuration file; change it there "
                f"(refused: {', '.join(wanted)})"
            ],
        )


def name_taken_problem(
    reader: Reader, service_id: str, name: str, own_id: str | None
) -> str | None:
    """Why an integration may not be called ``name`` on ``service_id``; ``None`` when it may.

    The configuration file finds an integration without a fixed key by its
    service and name, so two of one name on one service would make the next
    start pick one at random.
    """
    for other in reader.integrations(service_id):
        if other.name == name and other.id != own_id:
            return f"name {name!r} is already used by another integration on this service"
    return None


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


class _Block(Protocol):
    """A configuration block: where it stands in the file."""

    @property
    def key(self) -> str: ...

    @property
    def line(self) -> int | None: ...


_B = TypeVar("_B", bound=_Block)


def apply_declared(
    blocks: Iterable[_B], apply: Callable[[_B], str], problems: list[ConfigError]
) -> set[str]:
    """Apply each block the file declares; the ids they own (the file's declared set).

    A block the rules refuse becomes a :class:`ConfigError` at its key and line in
    ``problems``, and the others are still applied, so one start reports every refusal.
    """
    declared: set[str] = set()
    for block in blocks:
        try:
            declared.add(apply(block))
        except OperationError as exc:
            problems.append(ConfigError("; ".join(exc.errors), key=block.key, line=block.line))
    return declared
