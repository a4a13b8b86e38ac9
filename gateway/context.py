"""What every request handler (HTTP, SMTP) needs from the running daemon."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config import Settings
from gateway.core import Ingest
from gateway.core.ratelimit import RateLimiter
from gateway.metrics import Metrics
from gateway.plugins import PluginHost
from gateway.store import Store


@dataclass
class GatewayContext:
    """The daemon's shared state. ``settings`` and ``limiter`` change on reload (SIGHUP)."""

    settings: Settings
    store: Store
    plugins: PluginHost
    ingest: Ingest
    metrics: Metrics = field(default_factory=Metrics)
    #: The web UI's cookie-signing key when the database holds it (PostgreSQL: shared by
    #: every node); ``None``: a file beside the SQLite database.
    ui_secret: bytes | None = None

    @property
    def limiter(self) -> RateLimiter | None:
        """The ``[rate_limit]`` in force; the ingest pipeline applies it."""
        return self.ingest.limiter

    def apply_settings(self, settings: Settings) -> None:
        """Adopt new settings: the rate limit is rebuilt only when it changed."""
        per_minute = settings.rate_limit.events_per_minute
        current = self.ingest.limiter
        if per_minute <= 0:
            self.ingest.limiter = None
        elif current is None or current.per_minute != per_minute:
            self.ingest.limiter = RateLimiter(per_minute)
        self.settings = settings
