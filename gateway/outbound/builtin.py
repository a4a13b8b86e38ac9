"""The delivery kinds the gateway itself provides, built from its settings.

Each built-in kind's module adds itself to :func:`builtin_kinds`; plugins' kinds come
through the ``register_delivery_kinds`` hook (:attr:`gateway.plugins.PluginHost.delivery_kinds`)
and the daemon hands both to :func:`gateway.outbound.engine.serve_outbox`.
"""

from __future__ import annotations

from gateway.config import Settings
from gateway.outbound.email_notify import email_kind
from gateway.outbound.forward import forward_kind
from gateway.outbound.kinds import DeliveryKind
from gateway.outbound.webhooks import WebhookKind


def builtin_kinds(settings: Settings) -> list[DeliveryKind]:
    """The built-in delivery kinds (webhook subscriptions, forwarding and email
    notifications add theirs here)."""
    return [
        forward_kind(settings.forwarding),
        WebhookKind(),
        email_kind(settings.notifications.smtp),
    ]
