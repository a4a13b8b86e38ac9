"""PagerDuty's REST API v2 subset: services, integrations, vendors, incidents, windows, webhooks,
users.

Each resource is a blueprint in its own module; :func:`register` mounts them
all and installs the JSON error handler every resource relies on.
"""

from __future__ import annotations

from quart import Response
from quart_trio import QuartTrio

from gateway.errors import OperationError
from gateway.http.rest import (
    contact_methods,
    escalation_policies,
    forwarding,
    incident_actions,
    incidents,
    integrations,
    maintenance_windows,
    notifications,
    oncalls,
    schedules,
    services,
    users,
    vendors,
    webhook_subscriptions,
)
from gateway.http.rest._common import RestError, rest_error

__all__ = ["RestError", "register"]

BLUEPRINTS = (
    services.blueprint,
    integrations.blueprint,
    vendors.blueprint,
    incidents.blueprint,
    maintenance_windows.blueprint,
    forwarding.blueprint,
    webhook_subscriptions.blueprint,
    users.blueprint,
    contact_methods.blueprint,
    schedules.blueprint,
    notifications.blueprint,
    incident_actions.blueprint,
    escalation_policies.blueprint,
    oncalls.blueprint,
)


def register(app: QuartTrio) -> None:
    """Mount every REST resource on ``app``; answer :class:`RestError` and the domain layer's
    :class:`~gateway.errors.OperationError` (through :func:`rest_error`) as PagerDuty's JSON.

    The web UI's blueprint has its own handler, which Quart tries first for its pages.
    """
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.errorhandler(RestError)
    async def answer(error: RestError) -> Response:
        return error.response()

    @app.errorhandler(OperationError)
    async def refused(error: OperationError) -> Response:
        return rest_error(error).response()
