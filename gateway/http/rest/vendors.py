"""REST resource: vendors, as the loaded plugins registered them (read-only).

``GET /vendors`` (``query=``, ``limit``/``offset``/``total``) and
``GET /vendors/{id}``. Generic protocols (Events API v1/v2, plain email) are
integration types, not vendors, so they are not listed, as in PagerDuty.
Fields follow PagerDuty's vendor object, including the extras its real
responses carry (``generic_service_type``, ``alert_creation_*``,
``is_pd_cef``, ``connectable``, ``long_name``).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from gateway.auth import Level
from gateway.errors import NotFound
from gateway.http.rest._common import (
    api_url,
    context,
    page_args,
    paginated,
    requires,
)
from gateway.model import Vendor

blueprint = Blueprint("rest_vendors", __name__)


def listed_vendors() -> list[Vendor]:
    """The vendors ``GET /vendors`` shows: every non-generic one, by name."""
    vendors = [v for v in context().plugins.vendors.values() if not v.generic]
    vendors.sort(key=lambda v: (v.name.casefold(), v.id))
    return vendors


def vendor_body(vendor: Vendor) -> dict[str, Any]:
    """A vendor object in PagerDuty's shape."""
    path = f"/vendors/{vendor.id}"
    return {
        "id": vendor.id,
        "type": "vendor",
        "summary": vendor.name,
        "self": api_url(path),
        # PagerDuty's html_url for a vendor is its marketing page; the website is our nearest.
        "html_url": vendor.website_url,
        "name": vendor.name,
        "long_name": vendor.name,
        "website_url": vendor.website_url,
        "logo_url": None,
        "thumbnail_url": None,
        "description": vendor.description,
        "integration_guide_url": None,
        "generic_service_type": vendor.integration_type,
        "alert_creation_default": "create_alerts_and_incidents",
        "alert_creation_editable": True,
        "is_pd_cef": False,
        "connectable": False,
    }


@blueprint.get("/vendors")
@requires(Level.VIEW)
async def list_vendors() -> dict[str, Any]:
    """``GET /vendors``: paginated, optionally filtered by a name substring (``query``)."""
    page = page_args()
    vendors = listed_vendors()
    query = (request.args.get("query") or "").strip().casefold()
    if query:
        vendors = [
            v
            for v in vendors
            if query in v.name.casefold() or any(query == a.casefold() for a in v.aliases)
        ]
    body = paginated("vendors", vendors, page)
    body["vendors"] = [vendor_body(v) for v in body["vendors"]]
    return body


@blueprint.get("/vendors/<vendor_id>")
@requires(Level.VIEW)
async def get_vendor(vendor_id: str) -> dict[str, Any]:
    """``GET /vendors/{id}``: one vendor, wrapped as ``{"vendor": {...}}``."""
    vendor = context().plugins.vendors.get(vendor_id)
    if vendor is None or vendor.generic:
        raise NotFound("Vendor", vendor_id)
    return {"vendor": vendor_body(vendor)}
