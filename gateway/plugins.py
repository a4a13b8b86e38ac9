"""The plugin manager: entry-point discovery, isolation and the vendor registry."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy
import structlog

from gateway import hookspecs
from gateway.domain import Integration
from gateway.errors import ConfigError, PluginFailure
from gateway.logs import redact
from gateway.model import ContactMethodType, Event, IncidentChange, Vendor

ENTRY_POINT_GROUP = "alert_gateway.plugins"

log = structlog.get_logger("gateway.plugins")


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One loaded plugin: its name, where it came from, and what it provides."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    vendors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PluginProblem:
    """A plugin that could not be loaded, and why."""

    name: str
    error: str


@dataclass
class PluginHost:
    """The loaded plugins and the vendors they registered.

    Built once at start-up by :func:`load_plugins`; lookups are dict reads,
    cheap enough for the ingest hot path.
    """

    manager: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    problems: list[PluginProblem] = field(default_factory=list)
    vendors: dict[str, Vendor] = field(default_factory=dict)
    vendor_plugin: dict[str, str] = field(default_factory=dict)
    _by_alias: dict[str, str] = field(default_factory=dict)
    _by_path: dict[str, Vendor] = field(default_factory=dict)
    #: Delivery kinds plugins registered (``register_delivery_kinds``), by name.
    delivery_kinds: dict[str, Any] = field(default_factory=dict)
    delivery_kind_plugin: dict[str, str] = field(default_factory=dict)
    #: User contact method types plugins registered (``register_contact_method_types``).
    contact_types: dict[str, ContactMethodType] = field(default_factory=dict)
    contact_type_plugin: dict[str, str] = field(default_factory=dict)

    def vendor(self, ref: str) -> Vendor | None:
        """Find a vendor by id, name or alias (case-insensitive for names)."""
        if ref in self.vendors:
            return self.vendors[ref]
        vendor_id = self._by_alias.get(ref.strip().lower())
        return self.vendors.get(vendor_id) if vendor_id else None

    def vendor_for_path(self, path: str) -> Vendor | None:
        """The vendor serving an exact inbound path such as ``/v2/enqueue``."""
        return self._by_path.get(path)

    def vendor_for(self, integration: Integration) -> Vendor | None:
        """The vendor that parses events for ``integration``: its own, else its type's.

        The one answer to "which vendor is this integration's": ingest, SMTP, the
        service layer and the REST API all ask here.
        """
        if integration.vendor_id:
            return self.vendor(integration.vendor_id)
        return self.vendor_by_type(integration.type)

    def vendor_by_type(self, integration_type: str) -> Vendor | None:
        """The generic vendor whose integration type is ``integration_type``."""
        for vendor in self.vendors.values():
            if vendor.generic and vendor.integration_type == integration_type:
                return vendor
        return None

    def run_enrichment(self, event: Event, vendor_id: str) -> bool:
        """Apply ``enrich_event`` then ``filter_event``; ``False`` drops the event.

        Implementations run in pluggy's order (the last registered first,
        ``tryfirst``/``trylast`` honoured), each called on its own so that an
        exception is attributed to the plugin that raised it
        (:class:`PluginFailure`). A drop is logged as ``event.filtered``.
        """
        hook = self.manager.hook
        for impl in _in_call_order(hook.enrich_event):
            _call_isolated(impl, "enrich_event", event=event, vendor_id=vendor_id)
        for impl in _in_call_order(hook.filter_event):
            if _call_isolated(impl, "filter_event", event=event, vendor_id=vendor_id) is False:
                log.info(
                    "event.filtered",
                    plugin=impl.plugin_name,
                    vendor=vendor_id,
                    event_action=event.event_action,
                    routing_key=redact(event.routing_key),
                    dedup_key=event.dedup_key,
                )
                return False
        return True

    @property
    def has_event_hooks(self) -> bool:
        """Whether any plugin implements ``enrich_event`` or ``filter_event``."""
        hook = self.manager.hook
        return bool(hook.enrich_event.get_hookimpls() or hook.filter_event.get_hookimpls())

    def notify_incident_changes(self, changes: Iterable[IncidentChange]) -> None:
        """Call ``incident_changed`` for each change, in pluggy's order, isolating failures.

        An exception is logged as ``plugin.hook_failed`` and the other
        implementations still run: the change is committed already.
        """
        impls = _in_call_order(self.manager.hook.incident_changed)
        if not impls:
            return
        for change in changes:
            for impl in impls:
                try:
                    _call(impl, change=change)
                except Exception:
                    log.exception(
                        "plugin.hook_failed", plugin=impl.plugin_name, hook="incident_changed"
                    )

    def _add_vendor(self, vendor: Vendor, plugin_name: str) -> None:
        if vendor.id in self.vendors:
            raise ConfigError(
                f"vendor {vendor.id} ({vendor.name}) is registered by both "
                f"{self.vendor_plugin[vendor.id]!r} and {plugin_name!r}",
                key="plugins",
            )
        self.vendors[vendor.id] = vendor
        self.vendor_plugin[vendor.id] = plugin_name
        for alias in (vendor.name, *vendor.aliases):
            self._by_alias.setdefault(alias.strip().lower(), vendor.id)
        for path in vendor.paths:
            if path in self._by_path:
                raise ConfigError(
                    f"inbound path {path} is claimed by vendors {self._by_path[path].id} "
                    f"and {vendor.id}",
                    key="plugins",
                )
            self._by_path[path] = vendor


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _in_call_order(caller: pluggy.HookCaller) -> list[pluggy.HookImpl]:
    """A hook's implementations in the order pluggy itself would call them.

    pluggy keeps them sorted for its own loop, which walks the list from the
    end: the last registered first, ``tryfirst`` before and ``trylast`` after
    the others. Calling them one by one (for isolation) must keep that order.
    """
    return list(reversed(caller.get_hookimpls()))


def _call(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one implementation with the arguments it declares (as pluggy does)."""
    return impl.function(*[kwargs[name] for name in impl.argnames])


