"""The core: routing, service rules, dedup, alerts → incidents. No vendor knowledge here."""

from gateway.core.ingest import Ingest
from gateway.core.provision import CreatedIntegration, provision
from gateway.core.rules import apply_event

__all__ = ["CreatedIntegration", "Ingest", "apply_event", "provision"]
