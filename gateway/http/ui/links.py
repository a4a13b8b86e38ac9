"""Where the REST API's ``html_url`` links land: each REST path under ``/ui`` has a page.

``gateway.http.rest._common.html_url`` prefixes the REST path with ``/ui``;
objects without a page of their own redirect to the page that shows them.
"""

from __future__ import annotations

from quart import redirect, url_for
from quart.typing import ResponseReturnValue

from gateway.auth import Level
from gateway.core import maintenance
from gateway.http.ui._web import PageError, blueprint, read, requires


@blueprint.get("/services/<service_id>/integrations/<integration_id>")
@requires(Level.VIEW)
async def integration_link(service_id: str, integration_id: str) -> ResponseReturnValue:
    """An integration is shown on its service's Integrations tab."""
    target = url_for("ui.service_integrations", service_id=service_id)
    return redirect(f"{target}#integration-{integration_id}")


@blueprint.get("/incidents/<incident_id>/alerts/<alert_id>")
@requires(Level.VIEW)
async def alert_link(incident_id: str, alert_id: str) -> ResponseReturnValue:
    """An alert is shown on its incident's page."""
    return redirect(url_for("ui.incident_page", incident_id=incident_id))


@blueprint.get("/vendors/<vendor_id>")
@requires(Level.VIEW)
async def vendor_link(vendor_id: str) -> ResponseReturnValue:
    """A vendor is a row of the Vendors page."""
    return redirect(f"{url_for('ui.vendor_list')}#vendor-{vendor_id}")


@blueprint.get("/maintenance_windows/<window_id>")
@requires(Level.VIEW)
async def window_link(window_id: str) -> ResponseReturnValue:
    """A maintenance window is shown on the page of its first service."""
    window = await read(lambda r: maintenance.find_window(r, window_id))
    if not window.service_ids:
        raise PageError(404, f"Maintenance window {window_id} covers no service.")
    return redirect(url_for("ui.service_page", service_id=window.service_ids[0]))