def _call_isolated(impl: pluggy.HookImpl, hook: str, **kwargs: Any) -> Any:
    """Call one hook implementation, turning its exception into a :class:`PluginFailure`."""
    try:
        return _call(impl, **kwargs)
    except Exception as exc:
        log.exception("plugin.hook_failed", plugin=impl.plugin_name, hook=hook)
        raise PluginFailure(impl.plugin_name, exc) from exc


def _refuse_unsupported(manager: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Refuse hook implementations the gateway cannot honour, naming the plugin and hook.

    The gateway calls each implementation on its own, to attribute a failure
    to its plugin; a ``wrapper=True``/``hookwrapper=True`` generator around
    the other implementations has no place in that loop and would silently
    never run, and an ``async def`` hook would return a coroutine nobody
    awaits. Both are start-up errors instead.
    """
    for caller in manager.get_hookcallers(plugin) or ():
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            if impl.wrapper or impl.hookwrapper:
                kind = "wrapper=True" if impl.wrapper else "hookwrapper=True"
                raise ConfigError(
                    f"plugin {name!r}: hook {caller.name} is marked {kind}; alert-gateway "
                    "calls each implementation on its own and does not support hook "
                    "wrappers (use a plain @hookimpl, with tryfirst/trylast for order)",
                    key="plugins",
                )
            if inspect.iscoroutinefunction(impl.function):
                raise ConfigError(
                    f"plugin {name!r}: hook {caller.name} is an async def; hooks are "
                    "synchronous (do slow work in a task of the plugin's own)",
                    key="plugins",
                )


def load_plugins(
    *,
    block: Iterable[str] = (),
    require: Iterable[str] = (),
    extra: Iterable[tuple[str, object]] = (),
) -> PluginHost:
    """Discover plugins through entry points and build the vendor registry.

    ``block`` names plugins not to load. A plugin that fails to import is
    reported in :attr:`PluginHost.problems` and skipped, unless it is named
    in ``require``, which makes the failure a :class:`ConfigError`.
    ``extra`` registers in-process plugins (tests, embedding) by name.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    host = PluginHost(manager=manager)
    blocked = set(block)
    required = set(require)
    loaded: list[tuple[str, object, str | None, str | None]] = []

    for ep in _entry_points():
        if ep.name in blocked or manager.is_registered(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a third-party import can raise anything
            problem = PluginProblem(ep.name, f"{type(exc).__name__}: {exc}")
            if ep.name in required:
                raise ConfigError(
                    f"required plugin {ep.name!r} failed to load: {problem.error}",
                    key="plugins.require",
                ) from exc
            log.error("plugin.load_failed", plugin=ep.name, error=problem.error)
            host.problems.append(problem)
            continue
        dist = ep.dist
        loaded.append(
            (ep.name, plugin, dist.name if dist else None, dist.version if dist else None)
        )

    for name, plugin in extra:
        loaded.append((name, plugin, None, None))

    missing = required - {name for name, *_ in loaded}
    if missing:
        raise ConfigError(
            f"required plugin(s) not installed: {', '.join(sorted(missing))}",
            key="plugins.require",
        )

    for name, plugin, dist_name, version in loaded:
        try:
            manager.register(plugin, name=name)
        # pluggy refuses a name or object registered twice (ValueError) and an
        # implementation whose arguments are not the hook's (PluginValidationError).
        except (ValueError, pluggy.PluginValidationError) as exc:
            message = f"plugin {name!r} cannot be registered: {exc}"
            raise ConfigError(message, key="plugins") from exc
        _refuse_unsupported(manager, plugin, name)
        vendors: list[Vendor] = []
        impl = next(
            (i for i in manager.hook.register_vendors.get_hookimpls() if i.plugin_name == name),
            None,
        )
        if impl is not None:
            try:
                returned = impl.function()
            except Exception as exc:  # a plugin's bug stops start-up with its name, not a crash
                log.exception("plugin.hook_failed", plugin=name, hook="register_vendors")
                raise ConfigError(
                    f"plugin {name!r}: register_vendors raised {type(exc).__name__}: {exc}",
                    key="plugins",
                ) from exc
            if not isinstance(returned, list | tuple) or not all(
                isinstance(v, Vendor) for v in returned
            ):
                raise ConfigError(
                    f"plugin {name!r}: register_vendors must return a list of Vendor",
                    key="plugins",
                )
            vendors = list(returned)
        for vendor in vendors:
            host._add_vendor(vendor, name)
        _add_delivery_kinds(host, name)
        _add_contact_types(host, name)
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        host.plugins.append(
            PluginInfo(name, module, dist_name, version, tuple(v.id for v in vendors))
        )
        log.debug("plugin.loaded", plugin=name, distribution=dist_name, version=version)
    return host


#: What a delivery kind must have (gateway.outbound.kinds.DeliveryKind), checked at start-up.
_KIND_ATTRIBUTES = ("name", "policy", "max_pending", "drop_on_overflow", "send", "settled")


def _registered(host: PluginHost, name: str, hook: str) -> list[Any] | tuple[Any, ...] | None:
    """What one plugin's registration ``hook`` returned (``None``: it does not implement it).

    A registration hook that raises or returns something other than a list stops the
    start with a :class:`ConfigError` naming the plugin and the hook.
    """
    impl = next(
        (i for i in getattr(host.manager.hook, hook).get_hookimpls() if i.plugin_name == name),
        None,
    )
    if impl is None:
        return None
    try:
        returned = impl.function()
    except Exception as exc:
        log.exception("plugin.hook_failed", plugin=name, hook=hook)
        raise ConfigError(
            f"plugin {name!r}: {hook} raised {type(exc).__name__}: {exc}", key="plugins"
        ) from exc
    if not isinstance(returned, list | tuple):
        raise ConfigError(f"plugin {name!r}: {hook} must return a list", key="plugins")
    return returned


def _add_delivery_kinds(host: PluginHost, name: str) -> None:
    """Collect one plugin's ``register_delivery_kinds``, refusing a malformed or clashing kind."""
    for kind in _registered(host, name, "register_delivery_kinds") or ():
        missing_parts = [a for a in _KIND_ATTRIBUTES if not hasattr(kind, a)]
        if missing_parts or not inspect.iscoroutinefunction(kind.send):
            lacking = ", ".join(missing_parts) or "an async send"
            raise ConfigError(
                f"plugin {name!r}: a delivery kind lacks {lacking}",
                key="plugins",
            )
        if kind.name in host.delivery_kinds:
            raise ConfigError(
                f"delivery kind {kind.name!r} is registered by both "
                f"{host.delivery_kind_plugin[kind.name]!r} and {name!r}",
                key="plugins",
            )
        host.delivery_kinds[kind.name] = kind
        host.delivery_kind_plugin[kind.name] = name


#: Contact method types the gateway delivers itself; a plugin may not register them again.
BUILT_IN_CONTACT_TYPES = frozenset({"email_contact_method"})


def _add_contact_types(host: PluginHost, name: str) -> None:
    """Collect one plugin's ``register_contact_method_types``, refusing a bad or clashing type."""
    returned = _registered(host, name, "register_contact_method_types") or ()
    if not all(isinstance(t, ContactMethodType) for t in returned):
        raise ConfigError(
            f"plugin {name!r}: register_contact_method_types must return a list of "
            "ContactMethodType",
            key="plugins",
        )
    for kind in returned:
        if kind.name in BUILT_IN_CONTACT_TYPES:
            raise ConfigError(
                f"plugin {name!r}: contact method type {kind.name!r} is built in", key="plugins"
            )
        if kind.name in host.contact_types:
            raise ConfigError(
                f"contact method type {kind.name!r} is registered by both "
                f"{host.contact_type_plugin[kind.name]!r} and {name!r}",
                key="plugins",
            )
        host.contact_types[kind.name] = kind
        host.contact_type_plugin[kind.name] = name


def import_plugin(dotted: str) -> object:
    """Import a plugin module by dotted name (for ``[plugins] modules`` in config)."""
    return importlib.import_module(dotted)
