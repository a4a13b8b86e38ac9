"""REST extension: a service's forwarding upstream (relay mode) and its queued messages.

Two faces of :mod:`gateway.core.forwarding` and :mod:`gateway.core.outbox_ops`:

- the service object's ``forward_to`` (``[{id, url, routing_key}]``, keys shown as their
  last four characters) and ``forward_suppressed`` fields, read and written with the
  service (``GET/POST/PUT /services``);
- ``/services/{id}/forwarding/messages``: the forwarded events of the service's targets
  that are waiting or parked as failed, and ``retry`` / ``DELETE`` for one of them, or
  ``POST /services/{id}/forwarding/retry`` for every failed one.

None of this is PagerDuty's API; docs/rest-api.md documents it as an extension.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Blueprint

from gateway.auth import Level
from gateway.core import forwarding, outbox_ops
from gateway.core.forwarding import TargetInput
from gateway.core.inputs import UNSET
from gateway.core.service_reads import ServiceDetails
from gateway.core.services import get_service
from gateway.domain import OutboxEntry, ServiceForwarding
from gateway.errors import NotFound
from gateway.http.rest._common import context, invalid, list_arg, requires
from gateway.store import Reader, Tx

blueprint = Blueprint("rest_forwarding", __name__)

__all__ = [
    "apply_forwarding",
    "blueprint",
    "forwarding_body",
    "forwarding_fields",
    "with_forwarding",
]


def forwarding_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """``forward_to`` / ``forward_suppressed`` of a service body, for :func:`set_forwarding`.

    Absent fields are left out (unchanged); a wrong shape is a 400 naming the field.
    """
    out: dict[str, Any] = {}
    if "forward_to" in data:
        raw = data["forward_to"]
        if raw is None:
            raw = []
        if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
            raise invalid("forward_to must be an array of {url, routing_key} objects")
        out["targets"] = [TargetInput(t.get("url"), t.get("routing_key")) for t in raw]
    if "forward_suppressed" in data:
        out["forward_suppressed"] = data["forward_suppressed"]
    return out


def forwarding_body(settings: ServiceForwarding) -> dict[str, Any]:
    """The service object's extension fields (routing keys shown by their last 4 characters)."""
    return {
        "forward_to": [
            {"id": t.id, "url": t.url, "routing_key": forwarding.shown_key(t.routing_key)}
            for t in settings.targets
        ],
        "forward_suppressed": settings.forward_suppressed,
    }


def with_forwarding(body: dict[str, Any], details: ServiceDetails) -> dict[str, Any]:
    """A REST service object with the extension fields (not in webhook payloads)."""
    return {**body, **forwarding_body(details.forwarding)}


def apply_forwarding(tx: Tx, service_id: str, fields: dict[str, Any], by: Any) -> None:
    """Write the fields :func:`forwarding_fields` read (nothing when there were none)."""
    if fields:
        forwarding.set_forwarding(
            tx,
            service_id,
            targets=fields.get("targets", UNSET),
            forward_suppressed=fields.get("forward_suppressed", UNSET),
            by=by,
        )


def message_body(entry: OutboxEntry) -> dict[str, Any]:
    """One queued forwarded event as the extension shows it (never its body: it holds a key)."""
    target_id, _, order = entry.order_key.partition(":")
    return {
        "id": entry.id,
        "type": "outbound_message",
        "kind": entry.kind,
        "destination": entry.destination,
        "forward_target": target_id,
        "dedup_key": None if order.startswith("change:") else order,
        "state": entry.state,
        "attempts": entry.attempts,
        "created_at": entry.created_at,
        "due_at": entry.due_at,
        "last_error": entry.last_error,
        "finished_at": entry.finished_at,
    }


def _service_entries(reader: Reader, service_id: str, states: list[str]) -> list[OutboxEntry]:
    get_service(reader, service_id)
    targets = [t.id for t in reader.service_forwarding(service_id).targets]
    return reader.forward_entries(targets, outbox_ops.check_states(states), limit=1000)


def _own_message(reader: Reader, service_id: str, message_id: str) -> None:
    """:class:`NotFound` unless ``message_id`` is a forwarded event of this service's targets."""
    get_service(reader, service_id)
    entry = reader.outbox_entry(message_id)
    targets = {t.id for t in reader.service_forwarding(service_id).targets}
    owner = entry.order_key.partition(":")[0] if entry is not None else None
    if entry is None or entry.kind != forwarding.KIND or owner not in targets:
        raise NotFound("Message", message_id)


@blueprint.get("/services/<service_id>/forwarding/messages")
@requires(Level.VIEW)
async def list_messages(service_id: str) -> dict[str, Any]:
    """Forwarded events of the service's targets: ``state[]`` pending/failed/delivered/all."""
    states = list_arg("state")
    entries = await context().store.read(lambda r: _service_entries(r, service_id, states))
    return {"messages": [message_body(e) for e in entries]}


@blueprint.post("/services/<service_id>/forwarding/messages/<message_id>/retry")
@requires(Level.MANAGE)
async def retry_message(service_id: str, message_id: str) -> dict[str, Any]:
    """Send one failed (or waiting) forwarded event again now."""

    def write(tx: Tx) -> OutboxEntry:
        _own_message(tx, service_id, message_id)
        return outbox_ops.retry_message(tx, message_id)

    return {"message": message_body(await context().store.write(write))}


@blueprint.delete("/services/<service_id>/forwarding/messages/<message_id>")
@requires(Level.MANAGE)
async def drop_message(service_id: str, message_id: str) -> tuple[str, int]:
    """Drop one undelivered forwarded event: it is never sent."""

    def write(tx: Tx) -> None:
        _own_message(tx, service_id, message_id)
        outbox_ops.drop_message(tx, message_id)

    await context().store.write(write)
    return "", 204


@blueprint.post("/services/<service_id>/forwarding/retry")
@requires(Level.MANAGE)
async def retry_failed(service_id: str) -> dict[str, Any]:
    """Send every failed forwarded event of the service's targets again now."""

    def write(tx: Tx) -> int:
        count = 0
        for entry in _service_entries(tx, service_id, ["failed"]):
            count += bool(outbox_ops.retry_message(tx, entry.id))
        return count

    return {"retried": await context().store.write(write)}
