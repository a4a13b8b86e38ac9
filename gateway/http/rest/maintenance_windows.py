"""REST resource: maintenance_windows (to be written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("rest_maintenance_windows", __name__)
