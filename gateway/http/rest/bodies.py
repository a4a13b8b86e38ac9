"""PagerDuty's incident, alert, log entry and reference objects, rendered for the REST API.

Shared by the incidents and maintenance-window resources. The shaping itself is
:mod:`gateway.shapes` (the webhook payloads use it too); these bind it to the
request's base URL (:func:`rest_urls`).
"""

from __future__ import annotations

from typing import Any

from gateway import shapes
from gateway.core.incident_reads import IncidentDetails
from gateway.domain import Alert, Incident, LogEntry
from gateway.http.urls import base_url
from gateway.store import Reader

__all__ = [
    "agent_reference",
    "alert_object",
    "incident_object",
    "log_entry_object",
    "rest_urls",
    "service_reference",
]


def rest_urls() -> shapes.Urls:
    """This request's base for ``self`` and ``html_url`` (``[server] public_url`` when set)."""
    return shapes.Urls(base_url())


def service_reference(reader: Reader, service_id: str) -> dict[str, Any]:
    """A ``service_reference`` (a deleted service keeps its last name as the summary)."""
    return shapes.service_reference(rest_urls(), reader, service_id)


def agent_reference(reader: Reader, agent: tuple[str | None, str | None]) -> dict[str, Any] | None:
    """Who did something: a user (the ``From`` address) or an integration."""
    return shapes.agent_reference(rest_urls(), reader, agent)


def log_entry_object(reader: Reader, entry: LogEntry, incident: Incident | None) -> dict[str, Any]:
    """A log entry as PagerDuty shapes it (:func:`gateway.shapes.log_entry_object`)."""
    return shapes.log_entry_object(rest_urls(), reader, entry, incident)


def incident_object(
    reader: Reader, details: IncidentDetails, include: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """An incident as PagerDuty shapes it (:func:`gateway.shapes.incident_object`)."""
    return shapes.incident_object(rest_urls(), reader, details, include)


def alert_object(reader: Reader, alert: Alert, incident: Incident) -> dict[str, Any]:
    """An alert as PagerDuty shapes it (:func:`gateway.shapes.alert_object`)."""
    return shapes.alert_object(rest_urls(), reader, alert, incident)
