"""REST resource: incidents (to be written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("rest_incidents", __name__)
