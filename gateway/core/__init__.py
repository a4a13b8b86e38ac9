"""The core: routing, service rules, dedup, alerts → incidents. No vendor knowledge here.

The domain layer's modules, one aggregate each: :mod:`~gateway.core.services`,
:mod:`~gateway.core.integrations` (with :mod:`~gateway.core.moves` and
:mod:`~gateway.core.inputs`),
:mod:`~gateway.core.incidents` and :mod:`~gateway.core.incident_reads`,
:mod:`~gateway.core.maintenance`, :mod:`~gateway.core.tokens`, and
:mod:`~gateway.core.provision` (the configuration, through the same functions).
Their refusals are the one tree in :mod:`gateway.errors`.
"""

from gateway.core.ingest import Ingest
from gateway.core.provision import CreatedIntegration, provision
from gateway.core.rules import apply_event

# Registers the webhook producers with the outbox (every process that writes needs them).
from gateway.core import webhook_events  # noqa: F401  isort: skip

# Registers the incident timers' kinds and their producer (the CLI's writes schedule too).
from gateway.core import incident_expiry  # noqa: F401  isort: skip

__all__ = ["CreatedIntegration", "Ingest", "apply_event", "provision"]
