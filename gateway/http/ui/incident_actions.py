"""An incident page's forms beyond acknowledge and resolve: add a note, snooze, reopen,
reassign.

Forms over :mod:`gateway.core.incident_notes`, :func:`gateway.core.incidents.snooze`,
:func:`gateway.core.incident_reopen.reopen` and :func:`gateway.core.incident_reassign.reassign`;
a refusal comes back to the incident page as a notice, nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.core import incident_notes
from gateway.core import incidents as inc
from gateway.core.incident_reassign import Reassignment, reassign
from gateway.errors import OperationError
from gateway.http.ui._web import back, blueprint, context, form, requires
from gateway.http.ui.incidents import responder
from gateway.store import Tx

T = TypeVar("T")


async def _act(
    incident_id: str, job: Callable[[Tx], T], refused: str, done: Callable[[T], str]
) -> ResponseReturnValue:
    """Run one form's change; back to the incident page saying what happened, or why not."""
    try:
        result = await context().store.write(job)
    except OperationError as exc:
        detail = "; ".join(exc.errors) or exc.message
        return back("ui.incident_page", f"{refused}: {detail}.", incident_id=incident_id)
    return back("ui.incident_page", done(result), incident_id=incident_id)


@blueprint.post("/incidents/<incident_id>/notes")
@requires(Level.RESPOND)
async def incident_note(incident_id: str) -> ResponseReturnValue:
    """Add the form's note to the incident's timeline."""
    by, content = responder(), (await form()).get("content", "")

    def job(tx: Tx) -> None:
        incident_notes.add_note(tx, incident_id, content, by=by, channel="web_ui")

    return await _act(incident_id, job, "Note not added", lambda _: "Note added.")


@blueprint.post("/incidents/<incident_id>/snooze")
@requires(Level.RESPOND)
async def incident_snooze(incident_id: str) -> ResponseReturnValue:
    """Snooze the acknowledged incident for the chosen number of seconds."""
    by, chosen = responder(), (await form()).get("duration", "")
    seconds = int(chosen) if chosen.isdigit() else 0

    def job(tx: Tx) -> None:
        inc.snooze(tx, incident_id, seconds, by=by, channel="web_ui")

    return await _act(incident_id, job, "Not snoozed", lambda _: "Incident snoozed.")


@blueprint.post("/incidents/<incident_id>/reopen")
@requires(Level.RESPOND)
async def incident_reopen(incident_id: str) -> ResponseReturnValue:
    """Reopen the resolved incident as triggered, or acknowledged by the form's choice."""
    by, status = responder(), (await form()).get("status", "triggered")

    def job(tx: Tx) -> int:
        return inc.reopen(tx, incident_id, status, by=by, channel="web_ui").number

    return await _act(
        incident_id, job, "Not reopened", lambda number: f"Incident #{number} reopened."
    )


@blueprint.post("/incidents/<incident_id>/reassign")
@requires(Level.RESPOND)
async def incident_reassign(incident_id: str) -> ResponseReturnValue:
    """Reassign to the chosen user (``user_id``) or escalation level (``escalation_level``)."""
    by, values = responder(), await form()
    user_id, level = values.get("user_id", ""), values.get("escalation_level", "")
    if level:
        # -1 is out of every range: the core refuses it naming the levels there are.
        change = Reassignment(escalation_level=int(level) if level.isdigit() else -1)
    else:
        change = Reassignment(user_ids=(user_id,) if user_id else ())

    def job(tx: Tx) -> None:
        reassign(tx, incident_id, change, by=by, channel="web_ui")

    word = f"escalated to level {level}" if level else "reassigned"
    return await _act(incident_id, job, "Not reassigned", lambda _: f"Incident {word}.")
