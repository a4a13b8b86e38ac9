"""REST resource: services (to be written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("rest_services", __name__)
