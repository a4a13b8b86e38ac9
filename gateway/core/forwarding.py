"""Forwarding upstream (relay mode): a service's ``forward_to`` rules and what each event enqueues.

A service may forward every event it accepts to upstream Events API v2 endpoints
(PagerDuty itself, or another alert-gateway), each with the routing key to use there.
:func:`set_forwarding` is the one way to change that (REST, the web UI and provisioning
call it); :func:`forward_accepted` is called by :func:`gateway.core.rules.apply_event` for
every applied event, in the writer's transaction, so an accepted event and its forwarded
copies commit together (the transactional outbox, :mod:`gateway.core.outbox`).

Each copy is one outbox message of kind :data:`KIND`: the accepted PD-CEF event as an
Events API v2 body (v1 and vendor events converted; the routing key replaced by the
target's), sent to ``<url>/v2/enqueue`` (change events to ``<url>/v2/change/enqueue``),
in order per target and dedup key. Delivery is :mod:`gateway.outbound.forward`'s.

Routing keys of upstream accounts are secrets: faces show them as :func:`shown_key`
(the last four characters), and a target sent back with its shown key keeps its key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec
import structlog

from gateway import cef
from gateway.core import outbox
from gateway.core.inputs import CONFIG, UNSET, Agent, Unset
from gateway.core.ownership import DECLARED
from gateway.core.services import get_service, record_change
from gateway.domain import ForwardTarget, ServiceForwarding
from gateway.errors import Invalid, Refused
from gateway.ids import new_object_id
from gateway.logs import redact
from gateway.model import Event, Outcome
from gateway.store import Reader, Tx

__all__ = [
    "CHANGE_PATH",
    "ENQUEUE_PATH",
    "KIND",
    "MAX_TARGETS",
    "TargetInput",
    "destination_of",
    "forward_accepted",
    "get_forwarding",
    "set_forwarding",
    "shown_key",
    "to_events_v2",
]

log = structlog.get_logger("gateway.forwarding")

#: The outbox kind of forwarded events.
KIND: Final = "forward"
ENQUEUE_PATH: Final = "/v2/enqueue"
CHANGE_PATH: Final = "/v2/change/enqueue"
#: Targets one service may have: each accepted event is copied once per target.
MAX_TARGETS: Final = 10
MAX_URL: Final = 2048

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class TargetInput:
    """A target as a face received it: the Events API base URL and the routing key there.

    ``routing_key`` may be the shown (redacted) form of the key a target with the same
    ``url`` already has: that target keeps its key (a GET answer sent back unchanged).
    """

    url: Any
    routing_key: Any


def shown_key(routing_key: str) -> str:
    """How faces show an upstream routing key: its last four characters (``…0001``)."""
    return redact(routing_key)


def destination_of(url: str, *, change: bool = False) -> str:
    """The endpoint a target's events (or change events) are posted to."""
    return url + (CHANGE_PATH if change else ENQUEUE_PATH)


# -- reads ----------------------------------------------------------------------------------


def get_forwarding(reader: Reader, service_id: str) -> ServiceForwarding:
    """The service's forwarding settings (no targets when it forwards nothing)."""
    return reader.service_forwarding(service_id)


# -- writes ---------------------------------------------------------------------------------


def set_forwarding(
    tx: Tx,
    service_id: str,
    *,
    targets: Sequence[TargetInput] | Unset = UNSET,
    forward_suppressed: Any = UNSET,
    by: Agent,
    declared: bool | None = None,
) -> ServiceForwarding:
    """Change a service's ``forward_to`` and ``forward_suppressed``; return the result.

    Every target is checked (http/https URL with a host and no query or fragment; a
    32-character routing key), and nothing changes when one is wrong. Where a target
    connects is checked later, at connect time, by the outbound address policy.
    A target whose URL and key are unchanged keeps its id (its queued messages stay
    listed under it). ``declared`` is for provisioning only: ``True`` marks the settings
    as the configuration file's (other agents are then refused), ``False`` releases them.
    """
    service = get_service(tx, service_id)
    current = tx.service_forwarding(service.id)
    errors: list[str] = []
    new_targets = current.targets
    if not isinstance(targets, Unset):
        new_targets = _targets(targets, current.targets, errors)
    suppressed = current.forward_suppressed
    if not isinstance(forward_suppressed, Unset):
        if not isinstance(forward_suppressed, bool):
            errors.append("forward_suppressed must be true or false")
        else:
            suppressed = forward_suppressed
    if errors:
        raise Invalid(errors)
    changed = []
    if _pairs(new_targets) != _pairs(current.targets):
        changed.append("forward_to")
    if suppressed != current.forward_suppressed:
        changed.append("forward_suppressed")
    if current.declared and by.type != CONFIG.type:
        # The file owns what it declares (gateway.core.ownership), forward_to included; a
        # block without forward_to leaves forwarding to runtime edits.
        _refuse_declared(service.name, changed)
    now_declared = current.declared if declared is None else declared
    if not changed and now_declared == current.declared:
        return current
    result = ServiceForwarding(service.id, new_targets, suppressed, now_declared)
    tx.put_service_forwarding(result)
    if changed:
        record_change(
            tx,
            "service_update",
            by,
            service.id,
            None,
            f"Service {service.name} updated: {', '.join(changed)}",
            {"changed": changed, "forward_to": [_shown(t) for t in new_targets]},
        )
        log.info(
            "service.forwarding_updated",
            service_id=service.id,
            targets=[_shown(t) for t in new_targets],
            forward_suppressed=suppressed,
            by=by.type,
        )
    return result


