"""Maintenance windows: while one covers a service, the service's events open no incidents.

Pure functions on a :class:`~gateway.store.Tx` or :class:`~gateway.store.Reader`,
shared by the REST API, the CLI and the web UI. Refusals come from the one tree in
:mod:`gateway.errors` (``NotFound``, ``Invalid``, ``Refused``, ``PastWindow``).

A window needs no timer to end: the event rules ask the store whether a
window covers the event's own time (``Reader.route``/``in_maintenance``), so
at ``end_time`` the service simply takes events again.

Windows declared in the configuration file (``source == "config"``) are
replaced on every start and reload, so an edit through the API would be
silently undone: changing or ending them here is refused (code 2015) with a
message pointing at the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import structlog

from gateway.clock import iso, parse_iso
from gateway.core.inputs import parse_time
from gateway.domain import MaintenanceWindow
from gateway.errors import Invalid, NotFound, PastWindow, Refused
from gateway.store import Reader, Tx

__all__ = [
    "FILTERS",
    "create_window",
    "end_or_delete_window",
    "find_window",
    "list_windows",
    "update_window",
    "window_state",
]

log = structlog.get_logger("gateway.maintenance")

#: ``GET /maintenance_windows?filter=`` values; ``open`` is ongoing or future.
FILTERS = ("past", "future", "ongoing", "open", "all")
MAX_DESCRIPTION_CHARS = 10_000

WindowState = Literal["past", "ongoing", "future"]


def window_state(window: MaintenanceWindow, now: str) -> WindowState:
    """Whether the window has ended, is in force, or is still to come at ``now`` (ISO)."""
    if window.end_time <= now:
        return "past"
    if window.start_time <= now:
        return "ongoing"
    return "future"


def find_window(reader: Reader, window_id: str) -> MaintenanceWindow:
    """The window with this id, or :class:`NotFound`."""
    window = reader.maintenance_window(window_id)
    if window is None:
        raise NotFound("Maintenance Window", window_id)
    return window


def list_windows(
    reader: Reader,
    *,
    filter: str = "all",
    service_ids: Sequence[str] = (),
    query: str | None = None,
) -> list[MaintenanceWindow]:
    """Windows by start time: ``filter`` (see :data:`FILTERS`), any of ``service_ids``, and
    ``query`` found in the description (case-insensitive)."""
    if filter not in FILTERS:
        raise Invalid([f"'filter' must be one of {', '.join(FILTERS)}"])
    now = iso(reader.clock.now())
    wanted = {"open": ("ongoing", "future"), "all": ("past", "ongoing", "future")}.get(
        filter, (filter,)
    )
    needle = (query or "").casefold()
    return [
        w
        for w in reader.maintenance_windows()
        if window_state(w, now) in wanted
        and (not service_ids or set(service_ids) & set(w.service_ids))
        and needle in (w.description or "").casefold()
    ]


def _check_services(reader: Reader, service_ids: Sequence[str]) -> list[str]:
    if not service_ids:
        raise Invalid(["'services' must name at least one service"])
    missing = [s for s in service_ids if not isinstance(s, str) or reader.service(s) is None]
    if missing:
        raise Invalid([f"Service {s!r} not found" for s in missing])
    return list(dict.fromkeys(service_ids))


def _check_times(
    now: datetime, start: datetime, end: datetime, *, keep_start: bool = False
) -> tuple[str, str]:
    if not keep_start:
        start = max(start, now)  # PagerDuty: a start in the past becomes now
    if end <= now:
        raise Invalid(["'end_time' must be in the future"])
    if end <= start:
        raise Invalid(["'end_time' must be after 'start_time'"])
    return iso(start), iso(end)


def _check_description(description: str | None) -> None:
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS
    ):
        raise Invalid([f"'description' must be a string of at most {MAX_DESCRIPTION_CHARS}"])


def create_window(
    tx: Tx,
    services: Sequence[str],
    start: str | datetime,
    end: str | datetime,
    description: str | None = None,
    *,
    by: str,
) -> MaintenanceWindow:
    """Open a window over existing services (ids) from ``start`` to ``end``.

    A ``start`` in the past is set to now; ``end`` must be in the future and
    after the start. ``by`` is recorded as ``created_by``.
    """
    _check_description(description)
    service_ids = _check_services(tx, services)
    start_at, end_at = _check_times(
        parse_iso(tx.now), parse_time(start, "start_time"), parse_time(end, "end_time")
    )
    window_id = tx.insert_maintenance_window(
        description, start_at, end_at, service_ids, created_by=by
    )
    log.info(
        "maintenance.created",
        window=window_id,
        services=service_ids,
        start=start_at,
        end=end_at,
        by=by,
    )
    return find_window(tx, window_id)


def _editable(tx: Tx, window_id: str) -> tuple[MaintenanceWindow, WindowState]:
    window = find_window(tx, window_id)
    if window.source == "config":
        raise Refused(
            "Invalid operation",
            code=2015,
            errors=[
                f"Maintenance window {window.id} comes from the configuration file; "
                "change [[maintenance_windows]] there and reload"
            ],
        )
    return window, window_state(window, tx.now)


def update_window(
    tx: Tx,
    window_id: str,
    *,
    services: Sequence[str] | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    description: str | None = None,
    by: str | None = None,
) -> MaintenanceWindow:
    """Change a future or ongoing window; ``None`` leaves a field as it is.

    A window that has ended is refused (:class:`PastWindow`). An unchanged
    ``start`` is kept even when it is in the past (clients PUT the whole
    object back); a new one in the past becomes now.
    """
    window, state = _editable(tx, window_id)
    if state == "past":
        raise PastWindow()
    _check_description(description)
    new_start = parse_time(start, "start_time") if start is not None else None
    keep = new_start is None or iso(new_start) == window.start_time
    if new_start is None or keep:  # an unchanged start is never moved, even if past
        new_start = parse_iso(window.start_time)
    new_end = parse_time(end, "end_time") if end is not None else parse_iso(window.end_time)
    start_at, end_at = _check_times(parse_iso(tx.now), new_start, new_end, keep_start=keep)
    service_ids = _check_services(tx, services) if services is not None else None
    fields: dict[str, str] = {"start_time": start_at, "end_time": end_at}
    if description is not None:
        fields["description"] = description
    tx.update_maintenance_window(window.id, service_ids=service_ids, **fields)
    log.info("maintenance.updated", window=window.id, start=start_at, end=end_at, by=by)
    return find_window(tx, window.id)


def end_or_delete_window(tx: Tx, window_id: str, *, by: str | None = None) -> str:
    """End an ongoing window now or delete a future one; return ``"ended"`` or ``"deleted"``.

    A window that has already ended is refused with :class:`PastWindow`
    (PagerDuty's 5003, answered 405 by the REST API).
    """
    window, state = _editable(tx, window_id)
    if state == "past":
        raise PastWindow()
    if state == "future":
        tx.delete_maintenance_window(window.id)
        log.info("maintenance.deleted", window=window.id, by=by)
        return "deleted"
    tx.update_maintenance_window(window.id, end_time=tx.now)
    log.info("maintenance.ended", window=window.id, at=tx.now, by=by)
    return "ended"
