"""Nagios (and Icinga) notifications from ``pagerduty_nagios.pl``.

The script POSTs its queue files, form-encoded, to
``/nagios/2010-04-15/create_event``: every ``NAGIOS_*`` macro with the prefix
stripped, ``pd_nagios_object`` (``host`` or ``service``) and ``pd_version``.
The integration key travels in ``CONTACTPAGER`` (the contact's ``pager``).
Keys and descriptions are PagerDuty's own (``pd-nagios``), so incidents
opened before a migration still resolve afterwards. Mapping rules:
``shared/reference/vendor-mapping.md`` §1.4.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import structlog

from gateway.pluginkit import (
    Event,
    InboundRequest,
    InvalidEvent,
    Link,
    Outcome,
    Response,
    UnrecognizedEvent,
    Vendor,
    fit_dedup_key,
    fit_summary,
    hookimpl,
    missing,
    redact,
    routing_key_errors,
)

from ._vendor import clip, epoch_timestamp, finish, unknown_settings

log = structlog.get_logger(__name__)

VENDOR_ID = "PGWNAGI"  # gateway-assigned: PagerDuty's own Nagios vendor id is not published
INTEGRATION_TYPE = "nagios_inbound_integration"
PATH = "/nagios/2010-04-15/create_event"
CLIENT = "Nagios"

ACTIONS = {"PROBLEM": "trigger", "ACKNOWLEDGEMENT": "acknowledge", "RECOVERY": "resolve"}
SERVICE_SEVERITY = {"CRITICAL": "critical", "WARNING": "warning", "UNKNOWN": "error"}
HOST_SEVERITY = {"DOWN": "critical", "UNREACHABLE": "error"}
# A PROBLEM in a state we cannot place still pages, loudly (PagerDuty's no-severity rule).
DEFAULT_SEVERITY = "critical"
KEY_FIELD = "CONTACTPAGER"

# More fields than a real Nagios ever sends (about 200); a bound on hostile bodies.
MAX_FIELDS = 5000


def check_settings(raw: Mapping[str, Any]) -> list[str]:
    """Nagios has no settings: any key is a mistake worth reporting at start-up."""
    return unknown_settings(raw, ())


def read_form(body: bytes) -> dict[str, str]:
    """Decode an ``application/x-www-form-urlencoded`` body; the last duplicate wins.

    Raises :class:`UnrecognizedEvent` when the body is not a form at all
    (JSON, or no ``name=value`` pair).
    """
    # Percent-escapes are decoded as UTF-8 with replacement: Nagios output may be Latin-1,
    # and an odd byte in a plugin's output must not lose the page.
    text = body.decode("utf-8", "replace")
    stripped = text.lstrip()
    if not stripped or stripped[0] in "{[" or "=" not in text:
        raise UnrecognizedEvent("form parse error")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError as exc:  # more than MAX_FIELDS fields
        raise UnrecognizedEvent("form parse error") from exc
    return dict(pairs)


def _object_kind(form: dict[str, str], errors: list[str]) -> str:
    kind = form.get("pd_nagios_object", "").strip().lower()
    if kind in ("host", "service"):
        return kind
    if kind:
        errors.append("'pd_nagios_object' is invalid (must be host or service)")
        return "service"
    # Older configurations omit it: a service notification always names its service.
    return "service" if form.get("SERVICEDESC") else "host"


def _routing_key(form: dict[str, str], request: InboundRequest, errors: list[str]) -> str:
    # A key in the URL is authoritative; CONTACTPAGER serves the PagerDuty-compatible path.
    key = request.integration_key or form.get(KEY_FIELD, "").strip()
    if not key:
        errors.append(missing(KEY_FIELD))
        return ""
    problems = routing_key_errors(key)
    errors.extend(p.replace("'routing_key'", f"'{KEY_FIELD}'") for p in problems)
    return key


def _links(form: dict[str, str], kind: str) -> list[Link]:
    links = []
    names = ("SERVICENOTESURL", "HOSTNOTESURL") if kind == "service" else ("HOSTNOTESURL",)
    for name in names:
        # Kept exactly as configured, whatever its scheme: the UI makes only http(s)
        # links followable and shows any other as text.
        url = form.get(name, "")
        if url.strip():
            links.append(Link(href=url, text="Notes"))
    return links


async def parse(request: InboundRequest) -> list[Event]:
    """Parse one ``pagerduty_nagios.pl`` form POST into zero or one event."""
    form = read_form(request.body)
    errors: list[str] = []
    routing_key = _routing_key(form, request, errors)
    notification = form.get("NOTIFICATIONTYPE", "").strip().upper()
    if not notification:
        errors.append(missing("NOTIFICATIONTYPE"))
    kind = _object_kind(form, errors)
    if errors:
        raise InvalidEvent(errors)
    action = ACTIONS.get(notification)
    if action is None:
        # FLAPPING*, DOWNTIME*, CUSTOM...: PagerDuty drops them; answer 2xx so the
        # script deletes its queue file.
        log.info("nagios.notification_ignored", type=clip(notification), key=redact(routing_key))
        return []
    required = (
        ("HOSTNAME", "HOSTSTATE")
        if kind == "host"
        else (
            "HOSTNAME",
            "SERVICEDESC",
            "SERVICESTATE",
        )
    )
    for name in required:
        if not form.get(name, "").strip():
            errors.append(missing(name))
    if errors:
        raise InvalidEvent(errors)
    host = form["HOSTNAME"]
    if kind == "service":
        service, state = form["SERVICEDESC"], form["SERVICESTATE"]
        dedup_key = f"event_source=service;host_name={host};service_desc={service}"
        summary = f"SERVICEDESC={service}; SERVICESTATE={state}; HOSTNAME={host}"
        severity = SERVICE_SEVERITY.get(state.strip().upper(), DEFAULT_SEVERITY)
    else:
        service, state = None, form["HOSTSTATE"]
        dedup_key = f"event_source=host;host_name={host}"
        summary = f"HOSTNAME={host}; HOSTSTATE={state}"
        severity = HOST_SEVERITY.get(state.strip().upper(), DEFAULT_SEVERITY)
    # The key is a secret: drop CONTACTPAGER and any other macro that repeats it.
    details: dict[str, Any] = {
        name: value
        for name, value in form.items()
        if name != KEY_FIELD and value.strip() != routing_key
    }
    event = Event(
        routing_key=routing_key,
        event_action=action,  # type: ignore[arg-type]
        dedup_key=fit_dedup_key(dedup_key),
        summary=fit_summary(summary),
        source=host,
        severity="info" if action != "trigger" else severity,  # type: ignore[arg-type]
        timestamp=epoch_timestamp(form.get("TIMET")),
        component=service,
        group=form.get("HOSTGROUPNAME") or None,
        class_=f"nagios_{kind}",
        custom_details=details,
        links=_links(form, kind),
        client=CLIENT,
    )
    return [finish(event)]


def render_success(outcomes: list[Outcome]) -> Response:
    """200, like PagerDuty's endpoint; ``pagerduty_nagios.pl`` ignores the body."""
    body: dict[str, Any] = {"status": "success", "message": "Event processed"}
    if outcomes:
        body["incident_key"] = outcomes[0].dedup_key
    return Response(200, body)


VENDOR = Vendor(
    id=VENDOR_ID,
    name="Nagios",
    integration_type=INTEGRATION_TYPE,
    parse=parse,
    paths=(PATH,),
    aliases=("nagios", "icinga"),
    description=(
        "Nagios/Icinga notifications from pagerduty_nagios.pl (form POST, key in CONTACTPAGER)."
    ),
    website_url="https://www.nagios.org/",
    render_success=render_success,
    check_settings=check_settings,
)


@hookimpl
def register_vendors() -> list[Vendor]:
    """Register the Nagios vendor."""
    return [VENDOR]
