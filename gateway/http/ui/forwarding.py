"""The web UI's forwarding page: a service's upstream targets, and its queued forwarded events.

``/ui/services/{id}/forwarding`` shows the targets (routing keys by their last four
characters) and the events waiting or parked as failed; managers edit the targets (one
``URL ROUTING_KEY`` per line; a line sent back with its shown key keeps the key) and
retry or drop a message. The rules are :mod:`gateway.core.forwarding`'s and
:mod:`gateway.core.outbox_ops`'s, as for the REST API and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.core import forwarding, outbox_ops
from gateway.core import services as svc
from gateway.core.forwarding import TargetInput
from gateway.domain import OutboxEntry, Service, ServiceForwarding
from gateway.errors import Invalid, NotFound
from gateway.http.ui._web import agent, back, blueprint, form, page, read, requires, write
from gateway.store import Reader, Tx


@dataclass(frozen=True, slots=True)
class ForwardingView:
    """What the forwarding page shows."""

    service: Service
    forwarding: ServiceForwarding
    messages: list[OutboxEntry]


def _view(reader: Reader, service_id: str) -> ForwardingView:
    service = svc.get_service(reader, service_id)
    settings = forwarding.get_forwarding(reader, service.id)
    ids = [t.id for t in settings.targets]
    messages = reader.forward_entries(ids, outbox_ops.DEFAULT_STATES, limit=200)
    return ForwardingView(service, settings, messages)


def targets_text(settings: ServiceForwarding) -> str:
    """The form's text: one ``URL ROUTING_KEY`` line per target, keys as shown."""
    return "\n".join(f"{t.url} {forwarding.shown_key(t.routing_key)}" for t in settings.targets)


def parse_targets(text: str) -> list[TargetInput]:
    """The form's lines as targets (a line without a key is refused by the core)."""
    targets = []
    for line in text.splitlines():
        words = line.split()
        if words:
            targets.append(TargetInput(words[0], words[1] if len(words) > 1 else None))
    return targets


async def _page(
    service_id: str, errors: list[str], text: str | None = None, suppressed: bool | None = None
) -> ResponseReturnValue:
    view = await read(lambda r: _view(r, service_id))
    return await page(
        "service_forwarding.html",
        status=400 if errors else 200,
        view=view,
        errors=errors,
        targets=targets_text(view.forwarding) if text is None else text,
        suppressed=view.forwarding.forward_suppressed if suppressed is None else suppressed,
        shown_key=forwarding.shown_key,
    )


@blueprint.get("/services/<service_id>/forwarding")
@requires(Level.VIEW)
async def service_forwarding(service_id: str) -> ResponseReturnValue:
    """The targets and the forwarded events waiting or failed."""
    return await _page(service_id, [])


@blueprint.post("/services/<service_id>/forwarding")
@requires(Level.MANAGE)
async def service_forwarding_save(service_id: str) -> ResponseReturnValue:
    """Save the targets and the suppressed-events setting."""
    values = await form()
    text = values.get("targets", "")
    suppressed = values.get("forward_suppressed") == "on"
    by = agent()
    try:
        await write(
            lambda tx: forwarding.set_forwarding(
                tx,
                service_id,
                targets=parse_targets(text),
                forward_suppressed=suppressed,
                by=by,
            )
        )
    except Invalid as exc:
        return await _page(service_id, exc.errors, text, suppressed)
    return back("ui.service_forwarding", "Forwarding saved.", service_id=service_id)


def _own(tx: Tx, service_id: str, message_id: str) -> None:
    ids = {t.id for t in forwarding.get_forwarding(tx, service_id).targets}
    entry = tx.outbox_entry(message_id)
    if entry is None or entry.order_key.partition(":")[0] not in ids:
        raise NotFound("Message", message_id)


@blueprint.post("/services/<service_id>/forwarding/<message_id>/<action>")
@requires(Level.MANAGE)
async def service_forwarding_message(
    service_id: str, message_id: str, action: str
) -> ResponseReturnValue:
    """``retry`` or ``drop`` one forwarded event."""
    if action not in ("retry", "drop"):
        raise NotFound("Page", action)

    def act(tx: Tx) -> None:
        _own(tx, service_id, message_id)
        if action == "retry":
            outbox_ops.retry_message(tx, message_id)
        else:
            outbox_ops.drop_message(tx, message_id)

    await write(act)
    word = "will be sent again now" if action == "retry" else "dropped"
    return back("ui.service_forwarding", f"Message {message_id} {word}.", service_id=service_id)
