"""REST resource: an incident's notes and its snooze (PagerDuty REST v2 shapes).

``GET /incidents/{id}/notes`` needs any role; adding a note and snoozing need
``limited_user`` (Responder) or above and the ``From`` header. The rules live in
:mod:`gateway.core.incident_notes` and :func:`gateway.core.incidents.snooze`; this module
only speaks HTTP.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from gateway import shapes
from gateway.auth import Level
from gateway.core import incident_notes, incident_reads
from gateway.core import incidents as core
from gateway.http.rest._common import context, json_body, requester, requires
from gateway.http.rest.bodies import incident_object, rest_urls
from gateway.store import Reader, Tx

__all__ = ["blueprint"]

blueprint = Blueprint("rest_incident_actions", __name__)


@blueprint.get("/incidents/<ident>/notes")
@requires(Level.VIEW)
async def list_notes(ident: str) -> dict[str, Any]:
    """``GET /incidents/{id}/notes``: every note, oldest first (PagerDuty does not page them)."""

    urls = rest_urls()  # the request's, read here: the job runs in another thread

    def job(reader: Reader) -> list[dict[str, Any]]:
        incident = incident_reads.find_incident(reader, ident)
        return [
            shapes.note_object(urls, reader, entry, incident)
            for entry in incident_notes.notes(reader, incident.id)
        ]

    return {"notes": await context().store.read(job)}


@blueprint.post("/incidents/<ident>/notes")
@requires(Level.RESPOND)
async def create_note(ident: str) -> tuple[dict[str, Any], int]:
    """``POST /incidents/{id}/notes`` with ``{"note": {"content": "..."}}``; 200 and the note.

    PagerDuty answers a new note with 200, not 201.
    """
    by = requester()
    body = await json_body("note")
    urls = rest_urls()

    def job(tx: Tx) -> dict[str, Any]:
        entry = incident_notes.add_note(tx, ident, body.get("content"), by=by)
        incident = incident_reads.find_incident(tx, ident)
        return shapes.note_object(urls, tx, entry, incident)

    return {"note": await context().store.write(job)}, 200


@blueprint.post("/incidents/<ident>/snooze")
@requires(Level.RESPOND)
async def snooze(ident: str) -> tuple[dict[str, Any], int]:
    """``POST /incidents/{id}/snooze`` with ``{"duration": seconds}``; 201 and the incident."""
    by = requester()
    body = await json_body("snooze")
    duration = body.get("duration")

    def job(tx: Tx) -> str:
        return core.snooze(tx, ident, duration, by=by).id  # type: ignore[arg-type]  # core checks

    incident_id = await context().store.write(job)

    def render(reader: Reader) -> dict[str, Any]:
        found = incident_reads.find_incident(reader, incident_id)
        return incident_object(reader, incident_reads.incident_details(reader, [found])[0])

    return {"incident": await context().store.read(render)}, 201
