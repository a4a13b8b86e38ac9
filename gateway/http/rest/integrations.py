"""REST resource: integrations (to be written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("rest_integrations", __name__)