def _refuse_declared(name: str, changed: Sequence[str]) -> None:
    """Refuse a runtime change of forwarding the configuration file declares."""
    if changed:
        raise Refused(
            DECLARED,
            code=2001,
            errors=[
                f"Service {name!r}'s forwarding is declared in the configuration file; "
                f"change it there (refused: {', '.join(changed)})"
            ],
        )


def _shown(target: ForwardTarget) -> dict[str, str]:
    return {"url": target.url, "routing_key": shown_key(target.routing_key)}


def _pairs(targets: Sequence[ForwardTarget]) -> list[tuple[str, str]]:
    return [(t.url, t.routing_key) for t in targets]


def _targets(
    given: Sequence[TargetInput], current: Sequence[ForwardTarget], errors: list[str]
) -> tuple[ForwardTarget, ...]:
    """Check and resolve the new target list; keep ids (and shown keys) of known targets."""
    if len(given) > MAX_TARGETS:
        errors.append(f"forward_to may list at most {MAX_TARGETS} targets")
        return ()
    out: list[ForwardTarget] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(given):
        url = _url(item.url, f"forward_to[{i}].url", errors)
        key = _key(item.routing_key, url, current, f"forward_to[{i}].routing_key", errors)
        if url is None or key is None:
            continue
        if (url, key) in seen:
            errors.append(f"forward_to[{i}] repeats a target (same url and routing_key)")
            continue
        seen.add((url, key))
        known = next((t for t in current if (t.url, t.routing_key) == (url, key)), None)
        out.append(known or ForwardTarget(new_object_id("F"), url, key))
    return tuple(out)


def _url(value: Any, name: str, errors: list[str]) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{name} must be an http or https URL (the Events API base)")
        return None
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError on a bad port
    except ValueError:
        errors.append(f"{name} is not a valid URL")
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(f"{name} must be an http or https URL with a host")
        return None
    if parts.query or parts.fragment:
        errors.append(f"{name} must not have a query or fragment (it is the Events API base)")
        return None
    if len(url) > MAX_URL:
        errors.append(f"{name} must be at most {MAX_URL} characters")
        return None
    return url


def _key(
    value: Any, url: str | None, current: Sequence[ForwardTarget], name: str, errors: list[str]
) -> str | None:
    if not isinstance(value, str):
        errors.append(f"{name} must be a string of 32 letters and digits")
        return None
    for target in current:
        if target.url == url and shown_key(target.routing_key) == value:
            return target.routing_key  # the shown key sent back: unchanged
    if cef.routing_key_errors(value):
        errors.append(f"{name} must be 32 letters and digits")
        return None
    return value


# -- what an accepted event enqueues ---------------------------------------------------------


def forward_accepted(tx: Tx, event: Event, outcome: Outcome) -> int:
    """Enqueue the accepted ``event``'s copies for the service's targets; how many.

    Called for every event :func:`gateway.core.rules.apply_event` applied, in its
    transaction. A suppressed event (service disabled or in maintenance) is forwarded
    only with ``forward_suppressed``: by default the relay does what the service does.
    """
    if outcome.service_id is None:
        return 0
    forwarding = tx.service_forwarding(outcome.service_id)
    if not forwarding.targets:
        return 0
    if outcome.status == "suppressed" and not forwarding.forward_suppressed:
        return 0
    change = event.event_action == "change"
    # Per target and dedup key: a resolve never overtakes its trigger upstream. Change
    # events have no order among themselves.
    suffix = f"change:{outcome.change_id}" if change else outcome.dedup_key
    for target in forwarding.targets:
        outbox.enqueue(
            tx,
            kind=KIND,
            destination=destination_of(target.url, change=change),
            order_key=f"{target.id}:{suffix}",
            body=to_events_v2(event, target.routing_key, outcome.dedup_key),
        )
    return len(forwarding.targets)


def to_events_v2(event: Event, routing_key: str, dedup_key: str) -> bytes:
    """The event as an Events API v2 body (alert event, or change event) for ``routing_key``.

    ``dedup_key`` is the one the gateway used (generated for a trigger without one), so
    the upstream's alert and ours share it and a later resolve finds it there too.
    """
    payload = {
        "summary": event.summary,
        "source": event.source,
        "severity": event.severity,
        "timestamp": event.timestamp,
        "component": event.component,
        "group": event.group,
        "class": event.class_,
        "custom_details": event.custom_details,
    }
    links = [msgspec.to_builtins(link) for link in event.links]
    if event.event_action == "change":
        body: dict[str, Any] = {
            "routing_key": routing_key,
            "payload": {
                k: payload[k]
                for k in ("summary", "source", "timestamp", "custom_details")
                if payload[k] is not None
            },
        }
        if links:
            body["links"] = links
        return _encode(body)
    body = {"routing_key": routing_key, "event_action": event.event_action, "dedup_key": dedup_key}
    if event.event_action == "trigger":
        body["payload"] = {k: v for k, v in payload.items() if v is not None}
        if event.images:
            body["images"] = [msgspec.to_builtins(image) for image in event.images]
        if links:
            body["links"] = links
        for name in ("client", "client_url"):
            value = getattr(event, name)
            if value is not None:
                body[name] = value
    return _encode(body)
