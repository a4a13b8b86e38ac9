"""REST resource: vendors (to be written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("rest_vendors", __name__)
