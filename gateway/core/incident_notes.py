"""Notes on an incident: PagerDuty's annotations, kept as ``annotate_log_entry`` lines.

A note is a timeline entry (its id is the note's id, its agent the note's author), so it
shows in the timeline, lives and dies with the incident under retention, and needs no
table of its own. Adding one emits the ``incident.annotated`` webhook in the same
transaction (:func:`gateway.core.webhook_events.produce_annotated`).
"""

from __future__ import annotations

from typing import Final

import structlog

from gateway.core.incident_reads import find_incident
from gateway.core.incidents import Channel
from gateway.core.webhook_events import produce_annotated
from gateway.domain import LogEntry
from gateway.errors import Invalid, Refused
from gateway.store import Reader, Tx

__all__ = ["MAX_NOTES", "MAX_NOTE_CHARS", "NOTE_ENTRY", "add_note", "notes"]

log = structlog.get_logger("gateway.incidents")

NOTE_ENTRY: Final = "annotate_log_entry"
#: PagerDuty's limit of notes on one incident.
MAX_NOTES: Final = 2000
#: The longest note kept (PagerDuty's web app stops at 25,000 characters too).
MAX_NOTE_CHARS: Final = 25_000


def add_note(
    tx: Tx, incident_id: str | int, content: object, *, by: str, channel: Channel = "api"
) -> LogEntry:
    """Add a note by ``by`` to an incident (id or number, any status); return it.

    Refused: empty or over-long content (:class:`Invalid`), an incident with
    :data:`MAX_NOTES` notes already (:class:`Refused`).
    """
    if not isinstance(content, str) or not content.strip():
        raise Invalid(["'content' is required"])
    if len(content) > MAX_NOTE_CHARS:
        raise Invalid([f"'content' must be at most {MAX_NOTE_CHARS} characters"])
    incident = find_incident(tx, incident_id)
    if tx.count_incident_log_entries(incident.id, type=NOTE_ENTRY, at_most=MAX_NOTES) >= MAX_NOTES:
        raise Refused(
            "Note Limit Reached", errors=[f"An incident can have at most {MAX_NOTES} notes"]
        )
    entry_id = tx.insert_log_entry(
        NOTE_ENTRY,
        service_id=incident.service_id,
        integration_id=None,
        incident_id=incident.id,
        agent_type="user",
        agent_id=by,
        summary=f"Note added by {by}",
        details={"channel": channel, "content": content},
    )
    tx.touch_incident(incident.id)
    entry = tx.log_entry(entry_id)
    assert entry is not None
    produce_annotated(tx, incident, entry)
    log.info("incident.annotated", incident=incident.id, number=incident.number, by=by)
    return entry


def notes(reader: Reader, incident_id: str | int) -> list[LogEntry]:
    """An incident's notes, oldest first (all of them: at most :data:`MAX_NOTES`)."""
    incident = find_incident(reader, incident_id)
    return reader.last_log_entries(incident.id, NOTE_ENTRY, MAX_NOTES)
