"""The whole plugin contract of alert-gateway.

A plugin is a module (or object) with functions marked ``@hookimpl``
(imported from :mod:`gateway.pluginkit`, the plugin face) whose names match
the specifications below. It is found through the entry-point group
``alert_gateway.plugins``; the built-in vendors (the folder ``plugins/``,
installed as ``alert_gateway_plugins``) are registered the same way as
third-party ones.

Hooks are synchronous and must not block: they run on the daemon's event
loop. Vendor parsing, which may need I/O, is not a hook: a plugin returns
:class:`~gateway.pluginkit.Vendor` objects whose async ``parse`` the core awaits.

Order: implementations are called in pluggy's documented order, the plugin
registered last first (entry points register sorted by name), with
``@hookimpl(tryfirst=True)`` before and ``trylast=True`` after the others.
Each implementation is called on its own so that a failure names its plugin;
hook wrappers (``wrapper=True``, ``hookwrapper=True``) and ``async def``
hooks are therefore refused at start-up with a ``ConfigError`` naming the
plugin and the hook.

Phases, in the order an event meets them:

1. start-up: :func:`register_vendors`, :func:`register_delivery_kinds`,
   :func:`register_contact_method_types`
2. each event, before routing: :func:`enrich_event`, then :func:`filter_event`
3. after commit: :func:`incident_changed`
"""

from __future__ import annotations

from typing import Any

import pluggy

from gateway.model import ContactMethodType, Event, IncidentChange, Vendor

PROJECT = "alert_gateway"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_vendors() -> list[Vendor]:  # type: ignore[empty-body]
    """Return the vendors this plugin understands.

    Called once at start-up. Each :class:`~gateway.pluginkit.Vendor` brings its
    PagerDuty-style id, name, integration type, the exact inbound paths it
    serves (if any) and its async ``parse``. Two plugins registering the
    same vendor id, returning anything but a list of ``Vendor``, or raising
    is a start-up ``ConfigError`` naming the plugin(s).
    """


@hookspec
def register_delivery_kinds() -> list[Any]:  # type: ignore[empty-body]
    """Return the kinds of outbound message this plugin delivers.

    Called once at start-up. Each item is a
    :class:`~gateway.pluginkit.DeliveryKind`: a ``name``, a ``policy``
    (:class:`~gateway.pluginkit.RetryPolicy`), ``max_pending`` and
    ``drop_on_overflow``, an async ``send(message, env)`` that makes one attempt
    and returns ``(outcome, status_code)``, and ``settled(tx, message,
    outcome)``. The plugin's core code enqueues messages of its kind with
    ``gateway.core.outbox.enqueue`` (typically from a producer); the daemon's
    deliverers send them. Two kinds with one name, or an item missing part of
    the protocol, is a start-up ``ConfigError`` naming the plugin.
    """


@hookspec
def enrich_event(event: Event, vendor_id: str) -> None:
    """Adjust an event in place after parsing and before routing.

    Use it to add ``custom_details``, normalise a ``source`` or set a
    ``component``. Every implementation is called, in pluggy's order (the
    last registered first). The event is validated again afterwards, so an
    enrichment that breaks a rule (say, a summary over 1024 characters) fails
    that request with a 400. An exception fails the request with a 500 naming
    the plugin, logged as ``plugin.hook_failed``.
    """


@hookspec
def filter_event(event: Event, vendor_id: str) -> bool | None:
    """Return ``False`` to drop an event before it is routed.

    ``None`` or ``True`` keeps it. Called after every ``enrich_event``, in
    pluggy's order; the first ``False`` drops the event and the remaining
    implementations are not asked. A dropped event is answered as accepted
    (the sender must not retry it) and logged as ``event.filtered`` (info,
    with ``plugin``, ``vendor``, ``event_action``, the redacted
    ``routing_key`` and ``dedup_key``), but is stored nowhere. An exception
    fails the request with a 500 naming the plugin.
    """


@hookspec
def incident_changed(change: IncidentChange) -> None:
    """Observe an incident that was created or changed status.

    Called after the change is committed to disk, once per change, in commit
    order; the plugins' implementations in pluggy's order. Use it for
    notifications; anything slow should be handed to a task of the plugin's
    own, because this runs on the event loop. An exception here is logged
    (``plugin.hook_failed`` with the plugin's name), does not undo the change
    and does not keep the other plugins' implementations from running.
    """


@hookspec
def register_contact_method_types() -> list[ContactMethodType]:  # type: ignore[empty-body]
    """Return the kinds of user contact method this plugin can reach people through.

    Called once at start-up. Each :class:`~gateway.pluginkit.ContactMethodType` has a
    ``name`` (the contact method ``type``, e.g. ``sms_contact_method``), a ``summary``
    for people ("SMS") and ``check_address(address) -> list[str]``, the problems with an
    address (empty when valid). Only types some loaded plugin (or the gateway itself:
    ``email_contact_method``) registers can be stored; others are refused with a 400.
    Two plugins registering one name, a name the gateway has built in, or anything but a
    list of ``ContactMethodType`` is a start-up ``ConfigError`` naming the plugin.
    """
