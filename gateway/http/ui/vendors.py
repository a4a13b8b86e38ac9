"""The Vendors page: what the loaded plugins provide and where each one listens."""

from __future__ import annotations

from dataclasses import dataclass

from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.http.ui._web import blueprint, context, page, requires
from gateway.http.urls import base_url
from gateway.model import Vendor

# PagerDuty's URL forms that carry the integration key (gateway/http/events.py serves them).
KEY_URL_FORMS = (
    "/integration/{key}/enqueue",
    "/x-ere/{key}",
    "/adapter/{name}/v1/{key}",
)


@dataclass(frozen=True, slots=True)
class VendorRow:
    """One vendor as the page shows it."""

    vendor: Vendor
    plugin: str
    urls: tuple[str, ...]


def vendor_rows() -> list[VendorRow]:
    """Every loaded vendor, generic ones (Events API) first, then by name."""
    host = context().plugins
    base = base_url()
    rows = []
    for vendor in host.vendors.values():
        # Generic vendors are reached by their exact paths (routing key in the body); the
        # others by a key in the URL, where every PagerDuty form works.
        urls = tuple(base + p for p in vendor.paths)
        if not vendor.generic:
            urls += tuple(base + form for form in KEY_URL_FORMS)
        rows.append(VendorRow(vendor, host.vendor_plugin.get(vendor.id, "?"), urls))
    rows.sort(key=lambda row: (not row.vendor.generic, row.vendor.name.lower()))
    return rows


@blueprint.get("/vendors")
@requires(Level.VIEW)
async def vendor_list() -> ResponseReturnValue:
    """The Vendors page."""
    return await page("vendors.html", rows=vendor_rows(), problems=context().plugins.problems)
